/**
 * P3 scale: 1,000,000 volumes (quick: 50,000) bulk-loaded straight into a SQLite store with the real
 * schema, then a real `polly server` child process on it: GET /v1/volumes/{id} p99, list page of 100 p99
 * (first page, and deep cursors in the second half), and the server's VmRSS after load. Goals: < 2 ms,
 * < 20 ms, < 300 MB. References, measured in the same run: the same queries run raw on the same file
 * with better-sqlite3 (what the database itself needs), and the RSS of the same server on an empty store.
 * Latencies are client-observed over HTTP (one request at a time on a kept-alive connection).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Pool } from 'undici';
import { encodeCursor } from '../src/store/repos/cursor.js';
import { Store } from '../src/store/store.js';
import { FAKE_POOL } from './control-plane.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, msSince, quantile, ratioOf } from './harness.js';
import { BENCH_SERVICE, BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

export interface ScaleOptions {
  quick: boolean;
  /** Overrides for the smoke test. */
  volumes?: number;
  iterations?: { get: number; list: number };
}

const BATCH = 20_000;
const VOLUME_BYTES = GiB;

const POOLS_CONFIG = [{ name: FAKE_POOL, driver: 'fake', parameters: { capacityBytes: String(2 ** 52), latencyMs: '0' } }];

/**
 * Writes `count` available volumes of the bench service (one `app` label each, with its tag row) into the
 * store at `file`, in id order as Polly would have made them over time, and sets the pool's counters.
 * Returns the ids, sorted.
 */
