import type { Filter, PlacementRequest, PoolCandidate } from './types.js';

type FilterSpec<P> = Omit<Filter<P>, 'passes' | 'summarize'> & Partial<Pick<Filter<P>, 'summarize'>>;

/** Completes a filter: `passes` from `prepare`/`accepts`/`reason`, and the default `summarize`. */
export function defineFilter<P>(spec: FilterSpec<P>): Filter<P> {
  const filter: Filter<P> = {
    name: spec.name,
    kind: spec.kind,
    prepare: spec.prepare,
    accepts: spec.accepts,
    reason: spec.reason,
    summarize:
      spec.summarize ??
      ((rejected, request, prepared) =>
        summarizeReasons(rejected, (candidate) => spec.reason(candidate, request, prepared))),
    passes(candidate: PoolCandidate, request: PlacementRequest): string | null {
      const prepared = spec.prepare(request);
      if (prepared === null || spec.accepts(candidate, prepared)) return null;
      return spec.reason(candidate, request, prepared);
    },
  };
  return filter;
}

/** The most common reason, and how many other distinct reasons there were. */
export function summarizeReasons(
  rejected: readonly PoolCandidate[],
  reason: (candidate: PoolCandidate) => string,
): string {
  const counts = new Map<string, number>();
  for (const candidate of rejected) {
    const text = reason(candidate);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  let top = '';
  let topCount = 0;
  for (const [text, count] of counts) {
    if (count > topCount) {
      top = text;
      topCount = count;
    }
  }
  const others = counts.size - 1;
  return others <= 0 ? top : `${top}; ${others} other reason${others === 1 ? '' : 's'}`;
}
