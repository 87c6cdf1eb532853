/**
 * Placement benchmark: `place` (never `explain`) over generated pools. Goals: p50 < 1 ms at 10,000
 * pools, growth at most linear (p50 at 10× the pools ≤ ~10× the time), a few tens of ms at 100,000.
 * Called by the bench harness; standalone: `npx tsx -e "import('./bench/placement.ts').then(async (m) =>
 * console.table(await m.runPlacementBench({ quick: true })))"`.
 */
import type { DriverCapabilities } from '../src/core/ports/driver.js';
import type { Labels, Pool, Profile } from '../src/core/types.js';
import { NO_VOLUMES, createScheduler, toCandidate } from '../src/scheduler/index.js';
import type { PlacementRequest, PoolCandidate } from '../src/scheduler/index.js';
import type { BenchRow } from './harness.js';


const GIB = 1024 ** 3;
const ZONES = ['z0', 'z1', 'z2', 'z3', 'z4', 'z5', 'z6', 'z7'];
/** Allowed growth of p50 for 10× the pools: linear, with a margin for timer noise on a shared machine. */
const MAX_GROWTH = 12;

export async function runPlacementBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const sizes = opts.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const rows: BenchRow[] = [];
  const p50s = new Map<number, number>();
  for (const pools of sizes) {
    const iterations = iterationsFor(pools, opts.quick);
    const { p50, p99 } = measure(pools, iterations);
    p50s.set(pools, p50);
    const params = { pools, iterations, quick: opts.quick };
    const goal = goalFor(pools);
    rows.push({
      name: `placement p50 @${pools} pools`,
      polly: p50,
      reference: null,
      ratio: null,
      goal: goal?.text ?? 'informational',
      unit: 'ms',
      pass: goal === undefined ? null : p50 < goal.ms,
      params,
    });
    rows.push({
      name: `placement p99 @${pools} pools`,
      polly: p99,
      reference: null,
      ratio: null,
      goal: 'informational',
      unit: 'ms',
      pass: null,
      params,
    });
    // Let the event loop breathe between sizes (the harness may be reporting progress).
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const pools of sizes) {
    const small = p50s.get(pools);
    const large = p50s.get(pools * 10);
    if (small === undefined || large === undefined) continue;
    const growth = large / small;
    rows.push({
      name: `placement growth ${pools}→${pools * 10} pools`,
      polly: growth,
      reference: null,
      ratio: null,
      goal: '≤ ~10× (linear)',
      unit: '× p50',
      pass: growth <= MAX_GROWTH,
      params: { from: pools, to: pools * 10, quick: opts.quick },
    });
  }
  return rows;
}

function goalFor(pools: number): { text: string; ms: number } | undefined {
  if (pools === 10_000) return { text: 'p50 < 1 ms', ms: 1 };
  if (pools === 100_000) return { text: 'p50 < 50 ms', ms: 50 };
  return undefined;
}

function iterationsFor(pools: number, quick: boolean): number {
  if (pools <= 1_000) return quick ? 300 : 2_000;
  if (pools <= 10_000) return quick ? 100 : 500;
  return quick ? 20 : 60;
}

function measure(pools: number, iterations: number): { p50: number; p99: number } {
  const scheduler = createScheduler();
  const candidates = generateCandidates(pools, 42);
  const requests = [0, 1, 2, 3].map((i) => generateRequest(i));
  // Warm up until the JIT has settled on the hot loops.
  const warmup = Math.max(20, Math.min(200, Math.ceil(2_000_000 / pools)));
  for (let i = 0; i < warmup; i++) sink(scheduler.place(candidates, requests[i % requests.length]!).pool);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const request = requests[i % requests.length]!;
    const start = process.hrtime.bigint();
    const result = scheduler.place(candidates, request);
    samples[i] = Number(process.hrtime.bigint() - start) / 1e6;
    sink(result.pool);
  }
  samples.sort();
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

