import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { FailoverError, FailoverTransport } from '../../src/client/failover.js';

/** Per-attempt timeouts of the failover transport, against real sockets. */
const servers: Server[] = [];
const sockets = new Set<Socket>();

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('FailoverTransport attempt timeout', () => {
  it('a server that never answers costs one attempt timeout, even when that outlasts the deadline', async () => {
    const silent = await serve(() => undefined); // reads the request, never answers
    const ok = await serve((_req, res) => json(res, 200, { ok: true }));
    const t = new FailoverTransport({ urls: [silent, ok], deadlineMs: 100, attemptTimeoutMs: 400 });
    const started = Date.now();
    const res = await t.request({ method: 'GET', path: '/x' });
    expect(res.statusCode).toBe(200);
    expect(res.url).toBe(ok);
    expect(res.attempts).toBe(2);
    expect(Date.now() - started).toBeLessThan(20_000); // bounded: not undici's 300 s
    await res.body.dump();
  });

  it('a keyed request slower than the attempt timeout is asked again and waited for while it runs', async () => {
    let finishAt = 0;
    const seen: string[] = [];
    const slow = await serve((req, res) => {
      const key = String(req.headers['idempotency-key']);
      seen.push(key);
      if (seen.length === 1) {
        finishAt = Date.now() + 1_500; // the first attempt runs long; its reply is never read
        return;
      }
      if (Date.now() < finishAt) return json(res, 409, { error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'running' } }, { 'retry-after': '1' });
      json(res, 201, { id: 'vol-1' }, { 'idempotent-replayed': 'true' });
    });
    const t = new FailoverTransport({ urls: [slow], deadlineMs: 200, attemptTimeoutMs: 300, progressDeadlineMs: 10_000 });
    const res = await t.request({ method: 'POST', path: '/v1/volumes', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(201);
    expect(await res.body.json()).toEqual({ id: 'vol-1' });
    // Every attempt carried the one key the transport gave the request.
    expect(new Set(seen).size).toBe(1);
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });

  it('a hung single server is given up on after its re-ask times out too', async () => {
    const silent = await serve(() => undefined);
    const t = new FailoverTransport({ urls: [silent], deadlineMs: 100, attemptTimeoutMs: 300, progressDeadlineMs: 60_000 });
    const started = Date.now();
    const err = await t.request({ method: 'POST', path: '/v1/volumes', body: '{}' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).message).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
