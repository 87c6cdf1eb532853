/**
 * The placement engine: candidates → filters → weighers → best pool, as Cinder's FilterScheduler.
 * Pure and synchronous. `place` is the hot path (benchmarked up to 100,000 pools): filters and weighers
 * prepare their per-request data once, survivors and raw weights live in scratch typed arrays reused
 * across calls, and no string is built unless no pool fits.
 */
import { PollyError } from '../core/errors.js';
import { classify, diagnose, prepareStages, summarize } from './diagnosis.js';
import type { Diagnosis, Stage } from './diagnosis.js';
import { DEFAULT_FILTER_ORDER, FILTERS } from './filters/index.js';
import type {
  Explanation,
  Filter,
  PlacementRequest,
  PlacementResult,
  PoolCandidate,
  PoolExplanation,
  Scheduler,
  SchedulerConfig,
  Weigher,
  WeightDetail,
} from './types.js';
import { normalize } from './weigher.js';
import { DEFAULT_WEIGHERS, WEIGHERS } from './weighers/index.js';

const NO_HOLDERS: readonly PoolCandidate[] = Object.freeze([]);

interface WeigherEntry {
  readonly weigher: Weigher;
  readonly multiplier: number;
}

export function createScheduler(config: SchedulerConfig = {}): Scheduler {
  const filters = resolveFilters(config.filters ?? DEFAULT_FILTER_ORDER);
  const weighers = resolveWeighers(config.weighers ?? DEFAULT_WEIGHERS);
  // Weighers that can matter, in configured order (the order `explain` sums in).
  const slots = weighers.filter((entry) => entry.multiplier !== 0);
  const multipliers = new Float64Array(slots.map((slot) => slot.multiplier));
  const collectHolders = slots.some((slot) => slot.weigher.needsHolders);

  // Scratch space reused across calls: `place` is synchronous and calls no foreign code, so no reentrancy.
  let survivors = new Int32Array(1024);
  let raw = new Float64Array(1024);

  function place(candidates: readonly PoolCandidate[], request: PlacementRequest): PlacementResult {
    const n = candidates.length;
    const w = slots.length;
    const stages = prepareStages(filters, request);
    // Every configured filter and weigher keeps its position; an inactive one passes all / weighs 0.
    const accepts: Accepts[] = [];
    const prepared: unknown[] = [];
    for (const stage of stages) {
      accepts.push(stage.prepared === null ? PASS : stage.filter.accepts);
      prepared.push(stage.prepared);
    }
    // Active weighers weigh each block's survivors from the first call sites; inactive ones (null data:
    // all equal) not at all. Holders (few) are gathered first for the weighers aggregating over them.
    const holders = collectHolders ? holdersOf(candidates) : NO_HOLDERS;
    const values: Value[] = [];
    const weigherData: unknown[] = [];
    const valueSlots: number[] = [];
    for (let k = 0; k < w; k++) {
      const weigher = slots[k]!.weigher;
      const data = weigher.prepare(request, weigher.needsHolders ? holders : NO_HOLDERS);
      if (data === null) continue;
      values.push(weigher.value);
      weigherData.push(data);
      valueSlots.push(k);
    }
    const mins = new Float64Array(w).fill(Infinity);
    const maxs = new Float64Array(w).fill(-Infinity);
    if (survivors.length < n) survivors = new Int32Array(Math.max(n, survivors.length * 2));
    if (raw.length < n * w) raw = new Float64Array(Math.max(n * w, raw.length * 2));

    const pass: Pass = { candidates, accepts, prepared, values, weigherData, valueSlots, w, survivors, raw, mins, maxs };
    // Filter then weigh block by block: the weigh pass finds the survivors' objects still in cache.
    let m = 0;
    for (let from = 0; from < n; from += BLOCK) {
      const first = m;
      m = filterPass(pass, from, Math.min(n, from + BLOCK), m);
      if (m > first) weighPass(pass, first, m);
    }
    if (m === 0) return failure(candidates, request, stages, diagnose(candidates, stages));
    if (m === 1) return chosen(candidates, survivors[0]!);
    return chosen(candidates, pickBest(pass, m, multipliers));
  }

  function explain(candidates: readonly PoolCandidate[], request: PlacementRequest): Explanation {
    const stages = prepareStages(filters, request);
    const diagnosis = diagnose(candidates, stages);
    const passing: number[] = [];
    diagnosis.firstRejection.forEach((first, i) => {
      if (first === -1) passing.push(i);
    });

    const holders = holdersOf(candidates);
    const details: Array<Record<string, WeightDetail>> = passing.map(() => ({}));
    const score = passing.map(() => 0);
    for (const { weigher, multiplier } of weighers) {
      const data = weigher.prepare(request, weigher.needsHolders ? holders : NO_HOLDERS);
      const values = passing.map((i) => (data === null ? 0 : weigher.value(candidates[i]!, data)));
      let min = Infinity;
      let max = -Infinity;
      for (const value of values) {
        if (value < min) min = value;
        if (value > max) max = value;
      }
      values.forEach((value, j) => {
        const normalized = normalize(value, min, max);
        const weighted = multiplier * normalized;
        details[j]![weigher.name] = { raw: value, normalized, multiplier, weighted };
        // Same terms, same order as `pickBest` (which skips exactly the terms that are 0).
        if (multiplier !== 0 && max > min) score[j]! += weighted;
      });
    }

    const order = passing.map((_, j) => j);
    order.sort((a, b) => score[b]! - score[a]! || compareNames(candidates[passing[a]!]!, candidates[passing[b]!]!));
    const pools: PoolExplanation[] = order.map((j, rank) => ({
      pool: candidates[passing[j]!]!.pool.name,
      passed: true,
      weights: details[j]!,
      score: score[j]!,
      rank: rank + 1,
    }));
    candidates.forEach((candidate, i) => {
      const first = diagnosis.firstRejection[i]!;
      if (first === -1) return;
      const { filter, prepared } = stages[first]!;
      pools.push({ pool: candidate.pool.name, passed: false, rejectedBy: { filter: filter.name, reason: filter.reason(candidate, request, prepared) } });
    });

    const best = order.length > 0 ? passing[order[0]!]! : -1;
    const result = best === -1 ? failure(candidates, request, stages, diagnosis) : chosen(candidates, best);
    const line = summarize(candidates, request, stages, diagnosis);
    return {
      result,
      chosen: result.pool,
      summary: result.pool === null ? line : `${line}; chose ${result.pool}`,
      filters: stages.map((stage, s) => ({
        name: stage.filter.name,
        active: stage.prepared !== null,
        rejected: diagnosis.rejected[s]!.length,
      })),
      pools,
    };
  }

  return { place, explain };
}

