import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const ADMIN = 'crash-retry-admin-token-0123456789';
let dataDir = '';
const servers: ServerProcess[] = [];

afterAll(async () => {
  for (const s of servers) await s.kill9().catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function call(url: string, method: string, path: string, token: string, body?: unknown, key?: string) {
  const res = await request(`${url}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, headers: res.headers, body: (text ? JSON.parse(text) : null) as any };
}

async function start(): Promise<ServerProcess> {
  const s = await spawnServer({ POLLY_DATA_DIR: dataDir, POLLY_LISTEN: '127.0.0.1:0', POLLY_ADMIN_TOKEN: ADMIN });
  servers.push(s);
  return s;
}

describe('kill -9 during concurrent creates, then retry every unanswered request with its key', () => {
  it('every key gets its volume: the same one for keys answered before the crash, exactly one per key', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'polly-test-crash-retry-'));
    const first = await start();
    expect((await call(first.url, 'POST', '/v1/services', ADMIN, { name: 'retry' })).status).toBe(201);
    const token = (await call(first.url, 'POST', '/v1/services/retry/tokens', ADMIN, {})).body.token as string;

    const answered = new Map<string, string>(); // key → volume id
    const sent: string[] = [];
    let fiveHundreds = 0;
    let n = 0;
    let killed = false;
    const body = (i: number) => ({ name: `crv-${i}`, sizeBytes: 4096, labels: { run: 'crash-retry' } });
    const worker = async () => {
      while (!killed) {
        const i = n++;
        const key = `key-${i}`;
        sent.push(key);
        try {
          const res = await call(first.url, 'POST', '/v1/volumes', token, body(i), key);
          if (res.status >= 500) fiveHundreds++;
          if (res.status === 201) answered.set(key, res.body.id as string);
        } catch {
          return; // the connection died with the server: this request is unanswered
        }
        if (answered.size >= 80 && !killed) {
          killed = true;
          await first.kill9();
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    const unanswered = sent.filter((k) => !answered.has(k));

    const second = await start();
    let gotVolume = 0;
    let inProgress = 0;
    for (const key of sent) {
      const i = Number(key.slice(4));
      let res = await call(second.url, 'POST', '/v1/volumes', token, body(i), key);
      // A retry may be asked to come back (Retry-After); it must not be for long.
      for (let tries = 0; res.status === 409 && res.body.error.code === 'IDEMPOTENCY_IN_PROGRESS' && tries < 10; tries++) {
        inProgress++;
        await new Promise((r) => setTimeout(r, Number(res.headers['retry-after'] ?? 1) * 1000));
        res = await call(second.url, 'POST', '/v1/volumes', token, body(i), key);
      }
      if (res.status >= 500) fiveHundreds++;
      expect(res.status, `${key}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.name).toBe(`crv-${i}`);
      expect(res.body.status).toBe('available');
      const before = answered.get(key);
      if (before !== undefined) expect(res.body.id).toBe(before);
      else gotVolume++;
    }

    // Exactly one volume per key that was sent, nothing else.
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(second.url, 'GET', `/v1/volumes?limit=1000&label=run=crash-retry${cursor ? `&cursor=${cursor}` : ''}`, token);
      names.push(...page.body.items.map((v: { name: string }) => v.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(names.sort()).toEqual(sent.map((k) => `crv-${k.slice(4)}`).sort());

    console.log(
      `crash-retry: ${sent.length} creates sent, ${answered.size} answered before kill -9, ${unanswered.length} keys retried, ` +
        `${gotVolume} of them got their volume, ${inProgress} in-progress answers, ${fiveHundreds} 5xx`,
    );
    expect(gotVolume).toBe(unanswered.length);
    expect(fiveHundreds).toBe(0);
    expect(unanswered.length).toBeGreaterThan(0);
    expect(await second.stop()).toBe(0);
    // Two server starts of a compiled-on-the-fly CLI dominate; on a loaded shared machine they are slow.
  }, 180_000);
});