let sunk = 0;
/** Keeps results observable so the optimiser cannot drop the call. */
function sink(pool: string | null): void {
  sunk += pool === null ? 0 : pool.length;
  if (sunk === -1) console.log(sunk);
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Deterministic PRNG (mulberry32) so every run weighs the same pools. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CAPABILITIES: DriverCapabilities[] = [
  {
    snapshots: true,
    clones: true,
    restore: true,
    expand: 'online',
    block: false,
    fsTypes: [],
    accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
    qos: false,
    sizeEnforced: true,
  },
  {
    snapshots: true,
    clones: true,
    restore: true,
    expand: 'offline',
    block: true,
    fsTypes: ['ext4', 'xfs'],
    accessModes: ['RWO', 'RWOP'],
    qos: true,
    sizeEnforced: true,
  },
  {
    snapshots: false,
    clones: false,
    restore: false,
    expand: 'none',
    block: false,
    fsTypes: [],
    accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
    qos: false,
    sizeEnforced: false,
  },
];

/** A fleet like a real one: mostly enabled, a few draining, mixed sizes, fill levels and thin pools. */
export function generateCandidates(count: number, seed: number): PoolCandidate[] {
  const rand = random(seed);
  const candidates: PoolCandidate[] = [];
  for (let i = 0; i < count; i++) {
    const totalBytes = (100 + Math.floor(rand() * 1900)) * GIB;
    const used = rand();
    const thin = rand() < 0.3;
    const roll = rand();
    const pool: Pool = {
      name: `pool-${String(i).padStart(6, '0')}`,
      driver: ['local', 'loopblock', 'fake'][i % 3]!,
      parameters: {},
      labels: { media: rand() < 0.7 ? 'ssd' : 'hdd', rack: `r${i % 40}` },
      topology: { zone: ZONES[i % ZONES.length]! },
      state: roll < 0.9 ? 'enabled' : roll < 0.95 ? 'draining' : 'disabled',
      overSubscriptionRatio: thin ? 2 : 1,
      reservedPercent: 5,
      createdAt: '2025-01-01T00:00:00.000Z',
    };
    const freeBytes = Math.floor(totalBytes * (1 - used));
    const allocatedBytes = Math.floor(totalBytes * used * (thin ? 1.6 : 1));
    const volumes: Labels[] = rand() < 0.01 ? [{ app: rand() < 0.5 ? 'db' : 'web' }] : [];
    candidates.push(
      toCandidate(
        pool,
        CAPABILITIES[i % CAPABILITIES.length]!,
        { totalBytes, freeBytes, allocatedBytes, volumeCount: Math.floor(used * 200) },
        volumes.length === 0 ? NO_VOLUMES : volumes,
      ),
    );
  }
  return candidates;
}

const PROFILE: Profile = {
  name: 'standard',
  description: '',
  minBytes: 0,
  maxBytes: 16 * 1024 * GIB,
  volumeMode: 'filesystem',
  fsType: 'ext4',
  media: null,
  qos: {},
  replicas: 1,
  failover: 'safe',
  forceAfterSeconds: 60,
  accessModes: ['RWO'],
  poolSelector: {},
  pools: [],
  parameters: {},
  services: [],
  createdAt: '2025-01-01T00:00:00.000Z',
};

/** Typical requests: some zone constraints and preferences, anti-affinity, a 10-200 GiB size. */
export function generateRequest(variant: number): PlacementRequest {
  const base: PlacementRequest = {
    service: 'tenant-a',
    sizeBytes: [10, 50, 200, 20][variant % 4]! * GIB,
    profile: variant % 2 === 0 ? PROFILE : { ...PROFILE, media: 'ssd' },
    accessMode: 'RWO',
    volumeMode: 'filesystem',
    fsType: 'ext4',
    needs: { snapshots: variant % 3 === 0 },
    topology: { requisite: ['z0', 'z1', 'z2', 'z3', 'z4'], preferred: ['z1', 'z2'] },
    antiAffinity: { app: 'db' },
    quota: { remainingBytes: null, remainingVolumes: 100 },
  };
  if (variant % 4 === 1) base.affinity = { app: 'web' };
  return base;
}
