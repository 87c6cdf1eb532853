/**
 * The cold path: why pools were rejected, as counts per filter, a failure class and one summary line.
 * Runs only when no pool fits (from `place`) or for `explain`, so it may format strings freely.
 */
import type { Filter, PlacementFailure, PlacementRequest, PoolCandidate } from './types.js';

/** A filter with what it prepared for this request (null: it cannot reject anything, it is skipped). */
export interface Stage {
  readonly filter: Filter;
  readonly prepared: unknown;
}

export function prepareStages(filters: readonly Filter[], request: PlacementRequest): Stage[] {
  return filters.map((filter) => ({ filter, prepared: filter.prepare(request) }));
}

export interface Diagnosis {
  /** Per candidate, the index in `stages` of the first filter rejecting it, or -1 when it passes. */
  firstRejection: Int32Array;
  /** Per stage, the candidates it rejected first. */
  rejected: PoolCandidate[][];
  passed: number;
  /** Some candidate was rejected by capacity filters and nothing else. */
  capacityOnly: boolean;
}

export function diagnose(candidates: readonly PoolCandidate[], stages: readonly Stage[]): Diagnosis {
  const firstRejection = new Int32Array(candidates.length);
  const rejected: PoolCandidate[][] = stages.map(() => []);
  let passed = 0;
  let capacityOnly = false;
  candidates.forEach((candidate, i) => {
    let first = -1;
    let failsOther = false;
    stages.forEach((stage, s) => {
      if (stage.prepared === null || stage.filter.accepts(candidate, stage.prepared)) return;
      if (first === -1) first = s;
      if (stage.filter.kind !== 'capacity') failsOther = true;
    });
    firstRejection[i] = first;
    if (first === -1) passed++;
    else {
      rejected[first]!.push(candidate);
      if (!failsOther) capacityOnly = true;
    }
  });
  return { firstRejection, rejected, passed, capacityOnly };
}

/**
 * QUOTA_EXCEEDED when a quota filter applies (by contract it compiles only to refuse the request),
 * NO_CAPACITY when some pool failed capacity alone, NO_MATCHING_POOL otherwise.
 */
export function classify(stages: readonly Stage[], diagnosis: Diagnosis): PlacementFailure {
  if (stages.some((stage) => stage.filter.kind === 'quota' && stage.prepared !== null)) return 'QUOTA_EXCEEDED';
  return diagnosis.capacityOnly ? 'NO_CAPACITY' : 'NO_MATCHING_POOL';
}

/**
 * One line: "0 of 12 pools fit: 7 rejected by capacity (needs 10.0 GiB, largest schedulable 1.5 GiB),
 * 5 by topology (zone not in [a])". Groups by the first rejecting filter, largest group first.
 */
export function summarize(
  candidates: readonly PoolCandidate[],
  request: PlacementRequest,
  stages: readonly Stage[],
  diagnosis: Diagnosis,
): string {
  const head = `${diagnosis.passed} of ${candidates.length} pools fit`;
  if (candidates.length === 0) return `${head}: no candidate pools`;
  const groups = stages
    .map((stage, s) => ({ stage, s, pools: diagnosis.rejected[s]! }))
    .filter((group) => group.pools.length > 0)
    .sort((a, b) => b.pools.length - a.pools.length || a.s - b.s);
  if (groups.length === 0) return head;
  const parts = groups.map(({ stage, pools }, i) => {
    const phrase = stage.prepared === null ? '' : ` (${stage.filter.summarize(pools, request, stage.prepared)})`;
    return `${pools.length} ${i === 0 ? 'rejected by ' : 'by '}${stage.filter.name}${phrase}`;
  });
  return `${head}: ${parts.join(', ')}`;
}
