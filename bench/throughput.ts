/**
 * P1 control-plane throughput: volume create+delete pairs per second through the real REST API (real
 * HTTP, 32 concurrent connections, a zero-latency `fake` pool, SQLite in a temp dir, the server a child
 * process), ÷ the raw durable commit rate of the same SQLite settings (WAL, synchronous=FULL) doing one
 * insert + one delete of a `volumes` row per transaction. Polly and the reference run in alternating
 * slices (see control-plane.ts) because this machine's disk is noisy.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Store } from '../src/store/store.js';
import { type ControlPlaneRun, controlPlaneRows, FAKE_POOL, measureAgainstReference, type Slice, type SlicedLoad, VOLUME_BYTES } from './control-plane.js';
import { type BenchContext, type BenchRow, type Benchmark, msSince } from './harness.js';
import { BENCH_SERVICE } from './server-process.js';

export const CONCURRENCY = 32;

export const QUICK_RUN: ControlPlaneRun = { rounds: 3, referenceMs: 1_000, pollyMs: 2_000, warmupMs: 1_000 };
export const FULL_RUN: ControlPlaneRun = { rounds: 6, referenceMs: 2_000, pollyMs: 4_000, warmupMs: 2_000 };

const INSERT_VOLUME = `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields,
  backend_id, source_kind, source_id, created_at, updated_at) values (?, ?, ?, ?, 'default', ?, 'available', null, '{}', '{}', ?, null, null, ?, ?)`;

/**
 * The raw limit: one insert + one delete of a `volumes` row per transaction, back to back on one
 * connection, on a fresh file with Polly's schema (migrated by Store.open) and the store's pragmas.
 */
export async function openRawSqlite(): Promise<SlicedLoad> {
  const dir = mkdtempSync(join(tmpdir(), 'polly-bench-raw-'));
  let db: BetterSqlite3.Database | undefined;
  try {
    const file = join(dir, 'raw.db');
    const store = await Store.open({ url: `sqlite:${file}` });
    await store.close();
    db = new BetterSqlite3(file);
    // The store's settings, exactly (src/store/store.ts).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const at = new Date().toISOString();
    db.prepare(`insert into services (name, labels, created_at) values (?, '{}', ?)`).run(BENCH_SERVICE, at);
    db.prepare(
      `insert into pools (name, driver, parameters, labels, topology, state, over_subscription_ratio, reserved_percent, allocated_bytes, volume_count, created_at)
       values (?, 'fake', '{}', '{}', '{}', 'enabled', 1, 0, 0, 0, ?)`,
    ).run(FAKE_POOL, at);
    const insert = db.prepare(INSERT_VOLUME);
    const remove = db.prepare('delete from volumes where id = ?');
    const pair = db.transaction((id: string, name: string, now: string) => {
      insert.run(id, name, BENCH_SERVICE, FAKE_POOL, VOLUME_BYTES, id, now, now);
      remove.run(id);
    });
    const prefix = randomBytes(4).toString('hex');
    let n = 0;
    const conn = db;
    return {
      async measure(ms): Promise<Slice> {
        let pairs = 0;
        const start = process.hrtime.bigint();
        while (msSince(start) < ms) {
          const id = `vol-${Date.now().toString(16).padStart(12, '0')}${prefix}${(n++).toString(16).padStart(8, '0')}`;
          pair(id, `raw-${n}`, new Date().toISOString());
          pairs++;
        }
        return { pairs, seconds: msSince(start) / 1000, latencies: [], errors: 0, firstError: undefined };
      },
      async close() {
        conn.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function runThroughputBench(ctx: BenchContext, opts: { quick: boolean; run?: ControlPlaneRun }): Promise<BenchRow[]> {
  const run = opts.run ?? (opts.quick ? QUICK_RUN : FULL_RUN);
  const result = await measureAgainstReference(ctx, 'P1-sqlite', { ...run, concurrency: CONCURRENCY, openReference: openRawSqlite });
  return controlPlaneRows({
    prefix: 'P1 SQLite',
    result,
    ratioGoal: 0.5,
    opsGoal: 2_000,
    params: {
      concurrency: CONCURRENCY,
      store: 'sqlite WAL synchronous=FULL (temp dir)',
      driver: 'fake latencyMs=0',
      server: 'child process: node bin/polly.js server',
      ...run,
      reference: 'better-sqlite3, same pragmas, Polly schema, 1 insert + 1 delete of a volumes row per transaction, 1 connection',
    },
  });
}

export const throughputBenchmark: Benchmark = {
  id: 'P1',
  name: 'throughput',
  title: 'control-plane throughput (SQLite)',
  run: (ctx) => runThroughputBench(ctx, { quick: ctx.quick }),
};
