import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from '../../src/agent/server-client.js';
import { PollyClient } from '../../src/cli/client.js';
import { ConnectionError } from '../../src/cli/errors.js';
import { FailoverError, FailoverTransport, splitUrls } from '../../src/client/failover.js';

/** What a test server saw: method, path and the idempotency key of each request. */
interface Seen {
  method: string;
  path: string;
  key: string | undefined;
}

interface TestServer {
  url: string;
  seen: Seen[];
  server: Server;
}

const servers: TestServer[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined });
      handler(req, res, seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const t = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
  servers.push(t);
  return t;
}

/** A port nobody listens on: connections to it are refused. */
async function refusedUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

let ok: TestServer;
let reset: TestServer;
let gateway: TestServer;
let backendFailed: TestServer;
let refused: string;
let refused2: string;

beforeAll(async () => {
  await import('undici'); // loaded once here, so that timings below measure waits, not module loading
  ok = await serve((req, res) => json(res, req.method === 'POST' ? 201 : 200, { from: 'ok' }));
  // Reads the request, then drops the connection without an answer (a replica killed mid-request).
  reset = await serve((req) => req.socket.destroy());
  gateway = await serve((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('Bad Gateway');
  });
  backendFailed = await serve((_req, res) => json(res, 502, { error: { code: 'BACKEND_FAILED', message: 'the backend refused' } }));
  refused = await refusedUrl();
  refused2 = await refusedUrl();
});

afterAll(async () => {
  for (const s of servers) {
    s.server.closeAllConnections();
    await new Promise<void>((r) => s.server.close(() => r()));
  }
});

const since = (t0: number) => Date.now() - t0;

