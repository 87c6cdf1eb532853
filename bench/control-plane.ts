/**
 * Shared by P1 (SQLite) and P8 (PostgreSQL): the create+delete load over real HTTP against a `polly
 * server` child process with a zero-latency `fake` pool, and the interleaving of Polly with its reference.
 *
 * This machine is shared and its disk is noisy (the commit rate can change several-fold within seconds),
 * so Polly and the reference are measured in alternating slices (reference, Polly, reference, Polly, …)
 * and each side's rate is its total over all of its slices: both see the same weather.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { type BenchContext, type BenchRow, msSince, ratioOf, sleep, summarize } from './harness.js';
import { summarizeProfiles } from './profile.js';
import { BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

export const FAKE_POOL = 'mem';
export const VOLUME_BYTES = 1024 * 1024;

/** What one measured slice of a workload did. */
export interface Slice {
  pairs: number;
  seconds: number;
  /** Per-pair latency in ms (HTTP load only). */
  latencies: number[];
  errors: number;
  firstError: string | undefined;
}

/** A workload that can be run for a while, paused, and run again. */
export interface SlicedLoad {
  measure(ms: number): Promise<Slice>;
  close(): Promise<void>;
}

/**
 * `concurrency` async workers, each calling `pair(worker, seq)` back to back while a slice runs. Between
 * slices a worker parks before its next pair, so a slice ends once the pairs in flight have drained
 * (those are not counted). A pair that throws counts as an error.
 */
export function slicedWorkers(concurrency: number, pair: (worker: number, seq: number) => Promise<void>, onClose?: () => Promise<void>): SlicedLoad {
  let stopped = false;
  let paused = true;
  let parked = 0;
  let window: Slice | undefined;
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => (release = r));
  let onAllParked: (() => void) | undefined;

  const worker = async (n: number) => {
    let seq = 0;
    while (!stopped) {
      if (paused) {
        parked++;
        if (parked === concurrency) onAllParked?.();
        await gate;
        parked--;
        continue;
      }
      const started = process.hrtime.bigint();
      try {
        await pair(n, seq++);
      } catch (err) {
        if (window) {
          window.errors++;
          window.firstError ??= (err as Error).message;
        }
        await sleep(10);
        continue;
      }
      // A pair counts when it finishes inside the measured window.
      if (window) {
        window.pairs++;
        window.latencies.push(msSince(started));
      }
    }
  };
  const workers = Array.from({ length: concurrency }, (_, n) => worker(n));

  return {
    async measure(ms) {
      const slice: Slice = { pairs: 0, seconds: 0, latencies: [], errors: 0, firstError: undefined };
      const allParked = new Promise<void>((r) => (onAllParked = r));
      const open = release;
      gate = new Promise<void>((r) => (release = r));
      paused = false;
      window = slice;
      const t0 = process.hrtime.bigint();
      open();
      await sleep(ms);
      slice.seconds = msSince(t0) / 1000;
      window = undefined;
      paused = true;
      await allParked;
      return slice;
    },
    async close() {
      stopped = true;
      paused = false;
      release();
      await Promise.allSettled(workers);
      await onClose?.();
    },
  };
}