type Accepts = (candidate: PoolCandidate, prepared: unknown) => boolean;
type Value = (candidate: PoolCandidate, prepared: unknown) => number;

const PASS: Accepts = () => true;
const ZERO: Value = () => 0;
/** Candidates per filter-then-weigh block: their objects (~0.5 KiB each) stay within a core's L2 cache. */
const BLOCK = 1024;

/** What the hot loops work on for one placement. */
interface Pass {
  candidates: readonly PoolCandidate[];
  accepts: readonly Accepts[];
  prepared: readonly unknown[];
  /** The active weighers, their data, and the slot each fills. */
  values: readonly Value[];
  weigherData: readonly unknown[];
  valueSlots: readonly number[];
  /** Number of weigher slots. */
  w: number;
  survivors: Int32Array;
  /** Raw weights, survivor-major: `raw[j * w + k]` is weigher slot k of survivor j. */
  raw: Float64Array;
  mins: Float64Array;
  maxs: Float64Array;
}

/*
 * The hot loops live in small top-level functions rather than inside `place`: V8 optimises each on its
 * own, within its own inlining budget (a long `place` optimised mid-loop also kept deoptimising on paths
 * it had not seen yet).
 *
 * `filterPass` and `weighPass` call the first eight filters and six weighers from fixed call sites
 * (a0…a7, v0…v5) instead of looping over an array: each site then only ever sees one function (or
 * PASS/ZERO), always the same function object because filters and weighers are module-level functions
 * fed per-request data, so V8 inlines them. One shared call site would see them all and make an indirect
 * call per filter per pool; per-request closures would not be inlined at all. Any further filters or
 * weighers take a generic loop.
 */

/**
 * Runs the filters over candidates [from, to), appending survivors' indices to `survivors` after the
 * first `m`; returns the new count.
 */
function filterPass(pass: Pass, from: number, to: number, m: number): number {
  const { candidates, accepts, prepared, survivors } = pass;
  const a0 = accepts[0] ?? PASS, a1 = accepts[1] ?? PASS, a2 = accepts[2] ?? PASS, a3 = accepts[3] ?? PASS;
  const a4 = accepts[4] ?? PASS, a5 = accepts[5] ?? PASS, a6 = accepts[6] ?? PASS, a7 = accepts[7] ?? PASS;
  const p0 = prepared[0], p1 = prepared[1], p2 = prepared[2], p3 = prepared[3];
  const p4 = prepared[4], p5 = prepared[5], p6 = prepared[6], p7 = prepared[7];
  const moreFilters = accepts.length > 8;
  for (let i = from; i < to; i++) {
    const c = candidates[i]!;
    if (!(a0(c, p0) && a1(c, p1) && a2(c, p2) && a3(c, p3) && a4(c, p4) && a5(c, p5) && a6(c, p6) && a7(c, p7))) {
      continue;
    }
    if (moreFilters && !passesRest(c, accepts, prepared)) continue;
    survivors[m++] = i;
  }
  return m;
}

