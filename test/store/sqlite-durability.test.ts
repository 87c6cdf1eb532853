import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql, type Transaction } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { insertService, listServices } from '../../src/store/repos/services.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';

const exec = promisify(execFile);

/** SQLite's `synchronous` on the store's one connection: 2 is FULL, 1 is NORMAL. */
async function synchronousOf(ex: Transaction<Database> | TestStore['store']['db']): Promise<number> {
  const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(ex);
  return Number(rows[0]?.synchronous);
}

describe('SQLite commit durability', () => {
  let t: TestStore;
  const at = new Date().toISOString();
  beforeEach(async () => {
    t = await openTestStore('sqlite');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('a deferred transaction commits with synchronous = NORMAL and the connection is FULL again right after', async () => {
    let inside = 0;
    await t.store.transaction(async (trx) => {
      await insertService(trx, { name: 'a', labels: {}, createdAt: at });
      inside = await synchronousOf(trx);
    }, 'deferred');
    // Lowered from its BEGIN to its COMMIT: SQLite changes the mode only outside transactions.
    expect(inside).toBe(1);
    expect(await synchronousOf(t.store.db)).toBe(2);
    expect(t.store.stats.deferredCommits).toBe(1);
    let insideFull = 0;
    await t.store.transaction(async (trx) => {
      await insertService(trx, { name: 'b', labels: {}, createdAt: at });
      insideFull = await synchronousOf(trx);
    });
    expect(insideFull).toBe(2);
    expect(t.store.stats.deferredCommits).toBe(1);
    expect((await listServices(t.store.db)).map((s) => s.name).sort()).toEqual(['a', 'b']);
  });

  it('a batch commits deferred only when every transaction in it asked for that', async () => {
    const batch = (durabilities: Array<'full' | 'deferred'>, prefix: string) =>
      Promise.all(durabilities.map((d, i) => t.store.transaction((trx) => insertService(trx, { name: `${prefix}${i}`, labels: {}, createdAt: at }), d)));
    const commits0 = t.store.stats.commits;
    await batch(['deferred', 'full', 'deferred'], 'mixed');
    expect(t.store.stats.commits - commits0).toBe(1);
    expect(t.store.stats.deferredCommits).toBe(0);
    await batch(['deferred', 'deferred', 'deferred'], 'all');
    expect(t.store.stats.commits - commits0).toBe(2);
    expect(t.store.stats.deferredCommits).toBe(1);
    expect(await synchronousOf(t.store.db)).toBe(2);
    expect(await listServices(t.store.db)).toHaveLength(6);
  });

  it('a deferred batch in which one transaction fails still restores FULL, and the failure stays its own', async () => {
    const results = await Promise.allSettled([
      t.store.transaction((trx) => insertService(trx, { name: 'x', labels: {}, createdAt: at }), 'deferred'),
      t.store.transaction(async () => Promise.reject(new Error('boom')), 'deferred'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await synchronousOf(t.store.db)).toBe(2);
    // A lone deferred transaction that fails never lowered anything.
    await expect(t.store.transaction(async () => Promise.reject(new Error('alone')), 'deferred')).rejects.toThrow('alone');
    expect(await synchronousOf(t.store.db)).toBe(2);
  });
});

describe('SQLite commit durability, counted by the kernel', () => {
  let dir: string;
  let strace = true;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'polly-fsync-'));
    strace = await exec('strace', ['-V']).then(
      () => true,
      () => false,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** fsync + fdatasync calls of a process that commits `n` transactions with `durability`. */
  async function syncsOf(durability: 'full' | 'deferred', n: number): Promise<{ syncs: number; commits: string }> {
    const file = join(dir, `${durability}.db`);
    const { stdout, stderr } = await exec(
      'strace',
      ['-f', '-c', '-e', 'trace=fsync,fdatasync', process.execPath, '--import', 'tsx', join(import.meta.dirname, 'fixtures', 'commit-fsyncs.ts'), file, durability, String(n)],
      { timeout: 60_000 },
    );
    const syncs = [...stderr.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?f(?:data)?sync$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    return { syncs, commits: stdout.trim() };
  }

  it('full commits each wait for the disk; deferred ones do not', async (ctx) => {
    if (!strace) ctx.skip();
    const n = 40;
    const full = await syncsOf('full', n);
    const deferred = await syncsOf('deferred', n);
    // "commits deferred" as the fixture counted them (the migrations' own commits included).
    expect(Number(full.commits.split(' ')[0])).toBeGreaterThanOrEqual(n);
    expect(full.commits.split(' ')[1]).toBe('0');
    expect(deferred.commits.split(' ')[1]).toBe(String(n));
    // Each full COMMIT syncs the log; the deferred run syncs only while the store opens and migrates.
    expect(full.syncs).toBeGreaterThanOrEqual(n);
    expect(deferred.syncs).toBeLessThan(full.syncs - n + 5);
  }, 120_000);
});
