/**
 * P11 scale on PostgreSQL: 1,000,000 volumes (quick: 50,000) bulk-loaded into a fresh database with the
 * real schema (one `insert … select from generate_series` per 100,000 rows), 10,000 of them (quick: 2,000)
 * attached across 100 nodes, then a real `polly server` child process on it:
 * - GET /v1/volumes/{id} p99 and list page of 100 p99 (goals as P3: < 2 ms, < 20 ms), each against the
 *   same query run raw on the database with node-postgres (what the database itself needs);
 * - the server's VmRSS after the reads (goal < 300 MB);
 * - heartbeats: every node heartbeats (POST /v1/nodes/{id}/heartbeat, 100 attachments each) in rounds,
 *   8 at a time; server CPU per heartbeat and heartbeat latency p99.
 * Needs the test PostgreSQL (`bash scripts/pretest.sh`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { encodeCursor } from '../src/store/repos/cursor.js';
import { Store } from '../src/store/store.js';
import { freshPgDatabase, PG_TEST_URL, pgAvailable } from '../test/helpers/pg.js';
import { FAKE_POOL } from './control-plane.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, msSince, quantile, ratioOf, skippedRow } from './harness.js';
import { runQueueWaitMs, timeGetWithFloor } from './scale.js';
import { BENCH_SERVICE, BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

export interface PgScaleOptions {
  quick: boolean;
  volumes?: number;
  attached?: number;
  nodes?: number;
  iterations?: { get: number; list: number; heartbeatRounds: number };
}

const BATCH = 100_000;
const POOLS_CONFIG = [{ name: FAKE_POOL, driver: 'fake', parameters: { capacityBytes: String(2 ** 52), latencyMs: '0' } }];

/** Loads `count` volumes (the first `attached` attached round-robin to `nodes` nodes); returns the ids in order. */
async function bulkLoadPg(url: string, count: number, attached: number, nodes: number, progress: (m: string) => void): Promise<string[]> {
  const store = await Store.open({ url });
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = Date.now();
    const start = Date.now() - count * 10;
    const at = new Date(start).toISOString();
    const leaseUntil = new Date(Date.now() + 3600_000).toISOString();
    await client.query(`insert into services (name, labels, created_at) values ($1, '{}', $2)`, [BENCH_SERVICE, at]);
    await client.query(
      `insert into pools (name, driver, parameters, labels, topology, state, over_subscription_ratio, reserved_percent, allocated_bytes, volume_count, created_at)
       values ($1, 'fake', $2, '{}', '{}', 'enabled', 1, 0, $3, $4, $5)`,
      [FAKE_POOL, JSON.stringify(POOLS_CONFIG[0]!.parameters), count * GiB, count, at],
    );
    const salt = randomBytes(4).toString('hex');
    for (let from = 0; from < count; from += BATCH) {
      const to = Math.min(count, from + BATCH);
      // newId('vol'): 12 hex digits of milliseconds, then 16 of randomness; 10 ms apart keeps them in order.
      await client.query(
        `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields, backend_id, source_kind, source_id, created_at, updated_at)
         select id, 'v-' || lpad(i::text, 7, '0'), $1, $2, 'default', $3, case when i < $4 then 'attached' else 'available' end, null,
                '{"app":"app-' || (i % 100) || '"}', '{}', id, null, null, at, at
         from (select i, 'vol-' || lpad(to_hex($5::bigint + i * 10), 12, '0') || substr(md5(i::text || $6), 1, 16) as id,
                      to_char(to_timestamp(($5::bigint + i * 10) / 1000.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
               from generate_series($7::int, $8::int) i) s`,
        [BENCH_SERVICE, FAKE_POOL, GiB, attached, start, salt, from, to - 1],
      );
      if ((from / BATCH) % 2 === 1 || to === count) progress(`… loaded ${to.toLocaleString('en-US')} volumes`);
    }
    await client.query(`insert into volume_tags (volume_id, kind, key, value) select id, 'label', 'app', labels::json->>'app' from volumes`);
    await client.query(
      `insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes) values ($1, 'default', $2, $3, 0, 0)
       on conflict (service, profile) do update set volumes = excluded.volumes, bytes = excluded.bytes`,
      [BENCH_SERVICE, count, count * GiB],
    );
    const now = new Date().toISOString();
    await client.query(
      `insert into nodes (id, hostname, topology, last_heartbeat_at, created_at, registered_by)
       select 'node-' || n, 'node-' || n || '.bench', '{}', $1, $1, $2 from generate_series(0, $3::int - 1) n`,
      [now, BENCH_SERVICE, nodes],
    );
    // The attached volumes in id order, the same way round-robin over the nodes.
    await client.query(
      `insert into attachments (id, volume_id, service, node, access_mode, read_only, fencing_token, status, exclusive_key, live_key, lease_expires_at, created_at)
       select 'att-' || substr(md5(id), 1, 24), id, $1, 'node-' || ((row_number() over (order by id) - 1) % $2), 'RWO', 0, 1, 'live', id,
              id || '|node-' || ((row_number() over (order by id) - 1) % $2) || '|' || $1, $3, $4
       from volumes where status = 'attached'`,
      [BENCH_SERVICE, nodes, leaseUntil, now],
    );
    await client.query(`insert into volume_fencing (volume_id, token) select volume_id, 1 from attachments`);
    await client.query('analyze');
    const ids = (await client.query<{ id: string }>('select id from volumes order by id')).rows.map((r) => r.id);
    progress(`loaded ${count.toLocaleString('en-US')} volumes (${attached.toLocaleString('en-US')} attached to ${nodes} nodes) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return ids;
  } finally {
    await client.end();
  }
}

function pick<T>(items: readonly T[], from: number, to: number): T {
  return items[from + Math.floor(Math.random() * (to - from))]!;
}

/** The queries the server runs for these reads, raw over one node-postgres connection (prepared). */
async function rawQueryTimes(url: string, ids: string[], n: { get: number; list: number }): Promise<{ get: number[]; first: number[]; deep: number[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const half = Math.floor(ids.length / 2);
    const time = async (q: () => pg.QueryConfig, count: number) => {
      for (let i = 0; i < Math.min(50, count); i++) await client.query(q());
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const t = process.hrtime.bigint();
        await client.query(q());
        out.push(msSince(t));
      }
      return out;
    };
    return {
      get: await time(() => ({ name: 'get', text: 'select * from volumes where id = $1', values: [pick(ids, 0, ids.length)] }), n.get),
      first: await time(() => ({ name: 'first', text: 'select volumes.* from volumes where volumes.service = $1 order by volumes.id limit $2', values: [BENCH_SERVICE, 101] }), n.list),
      deep: await time(
        () => ({
          name: 'deep',
          text: 'select volumes.* from volumes where volumes.service = $1 and volumes.id > $2 order by volumes.id limit $3',
          values: [BENCH_SERVICE, pick(ids, half, Math.max(half + 1, ids.length - 101)), 101],
        }),
        n.list,
      ),
    };
  } finally {
    await client.end();
  }
}

async function timeRequests(client: Pool, request: () => { path: string; method: 'GET' | 'POST' }, count: number, warmup: number): Promise<number[]> {
  const headers = { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` };
  const out: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const { path, method } = request();
    const t = process.hrtime.bigint();
    const res = await client.request({ path, method, headers });
    const body = await res.body.text();
    const ms = msSince(t);
    if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${body.slice(0, 200)}`);
    if (i >= warmup) out.push(ms);
  }
  return out;
}

export async function runPgScaleBench(ctx: BenchContext, opts: PgScaleOptions): Promise<BenchRow[]> {
  const count = opts.volumes ?? (opts.quick ? 50_000 : 1_000_000);
  const attached = opts.attached ?? (opts.quick ? 2_000 : 10_000);
  const nodes = opts.nodes ?? 100;
  const n = opts.iterations ?? (opts.quick ? { get: 1_000, list: 300, heartbeatRounds: 3 } : { get: 5_000, list: 1_000, heartbeatRounds: 10 });
  const at = `@${count.toLocaleString('en-US')}`;
  if (!(await pgAvailable())) {
    const where = PG_TEST_URL.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
    return [skippedRow(`P11 PostgreSQL GET volume by id p99 ${at}`, 'p99 < 2 ms', `PostgreSQL at ${where} is unreachable; run \`bash scripts/pretest.sh\``)];
  }
  const database = await freshPgDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-pgscale-'));
  let server;
  let client: Pool | undefined;
  try {
    ctx.progress(`bulk-loading ${count.toLocaleString('en-US')} volumes into PostgreSQL`);
    const ids = await bulkLoadPg(database.url, count, attached, nodes, ctx.progress);
    ctx.progress('reference: the same queries raw (node-postgres)');
    const raw = await rawQueryTimes(database.url, ids, n);

    ctx.progress('starting polly server on the loaded database');
    const t0 = Date.now();
    server = await startPollyProcess({ dataDir, config: { databaseUrl: database.url, pools: POOLS_CONFIG } });
    const startSeconds = (Date.now() - t0) / 1000;
    client = new Pool(server.url, { connections: 8, keepAliveTimeout: 60_000 });
    const half = Math.floor(count / 2);
    ctx.progress(`GET by id × ${n.get}, alternating with GET /healthz (the floor)`);
    const waited = { server: runQueueWaitMs(server.pid), client: runQueueWaitMs('self'), at: Date.now() };
    const { gets, floor } = await timeGetWithFloor(client, ids, n.get, 200);
    const getWindow = {
      floorP50: quantile(floor, 0.5),
      floorP90: quantile(floor, 0.9),
      floorP99: quantile(floor, 0.99),
      floor: 'GET /healthz on the same server and connection, alternating with the GETs by id (no authentication, no store)',
      seconds: (Date.now() - waited.at) / 1000,
      serverRunQueueWaitMs: Math.round(runQueueWaitMs(server.pid) - waited.server),
      clientRunQueueWaitMs: Math.round(runQueueWaitMs('self') - waited.client),
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    ctx.progress(`list first page × ${n.list}`);
    const firsts = await timeRequests(client, () => ({ path: '/v1/volumes?limit=100', method: 'GET' }), n.list, 50);
    ctx.progress(`list deep pages × ${n.list}`);
    const deeps = await timeRequests(
      client,
      () => ({ path: `/v1/volumes?limit=100&cursor=${encodeCursor(pick(ids, half, Math.max(half + 1, count - 101)))}`, method: 'GET' }),
      n.list,
      50,
    );
    const rss = server.rssBytes();

    // Heartbeats: each round, every node once, 8 in flight (an agent heartbeats every few seconds).
    ctx.progress(`heartbeats: ${n.heartbeatRounds} rounds × ${nodes} nodes (${attached / nodes} attachments each)`);
    const hb = client;
    const beat = (node: number) => timeRequests(hb, () => ({ path: `/v1/nodes/node-${node}/heartbeat`, method: 'POST' }), 1, 0);
    await Promise.all(Array.from({ length: Math.min(8, nodes) }, (_, w) => beat(w))); // warm-up
    const latencies: number[] = [];
    const cpu0 = server.cpuSeconds();
    const hbStart = process.hrtime.bigint();
    for (let r = 0; r < n.heartbeatRounds; r++) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < nodes) latencies.push(...(await beat(next++)));
        }),
      );
    }
    const hbSeconds = msSince(hbStart) / 1000;
    const hbCpu = server.cpuSeconds() - cpu0;
    const beats = latencies.length;

    const params = { volumes: count, attached, nodes, caller: 'service token', serverStartSeconds: startSeconds, store: 'PostgreSQL 15 (fresh database, analyzed after load)' };
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
        params: { ...params, sequentialRequests: true, samples: polly.length, p50: quantile(polly, 0.5), referenceP50: quantile(reference, 0.5), reference: 'the same query raw (node-postgres, prepared, one connection)' },
      };
    };
    const getRow = row(`P11 PostgreSQL GET volume by id p99 ${at}`, gets, raw.get, 2);
    getRow.params = { ...getRow.params, p90: quantile(gets, 0.9), ...getWindow };
    return [
      getRow,
      row(`P11 PostgreSQL list 100, first page p99 ${at}`, firsts, raw.first, 20),
      row(`P11 PostgreSQL list 100, deep cursor p99 ${at}`, deeps, raw.deep, 20),
      {
        name: `P11 PostgreSQL server RSS after load ${at}`,
        polly: rss / 1e6,
        reference: null,
        ratio: null,
        goal: '< 300 MB',
        unit: 'MB',
        pass: rss < 300e6,
        params: { ...params, measured: 'VmRSS of the `node bin/polly.js server` child process after the GET and list runs', peakRssMB: server.peakRssBytes() / 1e6 },
      },
      {
        name: `P11 server CPU per heartbeat (${attached.toLocaleString('en-US')} attached / ${nodes} nodes)`,
        polly: (hbCpu * 1000) / beats,
        reference: null,
        ratio: null,
        goal: 'informational',
        unit: 'ms',
        pass: null,
        params: { ...params, heartbeats: beats, seconds: hbSeconds, heartbeatsPerSecond: beats / hbSeconds, cpuSeconds: hbCpu, attachmentsPerHeartbeat: attached / nodes, inFlight: 8 },
      },
      {
        name: `P11 heartbeat latency p99 (${attached / nodes} attachments each)`,
        polly: quantile(latencies, 0.99),
        reference: null,
        ratio: null,
        goal: 'informational',
        unit: 'ms',
        pass: null,
        params: { ...params, heartbeats: beats, p50: quantile(latencies, 0.5), inFlight: 8 },
      },
    ];
  } finally {
    await client?.close().catch(() => undefined);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  }
}

export const pgScaleBenchmark: Benchmark = {
  id: 'P11',
  name: 'scale-postgres',
  title: 'scale on PostgreSQL (1M volumes, 10k attached across 100 nodes)',
  run: (ctx) => runPgScaleBench(ctx, { quick: ctx.quick }),
};