export async function bulkLoad(file: string, count: number, progress: (m: string) => void): Promise<string[]> {
  const store = await Store.open({ url: `sqlite:${file}` });
  await store.close();
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    // Loading only: the server reopens the file with its own (durable) settings.
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = ON');
    const start = Date.now() - count * 10;
    const at = new Date(start).toISOString();
    db.prepare(`insert into services (name, labels, created_at) values (?, '{}', ?)`).run(BENCH_SERVICE, at);
    db.prepare(
      `insert into pools (name, driver, parameters, labels, topology, state, over_subscription_ratio, reserved_percent, allocated_bytes, volume_count, created_at)
       values (?, 'fake', ?, '{}', '{}', 'enabled', 1, 0, ?, ?, ?)`,
    ).run(FAKE_POOL, JSON.stringify(POOLS_CONFIG[0]!.parameters), count * VOLUME_BYTES, count, at);
    const insertVolume = db.prepare(
      `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields, backend_id, source_kind, source_id, created_at, updated_at)
       values (?, ?, ?, ?, 'default', ?, 'available', null, ?, '{}', ?, null, null, ?, ?)`,
    );
    const insertTag = db.prepare(`insert into volume_tags (volume_id, kind, key, value) values (?, 'label', 'app', ?)`);
    const ids: string[] = new Array<string>(count);
    const batch = db.transaction((from: number, to: number) => {
      const random = randomBytes(8 * (to - from)).toString('hex');
      for (let i = from; i < to; i++) {
        // newId('vol'): 12 hex digits of milliseconds, then 16 of randomness; 10 ms apart keeps them in order.
        const ms = start + i * 10;
        const id = `vol-${ms.toString(16).padStart(12, '0')}${random.slice((i - from) * 16, (i - from + 1) * 16)}`;
        const created = new Date(ms).toISOString();
        const app = `app-${i % 100}`;
        insertVolume.run(id, `v-${String(i).padStart(7, '0')}`, BENCH_SERVICE, FAKE_POOL, VOLUME_BYTES, `{"app":"${app}"}`, id, created, created);
        insertTag.run(id, app);
        ids[i] = id;
      }
    });
    const t0 = Date.now();
    for (let from = 0; from < count; from += BATCH) {
      batch(from, Math.min(count, from + BATCH));
      if ((from / BATCH) % 10 === 9) progress(`… loaded ${(from + BATCH).toLocaleString('en-US')} volumes`);
    }
    // Per-service usage counters (0002-scheduling), kept like Polly keeps them, where the schema has them.
    const hasUsage = db.prepare(`select 1 from sqlite_master where type = 'table' and name = 'service_usage'`).get() !== undefined;
    if (hasUsage) {
      db.prepare(
        `insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes) values (?, 'default', ?, ?, 0, 0)
         on conflict (service, profile) do update set volumes = excluded.volumes, bytes = excluded.bytes`,
      ).run(BENCH_SERVICE, count, count * VOLUME_BYTES);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    progress(`loaded ${count.toLocaleString('en-US')} volumes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return ids;
  } finally {
    db.close();
  }
}

function pick<T>(items: readonly T[], from: number, to: number): T {
  return items[from + Math.floor(Math.random() * (to - from))]!;
}

/** The same queries the server runs (as Kysely builds them), straight on the file: the database's own cost. */
function rawQueryTimes(file: string, ids: string[], n: { get: number; list: number }): { get: number[]; first: number[]; deep: number[] } {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const get = db.prepare('select * from "volumes" where "id" = ?');
    const first = db.prepare('select "volumes".* from "volumes" where "volumes"."service" = ? order by "volumes"."id" limit ?');
    const deep = db.prepare('select "volumes".* from "volumes" where "volumes"."service" = ? and "volumes"."id" > ? order by "volumes"."id" limit ?');
    const half = Math.floor(ids.length / 2);
    const time = (fn: () => unknown, count: number) => {
      for (let i = 0; i < Math.min(50, count); i++) fn();
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const t = process.hrtime.bigint();
        fn();
        out.push(msSince(t));
      }
      return out;
    };
    return {
      get: time(() => get.get(pick(ids, 0, ids.length)), n.get),
      first: time(() => first.all(BENCH_SERVICE, 101), n.list),
      deep: time(() => deep.all(BENCH_SERVICE, pick(ids, half, Math.max(half + 1, ids.length - 101)), 101), n.list),
    };
  } finally {
    db.close();
  }
}

async function timeRequests(client: Pool, paths: () => string, count: number, warmup: number): Promise<number[]> {
  const headers = { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` };
  const out: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const path = paths();
    const t = process.hrtime.bigint();
    const res = await client.request({ path, method: 'GET', headers });
    const body = await res.body.text();
    const ms = msSince(t);
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`);
    if (i >= warmup) out.push(ms);
  }
  return out;
}

/** Run-queue wait of a process so far, in ms (/proc/<pid>/schedstat: time runnable but not running). */
export function runQueueWaitMs(pid: number | 'self'): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ')[1]) / 1e6;
}

/**
 * GET by id and GET /healthz (the floor: the same server, connection and client, but no authentication,
 * no store and a tiny body) alternately, so that both see the same moments of the machine.
 */
export async function timeGetWithFloor(client: Pool, ids: string[], count: number, warmup: number): Promise<{ gets: number[]; floor: number[] }> {
  const gets: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const [get] = await timeRequests(client, () => `/v1/volumes/${pick(ids, 0, ids.length)}`, 1, 0);
    const [noop] = await timeRequests(client, () => '/healthz', 1, 0);
    if (i >= warmup) {
      gets.push(get!);
      floor.push(noop!);
    }
  }
  return { gets, floor };
}

export async function runScaleBench(ctx: BenchContext, opts: ScaleOptions): Promise<BenchRow[]> {
  const count = opts.volumes ?? (opts.quick ? 50_000 : 1_000_000);
  const n = opts.iterations ?? (opts.quick ? { get: 1_000, list: 300 } : { get: 5_000, list: 1_000 });
  const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-scale-'));
  const emptyDir = mkdtempSync(join(tmpdir(), 'polly-bench-empty-'));
  let server;
  let client: Pool | undefined;
  try {
    // Reference for memory: the same server on an empty store, after the same kind of start.
    ctx.progress('reference: RSS of a server on an empty store');
    const empty = await startPollyProcess({ dataDir: emptyDir, config: { pools: POOLS_CONFIG } });
    let emptyRss: number;
    try {
      const c = new Pool(empty.url, { connections: 1 });
      try {
        await timeRequests(c, () => '/v1/volumes?limit=100', 50, 0);
      } finally {
        await c.close();
      }
      emptyRss = empty.rssBytes();
    } finally {
      await empty.stop();
    }

    ctx.progress(`bulk-loading ${count.toLocaleString('en-US')} volumes into SQLite`);
    const file = join(dataDir, 'polly.db');
    const ids = await bulkLoad(file, count, ctx.progress);
    ctx.progress('reference: the same queries raw on the file (better-sqlite3)');
    const raw = rawQueryTimes(file, ids, n);

    ctx.progress('starting polly server on the loaded store');
    const t0 = Date.now();
    server = await startPollyProcess({ dataDir, config: { pools: POOLS_CONFIG } });
    const startSeconds = (Date.now() - t0) / 1000;
    const rssAfterStart = server.rssBytes();
    client = new Pool(server.url, { connections: 1, keepAliveTimeout: 60_000 });
    const half = Math.floor(count / 2);
    ctx.progress(`GET by id × ${n.get}, alternating with GET /healthz (the floor)`);
    const waited = { server: runQueueWaitMs(server.pid), client: runQueueWaitMs('self'), at: Date.now() };
    const { gets, floor } = await timeGetWithFloor(client, ids, n.get, 200);
    const getWindow = {
      seconds: (Date.now() - waited.at) / 1000,
      serverRunQueueWaitMs: Math.round(runQueueWaitMs(server.pid) - waited.server),
      clientRunQueueWaitMs: Math.round(runQueueWaitMs('self') - waited.client),
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    ctx.progress(`list first page × ${n.list}`);
    const firsts = await timeRequests(client, () => '/v1/volumes?limit=100', n.list, 50);
    ctx.progress(`list deep pages × ${n.list}`);
    const deeps = await timeRequests(
      client,
      () => `/v1/volumes?limit=100&cursor=${encodeCursor(pick(ids, half, Math.max(half + 1, count - 101)))}`,
      n.list,
      50,
    );
    const rss = server.rssBytes();
    const peak = server.peakRssBytes();

    const params = { volumes: count, labelsPerVolume: 1, caller: 'service token', sequentialRequests: true, serverStartSeconds: startSeconds };
    const row = (name: string, polly: number[], reference: number[], goalMs: number | null): BenchRow => {
      const p99 = quantile(polly, 0.99);
      const ref = quantile(reference, 0.99);
      return {
        name,
        polly: p99,
        reference: ref,
        ratio: ratioOf(p99, ref),
        goal: goalMs === null ? 'informational' : `p99 < ${goalMs} ms`,
        unit: 'ms',
        pass: goalMs === null ? null : p99 < goalMs,
        params: { ...params, samples: polly.length, p50: quantile(polly, 0.5), p90: quantile(polly, 0.9), referenceP50: quantile(reference, 0.5), reference: 'the same query raw on the file (better-sqlite3, in process)' },
      };
    };
    const getRow = row(`P3 GET volume by id p99 @${count.toLocaleString('en-US')}`, gets, raw.get, 2);
    getRow.params = { ...getRow.params, floorP50: quantile(floor, 0.5), floorP90: quantile(floor, 0.9), floorP99: quantile(floor, 0.99), ...getWindow };
    return [
      getRow,
      {
        name: `P3 floor: GET /healthz p99, same run`,
        polly: quantile(floor, 0.99),
        reference: quantile(gets, 0.99),
        ratio: ratioOf(quantile(floor, 0.99), quantile(gets, 0.99)),
        goal: 'informational',
        unit: 'ms',
        pass: null,
        params: {
          ...params,
          samples: floor.length,
          p50: quantile(floor, 0.5),
          p90: quantile(floor, 0.9),
          measured: 'GET /healthz on the same server and connection, alternating with the GETs by id: HTTP, the event loop and the machine without the route (no authentication, no store)',
          reference: 'the GET by id p99 of the same run (ratio near 1: the machine, not the route, sets the tail)',
          ...getWindow,
        },
      },
      row(`P3 list 100, first page p99 @${count.toLocaleString('en-US')}`, firsts, raw.first, 20),
      row(`P3 list 100, deep cursor p99 @${count.toLocaleString('en-US')}`, deeps, raw.deep, 20),
      {
        name: `P3 server RSS after load @${count.toLocaleString('en-US')}`,
        polly: rss / 1e6,
        reference: emptyRss / 1e6,
        ratio: ratioOf(rss, emptyRss),
        goal: '< 300 MB',
        unit: 'MB',
        pass: rss < 300e6,
        params: {
          ...params,
          measured: 'VmRSS of the `node bin/polly.js server` child process after the GET and list runs',
          rssAfterStartMB: rssAfterStart / 1e6,
          peakRssMB: peak / 1e6,
          reference: 'VmRSS of the same server on an empty store',
        },
      },
    ];
  } finally {
    await client?.close().catch(() => undefined);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  }
}

export const scaleBenchmark: Benchmark = {
  id: 'P3',
  name: 'scale',
  title: 'scale (bulk-loaded SQLite store)',
  run: (ctx) => runScaleBench(ctx, { quick: ctx.quick }),
};