/** Volume create + delete over real HTTP: one undici Pool with a connection per worker. */
export function httpCreateDeleteLoad(url: string, opts: { concurrency: number; token?: string }): SlicedLoad {
  const token = opts.token ?? BENCH_SERVICE_TOKEN;
  const client = new Pool(url, { connections: opts.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const delHeaders = { authorization: `Bearer ${token}` };
  const run = randomBytes(3).toString('hex');
  return slicedWorkers(
    opts.concurrency,
    async (n, seq) => {
      const created = await client.request({
        path: '/v1/volumes',
        method: 'POST',
        headers,
        body: JSON.stringify({ name: `b${run}-${n}-${seq}`, sizeBytes: VOLUME_BYTES }),
      });
      const text = await created.body.text();
      if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${text.slice(0, 200)}`);
      const id = (JSON.parse(text) as { id: string }).id;
      const deleted = await client.request({ path: `/v1/volumes/${id}`, method: 'DELETE', headers: delHeaders });
      const dtext = await deleted.body.text();
      if (deleted.statusCode !== 204) throw new Error(`delete: ${deleted.statusCode} ${dtext.slice(0, 200)}`);
    },
    () => client.close(),
  );
}

export interface Interleaved {
  polly: Slice;
  /** CPU seconds the server used during Polly's slices (undefined when not known). */
  pollyCpuSeconds: number | undefined;
  pollyRate: number;
  referenceRate: number;
  pollySlices: number[];
  referenceSlices: number[];
}

/** Warm-up, then `rounds` × (reference slice, Polly slice), alternating which goes first. */
export async function interleave(
  ctx: BenchContext,
  polly: SlicedLoad,
  reference: SlicedLoad,
  opts: { rounds: number; pollyMs: number; referenceMs: number; warmupMs: number; pollyCpu?: () => number },
): Promise<Interleaved> {
  ctx.progress(`warm-up ${opts.warmupMs / 1000} s each`);
  await reference.measure(Math.min(opts.warmupMs, 1_000));
  await polly.measure(opts.warmupMs);
  const total: Slice = { pairs: 0, seconds: 0, latencies: [], errors: 0, firstError: undefined };
  let refPairs = 0;
  let refSeconds = 0;
  let cpu = 0;
  const pollySlices: number[] = [];
  const referenceSlices: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const steps = r % 2 === 0 ? (['reference', 'polly'] as const) : (['polly', 'reference'] as const);
    for (const step of steps) {
      if (step === 'reference') {
        const s = await reference.measure(opts.referenceMs);
        refPairs += s.pairs;
        refSeconds += s.seconds;
        referenceSlices.push(s.pairs / s.seconds);
      } else {
        const cpu0 = opts.pollyCpu?.() ?? 0;
        const s = await polly.measure(opts.pollyMs);
        cpu += (opts.pollyCpu?.() ?? 0) - cpu0;
        total.pairs += s.pairs;
        total.seconds += s.seconds;
        total.errors += s.errors;
        total.firstError ??= s.firstError;
        for (const l of s.latencies) total.latencies.push(l);
        pollySlices.push(s.pairs / s.seconds);
      }
    }
    ctx.progress(`round ${r + 1}/${opts.rounds}: Polly ${pollySlices.at(-1)!.toFixed(0)} pairs/s, reference ${referenceSlices.at(-1)!.toFixed(0)} pairs/s`);
  }
  return {
    polly: total,
    pollyCpuSeconds: opts.pollyCpu === undefined ? undefined : cpu,
    pollyRate: total.pairs / total.seconds,
    referenceRate: refPairs / refSeconds,
    pollySlices,
    referenceSlices,
  };
}

export interface ControlPlaneRun {
  rounds: number;
  pollyMs: number;
  referenceMs: number;
  warmupMs: number;
}

/**
 * Starts a fresh `polly server` (with the given store), opens the reference, interleaves them, and stops
 * and removes everything, even on failure. With `ctx.profileDir`, the server runs under --cpu-prof and a
 * summary of where it spent CPU time is printed.
 */
export async function measureAgainstReference(
  ctx: BenchContext,
  label: string,
  opts: ControlPlaneRun & { databaseUrl?: string; concurrency: number; openReference: () => Promise<SlicedLoad> },
): Promise<Interleaved & { profile: string | undefined; perPair: StoreCost }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-'));
  let server;
  let load: SlicedLoad | undefined;
  let reference: SlicedLoad | undefined;
  try {
    const profileDir = ctx.profileDir === undefined ? undefined : join(ctx.profileDir, label);
    const spawned = Date.now();
    server = await startPollyProcess({
      dataDir,
      config: {
        ...(opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : {}),
        pools: [{ name: FAKE_POOL, driver: 'fake', parameters: { capacityBytes: String(2 ** 50), latencyMs: '0' } }],
      },
      nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    });
    ctx.progress(
      `server pid ${server.pid}; ${opts.concurrency} connections; ${opts.rounds} rounds of ${opts.referenceMs / 1000} s reference + ${opts.pollyMs / 1000} s Polly`,
    );
    const startupMs = Date.now() - spawned;
    reference = await opts.openReference();
    load = httpCreateDeleteLoad(server.url, { concurrency: opts.concurrency });
    const proc = server;
    const result = await interleave(ctx, load, reference, { ...opts, pollyCpu: () => proc.cpuSeconds() });
    const perPair = await storeCostPerPair(server.url);
    ctx.progress(`store cost per create+delete pair: ${perPair.statements} statements, ${perPair.transactions} transactions, ${perPair.roundTrips} round trips`);
    await load.close();
    load = undefined;
    await server.stop();
    server = undefined;
    const profile = profileDir === undefined ? undefined : summarizeProfiles(profileDir, 25, startupMs);
    if (profile !== undefined) {
      ctx.progress(`CPU profile of the server (${profileDir}; start-up left out; the load ran ${((result.polly.seconds + opts.warmupMs / 1000)).toFixed(0)} s of it):\n${profile}`);
    }
    return { ...result, profile, perPair };
  } finally {
    await load?.close().catch(() => undefined);
    await reference?.close().catch(() => undefined);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The store's work for one create+delete pair, from the server's /metrics counters. */
export interface StoreCost {
  statements: number;
  transactions: number;
  roundTrips: number;
}

/**
 * Reads /metrics, runs 50 sequential create+delete pairs over HTTP, reads /metrics again: the store's
 * statements, transactions and round trips per pair (exact counts, not timings; /metrics itself adds a
 * few statements, which is why it is read only twice).
 */
async function storeCostPerPair(url: string, pairs = 50): Promise<StoreCost> {
  const read = async (): Promise<StoreCost> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
    return { statements: value('polly_store_statements_total'), transactions: value('polly_store_transactions_total'), roundTrips: value('polly_store_round_trips_total') };
  };
  const auth = { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` };
  const run = randomBytes(3).toString('hex');
  const before = await read();
  for (let i = 0; i < pairs; i++) {
    const created = await fetch(`${url}/v1/volumes`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `cost${run}-${i}`, sizeBytes: VOLUME_BYTES }),
    });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };
    const deleted = await fetch(`${url}/v1/volumes/${id}`, { method: 'DELETE', headers: auth });
    if (deleted.status !== 204) throw new Error(`delete: ${deleted.status} ${await deleted.text()}`);
  }
  const after = await read();
  const per = (k: keyof StoreCost) => Math.round(((after[k] - before[k]) / pairs) * 10) / 10;
  return { statements: per('statements'), transactions: per('transactions'), roundTrips: per('roundTrips') };
}