describe('FailoverTransport', () => {
  it('splits URL lists given as commas and repeats', () => {
    expect(splitUrls(['http://a:1/, http://b:2', 'http://a:1', ' '])).toEqual(['http://a:1', 'http://b:2']);
    expect(splitUrls('http://a:1')).toEqual(['http://a:1']);
  });

  it('goes to the next URL at once when a connection is refused, and stays on the one that answered', async () => {
    const before = ok.seen.length;
    // A first wait of 5 s would show: going to the next URL must not wait at all.
    const t = new FailoverTransport({ urls: [refused, ok.url], deadlineMs: 10_000, initialBackoffMs: 5_000 });
    const t0 = Date.now();
    const res = await t.request({ method: 'GET', path: '/v1/x' });
    expect(res.statusCode).toBe(200);
    expect(res.url).toBe(ok.url);
    expect(res.attempts).toBe(2);
    expect(since(t0)).toBeLessThan(2_000);
    await res.body.dump();
    const again = await t.request({ method: 'GET', path: '/v1/y' });
    expect(again.attempts).toBe(1);
    await again.body.dump();
    expect(ok.seen.length - before).toBe(2);
  });

  it('adds an Idempotency-Key to mutating requests without one, and keeps one given', async () => {
    const t = new FailoverTransport({ urls: [ok.url], deadlineMs: 5_000 });
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      await (await t.request({ method, path: '/auto', body: method === 'DELETE' ? undefined : '{}' })).body.dump();
    }
    await (await t.request({ method: 'POST', path: '/given', headers: { 'Idempotency-Key': 'mine-1' }, body: '{}' })).body.dump();
    await (await t.request({ method: 'GET', path: '/get' })).body.dump();
    const keys = ok.seen.filter((s) => ['/auto', '/given', '/get'].includes(s.path)).map((s) => s.key);
    expect(keys.slice(0, 4).every((k) => /^polly-[0-9a-f-]{36}$/.test(k ?? ''))).toBe(true);
    expect(new Set(keys.slice(0, 4)).size).toBe(4);
    expect(keys[4]).toBe('mine-1');
    expect(keys[5]).toBeUndefined();
  });

  it('retries a reset GET and a reset keyed POST on the next URL, with the same key', async () => {
    const t = new FailoverTransport({ urls: [reset.url, ok.url], deadlineMs: 5_000 });
    const get = await t.request({ method: 'GET', path: '/reset-get' });
    expect(get.statusCode).toBe(200);
    await get.body.dump();
    const t2 = new FailoverTransport({ urls: [reset.url, ok.url], deadlineMs: 5_000 });
    const post = await t2.request({ method: 'POST', path: '/reset-post', body: '{"a":1}' });
    expect(post.statusCode).toBe(201);
    expect(post.attempts).toBe(2);
    await post.body.dump();
    const first = reset.seen.find((s) => s.path === '/reset-post');
    const second = ok.seen.find((s) => s.path === '/reset-post');
    expect(first?.key).toMatch(/^polly-/);
    expect(second?.key).toBe(first?.key);
  });

  it('does not retry a reset POST that carries no Idempotency-Key', async () => {
    const t = new FailoverTransport({ urls: [reset.url, ok.url], deadlineMs: 5_000, idempotencyKeys: false });
    const err = await t.request({ method: 'POST', path: '/reset-unkeyed', body: '{}' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).url).toBe(reset.url);
    expect(ok.seen.some((s) => s.path === '/reset-unkeyed')).toBe(false);
  });

  it('retries a 502 from a proxy for safe or keyed requests only', async () => {
    const t = new FailoverTransport({ urls: [gateway.url, ok.url], deadlineMs: 5_000 });
    const get = await t.request({ method: 'GET', path: '/gw-get' });
    expect([get.statusCode, get.url]).toEqual([200, ok.url]);
    await get.body.dump();
    const unkeyed = new FailoverTransport({ urls: [gateway.url, ok.url], deadlineMs: 5_000, idempotencyKeys: false });
    const post = await unkeyed.request({ method: 'POST', path: '/gw-post', body: '{}' });
    expect([post.statusCode, await post.body.text()]).toEqual([502, 'Bad Gateway']);
    expect(ok.seen.some((s) => s.path === '/gw-post')).toBe(false);
  });

  it("keeps Polly's own 502 BACKEND_FAILED as the answer (the storage backend refused)", async () => {
    const t = new FailoverTransport({ urls: [backendFailed.url, ok.url], deadlineMs: 5_000 });
    const res = await t.request({ method: 'POST', path: '/bf', body: '{}' });
    expect(res.statusCode).toBe(502);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('BACKEND_FAILED');
    expect(ok.seen.some((s) => s.path === '/bf')).toBe(false);
  });

  it('asks again after Retry-After while the first attempt is still in progress', async () => {
    const busy = await serve((_req, res, n) =>
      n <= 2 ? json(res, 409, { error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'still running' } }, { 'retry-after': '1' }) : json(res, 201, { done: true }),
    );
    const t = new FailoverTransport({ urls: [busy.url], deadlineMs: 10_000, maxBackoffMs: 200 });
    const res = await t.request({ method: 'POST', path: '/busy', body: '{}' });
    expect(res.statusCode).toBe(201);
    expect(res.attempts).toBe(3);
    expect(new Set(busy.seen.map((s) => s.key)).size).toBe(1);
    await res.body.dump();
  });

  it('waits 100 ms doubling between rounds, and gives up at the deadline', async () => {
    const t = new FailoverTransport({ urls: [refused, refused2], deadlineMs: 1_000 });
    const t0 = Date.now();
    const err = await t.request({ method: 'GET', path: '/' }).catch((e: unknown) => e);
    const took = since(t0);
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).tried).toEqual([refused, refused2]);
    // Rounds at 0, 100, 300, 700 ms, then the deadline (a 800 ms wait cut to 300 ms).
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(1_600);
  });

  it('reports a refused connection at once when it knows one URL only', async () => {
    const t = new FailoverTransport({ urls: [refused], deadlineMs: 10_000, initialBackoffMs: 5_000 });
    const t0 = Date.now();
    await expect(t.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(FailoverError);
    expect(since(t0)).toBeLessThan(2_000);
  });

  it('answers the last 503 when no replica serves before the deadline', async () => {
    const down = await serve((_req, res) => json(res, 503, { error: { code: 'UNAVAILABLE', message: 'store not reachable' } }));
    const t = new FailoverTransport({ urls: [down.url], deadlineMs: 500 });
    const res = await t.request({ method: 'GET', path: '/down' });
    expect(res.statusCode).toBe(503);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    expect(down.seen.length).toBeGreaterThan(1);
  });
});

describe('clients with several server URLs', () => {
  it('the CLI client takes a comma-separated list and fails over', async () => {
    const client = new PollyClient(`${refused},${ok.url}`, 't');
    expect(await client.get<{ from: string }>('/v1/cli')).toEqual({ from: 'ok' });
    expect(client.baseUrl).toBe(ok.url);
    const none = new PollyClient([refused, refused2], 't', { deadlineMs: 300 });
    const err = await none.get('/v1/cli').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).message).toContain('connection refused');
  });

  it("the agent's client takes a comma-separated list and fails over", async () => {
    const client = new ServerClient(`${refused},${reset.url},${ok.url}`, 't');
    try {
      expect(await client.call<{ from: string }>('POST', '/v1/nodes/n1/heartbeat')).toEqual({ from: 'ok' });
    } finally {
      await client.close();
    }
  });
});