/** Weighs survivors [first, end) with the weighers that need only the pool. */
function weighPass(pass: Pass, first: number, end: number): void {
  const { candidates, values, weigherData, valueSlots, w, survivors, raw, mins, maxs } = pass;
  const nv = values.length;
  const v0 = values[0] ?? ZERO, v1 = values[1] ?? ZERO, v2 = values[2] ?? ZERO;
  const v3 = values[3] ?? ZERO, v4 = values[4] ?? ZERO, v5 = values[5] ?? ZERO;
  const d0 = weigherData[0], d1 = weigherData[1], d2 = weigherData[2];
  const d3 = weigherData[3], d4 = weigherData[4], d5 = weigherData[5];
  const k0 = valueSlots[0] ?? 0, k1 = valueSlots[1] ?? 0, k2 = valueSlots[2] ?? 0;
  const k3 = valueSlots[3] ?? 0, k4 = valueSlots[4] ?? 0, k5 = valueSlots[5] ?? 0;
  for (let j = first; j < end; j++) {
    const c = candidates[survivors[j]!]!;
    const base = j * w;
    if (nv > 0) record(v0(c, d0), base + k0, k0, raw, mins, maxs);
    if (nv > 1) record(v1(c, d1), base + k1, k1, raw, mins, maxs);
    if (nv > 2) record(v2(c, d2), base + k2, k2, raw, mins, maxs);
    if (nv > 3) record(v3(c, d3), base + k3, k3, raw, mins, maxs);
    if (nv > 4) record(v4(c, d4), base + k4, k4, raw, mins, maxs);
    if (nv > 5) record(v5(c, d5), base + k5, k5, raw, mins, maxs);
    for (let q = 6; q < nv; q++) {
      const k = valueSlots[q]!;
      record(values[q]!(c, weigherData[q]), base + k, k, raw, mins, maxs);
    }
  }
}

function passesRest(candidate: PoolCandidate, accepts: readonly Accepts[], prepared: readonly unknown[]): boolean {
  for (let f = 8; f < accepts.length; f++) if (!accepts[f]!(candidate, prepared[f])) return false;
  return true;
}

function record(value: number, at: number, k: number, raw: Float64Array, mins: Float64Array, maxs: Float64Array): void {
  raw[at] = value;
  if (value < mins[k]!) mins[k] = value;
  if (value > maxs[k]!) maxs[k] = value;
}

/** Σ multiplier × normalised raw per survivor; the best candidate's index, ties to the smaller pool name. */
function pickBest(pass: Pass, m: number, multipliers: Float64Array): number {
  const { candidates, survivors, raw, mins, maxs, w } = pass;
  // Only slots where values differ add anything (in slot order, as `explain` sums).
  const live: number[] = [];
  for (let k = 0; k < w; k++) if (maxs[k]! > mins[k]!) live.push(k);
  const nl = live.length;
  let best = survivors[0]!;
  let bestScore = -Infinity;
  let bestName: string | null = null;
  for (let j = 0; j < m; j++) {
    let score = 0;
    const base = j * w;
    for (let l = 0; l < nl; l++) {
      const k = live[l]!;
      score += multipliers[k]! * normalize(raw[base + k]!, mins[k]!, maxs[k]!);
    }
    if (score < bestScore) continue;
    const index = survivors[j]!;
    const name = candidates[index]!.pool.name;
    if (score > bestScore || bestName === null || name < bestName) {
      best = index;
      bestScore = score;
      bestName = name;
    }
  }
  return best;
}

/** Every candidate holding some of the service's volumes (usually few). */
function holdersOf(candidates: readonly PoolCandidate[]): PoolCandidate[] {
  const holders: PoolCandidate[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    if (candidate.serviceVolumeLabels.length > 0) holders.push(candidate);
  }
  return holders;
}

function chosen(candidates: readonly PoolCandidate[], index: number): PlacementResult {
  return { pool: candidates[index]!.pool.name, index };
}

function failure(
  candidates: readonly PoolCandidate[],
  request: PlacementRequest,
  stages: readonly Stage[],
  diagnosis: Diagnosis,
): PlacementResult {
  return { pool: null, failure: classify(stages, diagnosis), summary: summarize(candidates, request, stages, diagnosis) };
}

function compareNames(a: PoolCandidate, b: PoolCandidate): number {
  return a.pool.name < b.pool.name ? -1 : a.pool.name > b.pool.name ? 1 : 0;
}

function resolveFilters(names: readonly string[]): Filter[] {
  const seen = new Set<string>();
  return names.map((name) => {
    const filter = FILTERS.get(name);
    if (filter === undefined) {
      throw new PollyError('VALIDATION_FAILED', `unknown scheduler filter ${JSON.stringify(name)}`, {
        known: [...FILTERS.keys()],
      });
    }
    if (seen.has(name)) throw new PollyError('VALIDATION_FAILED', `scheduler filter ${name} is listed twice`);
    seen.add(name);
    return filter;
  });
}

function resolveWeighers(multipliers: Readonly<Record<string, number>>): WeigherEntry[] {
  return Object.entries(multipliers).map(([name, multiplier]) => {
    const weigher = WEIGHERS.get(name);
    if (weigher === undefined) {
      throw new PollyError('VALIDATION_FAILED', `unknown scheduler weigher ${JSON.stringify(name)}`, {
        known: [...WEIGHERS.keys()],
      });
    }
    if (!Number.isFinite(multiplier)) {
      throw new PollyError('VALIDATION_FAILED', `scheduler weigher ${name}: multiplier must be a finite number`);
    }
    return { weigher, multiplier };
  });
}
