import { describe, expect, it } from 'vitest';
import { assertRowShape, type BenchContext, type BenchRow } from '../../bench/harness.js';
import { runPlacementBench } from '../../bench/placement.js';
import { runPostgresBench } from '../../bench/postgres.js';
import { runScaleBench } from '../../bench/scale.js';
import { runPgScaleBench } from '../../bench/scale-postgres.js';
import { runThroughputBench } from '../../bench/throughput.js';
import { pgSkipReason } from '../helpers/pg.js';

// Smoke runs of the benchmarks at tiny sizes: the harness, the servers they start and the rows they report
// work. No timing is asserted here; `npm run bench` measures.
const ctx: BenchContext = { quick: true, profileDir: undefined, progress: () => undefined };

function expectMeasuredRows(rows: BenchRow[]): void {
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    assertRowShape(row);
    expect(row.skipped).toBeUndefined();
    expect(row.error).toBeUndefined();
    expect(typeof row.name).toBe('string');
    expect(Number.isFinite(row.polly)).toBe(true);
    expect(row.polly).toBeGreaterThan(0);
    if (row.reference !== null) expect(row.reference).toBeGreaterThan(0);
    if (row.ratio !== null) {
      expect(Number.isFinite(row.ratio)).toBe(true);
      expect(row.ratio).toBeGreaterThan(0);
    }
    expect([true, false, null]).toContain(row.pass);
    expect(typeof row.goal).toBe('string');
    expect(typeof row.unit).toBe('string');
    expect(row.params).toBeTypeOf('object');
  }
}

describe('benchmarks, smoke-sized', () => {
  it('P1 throughput reports a ratio against the raw SQLite commit rate', async () => {
    const rows = await runThroughputBench(ctx, { quick: true, run: { rounds: 1, referenceMs: 200, pollyMs: 500, warmupMs: 200 } });
    expectMeasuredRows(rows);
    const main = rows[0]!;
    expect(main.unit).toBe('pairs/s');
    expect(main.reference).not.toBeNull();
    expect(main.ratio).not.toBeNull();
  }, 120_000);

  it('P2 placement reports p50/p99 per fleet size and the growth', async () => {
    const rows = await runPlacementBench({ quick: true });
    expectMeasuredRows(rows);
    expect(rows.some((r) => r.name.includes('growth'))).toBe(true);
  }, 120_000);

  it('P3 scale reports get/list latencies and server RSS on a bulk-loaded store', async () => {
    const rows = await runScaleBench(ctx, { quick: true, volumes: 500, iterations: { get: 20, list: 10 } });
    expectMeasuredRows(rows);
    expect(rows.map((r) => r.unit)).toEqual(['ms', 'ms', 'ms', 'ms', 'MB']);
    for (const r of rows) expect(r.reference).not.toBeNull();
    // The floor (GET /healthz alternating with the GETs by id) is reported beside the GET row.
    expect(rows[1]!.name).toMatch(/floor/);
    expect(rows[1]!.params.samples).toBe(20);
    expect(rows[0]!.params.floorP99).toBe(rows[1]!.polly);
    expect(typeof rows[0]!.params.serverRunQueueWaitMs).toBe('number');
  }, 120_000);

  it('P8 PostgreSQL reports the ratio, the ceiling of its four transactions and the round trips per pair', async (t) => {
    const reason = await pgSkipReason();
    if (reason !== null) return t.skip(reason);
    const rows = await runPostgresBench(ctx, { quick: true, run: { rounds: 1, referenceMs: 200, pollyMs: 3_000, warmupMs: 500 } });
    expectMeasuredRows(rows);
    expect(rows[0]!.params.storeRoundTripsPerPair).toBeGreaterThan(0);
    const ceiling = rows.find((r) => r.name.startsWith('P8 ceiling'));
    expect(ceiling?.ratio).toBeGreaterThan(0);
    expect(ceiling?.params.errors).toBe(0);
  }, 180_000);

  it('P11 PostgreSQL scale reports get/list latencies, RSS and heartbeat cost on a bulk-loaded database', async (t) => {
    const reason = await pgSkipReason();
    if (reason !== null) return t.skip(reason);
    const rows = await runPgScaleBench(ctx, { quick: true, volumes: 500, attached: 50, nodes: 5, iterations: { get: 20, list: 10, heartbeatRounds: 2 } });
    expectMeasuredRows(rows);
    expect(rows.map((r) => r.unit)).toEqual(['ms', 'ms', 'ms', 'MB', 'ms', 'ms']);
    expect(rows[4]!.params.heartbeats).toBe(10);
    expect(rows[0]!.params.floorP99).toBeGreaterThan(0);
  }, 180_000);
});