/** The rows P1 and P8 report. */
export function controlPlaneRows(opts: {
  prefix: string;
  result: Interleaved & { perPair?: StoreCost };
  ratioGoal: number;
  opsGoal: number | undefined;
  params: Record<string, unknown>;
}): BenchRow[] {
  const { result, prefix } = opts;
  const polly = result.polly;
  if (polly.pairs === 0) throw new Error(`no create+delete pair succeeded (${polly.errors} errors; first: ${polly.firstError ?? 'none'})`);
  const errorRate = polly.errors / (polly.pairs + polly.errors);
  const params = {
    ...opts.params,
    pairs: polly.pairs,
    seconds: polly.seconds,
    errors: polly.errors,
    ...(polly.firstError ? { firstError: polly.firstError } : {}),
    pollySlices: result.pollySlices,
    referenceSlices: result.referenceSlices,
    ...(result.perPair ? { storeStatementsPerPair: result.perPair.statements, storeTransactionsPerPair: result.perPair.transactions, storeRoundTripsPerPair: result.perPair.roundTrips } : {}),
  };
  // A run where requests failed measured something else than the workload: never a pass.
  const clean = errorRate < 0.001;
  const ratio = ratioOf(result.pollyRate, result.referenceRate);
  const lat = summarize(polly.latencies);
  const rows: BenchRow[] = [
    {
      name: `${prefix} create+delete pairs/s ÷ raw commit rate`,
      polly: result.pollyRate,
      reference: result.referenceRate,
      ratio,
      goal: `ratio ≥ ${opts.ratioGoal}`,
      unit: 'pairs/s',
      pass: clean && ratio !== null && ratio >= opts.ratioGoal,
      params,
    },
  ];
  if (opts.opsGoal !== undefined) {
    const ops = result.pollyRate * 2;
    rows.push({
      name: `${prefix} requests/s (a create or a delete = 1 op)`,
      polly: ops,
      reference: null,
      ratio: null,
      goal: `≥ ${opts.opsGoal.toLocaleString('en-US')} ops/s`,
      unit: 'ops/s',
      pass: clean && ops >= opts.opsGoal,
      params: { concurrency: opts.params.concurrency, pairsPerSecond: result.pollyRate },
    });
  }
  if (result.pollyCpuSeconds !== undefined) {
    const utilisation = result.pollyCpuSeconds / polly.seconds;
    rows.push({
      name: `${prefix} server CPU per pair`,
      polly: (result.pollyCpuSeconds * 1000) / polly.pairs,
      reference: null,
      ratio: null,
      goal: 'informational',
      unit: 'ms',
      pass: null,
      params: {
        cpuSeconds: result.pollyCpuSeconds,
        // Near 1 core: the server is CPU-bound. Well below while throughput is flat: it waits (fsync on the event loop, locks, the database).
        serverCoresBusy: utilisation,
        cpuBoundLimitPairsPerSecond: polly.pairs / result.pollyCpuSeconds,
      },
    });
  }
  rows.push(
    { name: `${prefix} pair latency p50`, polly: lat.p50, reference: null, ratio: null, goal: 'informational', unit: 'ms', pass: null, params: { concurrency: opts.params.concurrency } },
    { name: `${prefix} pair latency p99`, polly: lat.p99, reference: null, ratio: null, goal: 'informational', unit: 'ms', pass: null, params: { concurrency: opts.params.concurrency } },
  );
  return rows;
}
