import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const ADMIN = 'crash-test-admin-token-0123456789';
let dataDir = '';
const servers: ServerProcess[] = [];

afterAll(async () => {
  for (const s of servers) await s.kill9().catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function call(url: string, method: string, path: string, token: string, body?: unknown) {
  const res = await request(`${url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as any };
}

async function start(): Promise<ServerProcess> {
  const s = await spawnServer({ POLLY_DATA_DIR: dataDir, POLLY_LISTEN: '127.0.0.1:0', POLLY_ADMIN_TOKEN: ADMIN });
  servers.push(s);
  return s;
}

describe('kill -9 and restart on the same data directory', () => {
  it('keeps every acknowledged volume, in a final state, and finishes or rolls back interrupted intents', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'polly-test-crash-'));
    const first = await start();
    expect((await call(first.url, 'POST', '/v1/services', ADMIN, { name: 'crashy' })).status).toBe(201);
    const token = (await call(first.url, 'POST', '/v1/services/crashy/tokens', ADMIN, {})).body.token as string;

    // Create volumes 8 at a time and pull the plug while requests are in flight.
    const acknowledged: string[] = [];
    let n = 0;
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const name = `v${n++}`;
        try {
          const res = await call(first.url, 'POST', '/v1/volumes', token, { name, sizeBytes: 4096 });
          if (res.status === 201) acknowledged.push(res.body.id as string);
        } catch {
          return; // the connection died with the server
        }
        if (acknowledged.length >= 120 && !killed) {
          killed = true;
          await first.kill9();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(acknowledged.length).toBeGreaterThanOrEqual(120);

    // Leave two intents the way a crash would: a create whose backend step never ran, and a delete
    // whose backend step never ran.
    const db = new BetterSqlite3(join(dataDir, 'polly.db'));
    const victim = acknowledged[0] as string;
    const now = new Date().toISOString();
    db.prepare(
      `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields, backend_id, source_kind, source_id, created_at, updated_at)
       values ('vol-000000000000intent0000000001', 'half-made', 'crashy', 'local', 'default', 4096, 'creating', null, '{}', '{}', '', null, null, ?, ?)`,
    ).run(now, now);
    db.prepare(`update pools set allocated_bytes = allocated_bytes + 4096, volume_count = volume_count + 1 where name = 'local'`).run();
    db.prepare(`update volumes set status = 'deleting' where id = ?`).run(victim);
    db.close();
    const poolVolumes = join(dataDir, 'pools', 'local', 'volumes');
    mkdirSync(poolVolumes, { recursive: true });
    expect(existsSync(join(poolVolumes, victim))).toBe(true);

    const second = await start();
    for (const id of acknowledged.slice(1)) {
      const res = await call(second.url, 'GET', `/v1/volumes/${id}`, token);
      expect(res.status, id).toBe(200);
      expect(res.body.status).toBe('available');
      expect(existsSync(join(poolVolumes, id))).toBe(true);
    }
    // The interrupted create was finished, the interrupted delete completed.
    const halfMade = await call(second.url, 'GET', '/v1/volumes/vol-000000000000intent0000000001', token);
    expect(halfMade.status).toBe(200);
    expect(halfMade.body.status).toBe('available');
    expect(existsSync(join(poolVolumes, 'vol-000000000000intent0000000001'))).toBe(true);
    expect((await call(second.url, 'GET', `/v1/volumes/${victim}`, token)).status).toBe(404);
    expect(existsSync(join(poolVolumes, victim))).toBe(false);

    // Nothing is left in a transient state, and the pool's counters match its volumes.
    let cursor: string | null = null;
    let count = 0;
    do {
      const page = await call(second.url, 'GET', `/v1/volumes?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, token);
      for (const v of page.body.items) expect(['available']).toContain(v.status);
      count += page.body.items.length;
      cursor = page.body.nextCursor;
    } while (cursor);
    const pool = await call(second.url, 'GET', '/v1/pools/local', token);
    expect(pool.body.capacity.volumeCount).toBe(count);
    expect(pool.body.capacity.allocatedBytes).toBe(count * 4096);
    expect(await second.stop()).toBe(0);
  });
});
