import type { PlacementRequest, PoolCandidate, Weigher } from './types.js';

type WeigherSpec<P> = Omit<Weigher<P>, 'weigh' | 'needsHolders'> & { needsHolders?: boolean };

/** Completes a weigher with the `weigh` convenience. */
export function defineWeigher<P>(spec: WeigherSpec<P>): Weigher<P> {
  return {
    name: spec.name,
    defaultMultiplier: spec.defaultMultiplier,
    needsHolders: spec.needsHolders ?? false,
    prepare: spec.prepare,
    value: spec.value,
    weigh(candidate: PoolCandidate, request: PlacementRequest): number {
      const prepared = spec.prepare(request, candidate.serviceVolumeLabels.length > 0 ? [candidate] : []);
      return prepared === null ? 0 : spec.value(candidate, prepared);
    },
  };
}

/**
 * Min-max normalisation as Cinder's `base_weight.normalize`: (raw − min) / (max − min), and 0 for all when
 * every value is equal. The engine and `explain` both call this so they agree to the last bit.
 */
export function normalize(raw: number, min: number, max: number): number {
  return max > min ? (raw - min) / (max - min) : 0;
}
