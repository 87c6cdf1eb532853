import { defineWeigher } from '../weigher.js';

/** A lower allocated/total ratio is better: pools of different sizes fill at the same pace. */
export const allocatedRatioWeigher = defineWeigher<true>({
  name: 'allocated-ratio',
  defaultMultiplier: 0.5,
  prepare: () => true,
  value(candidate) {
    const { totalBytes, allocatedBytes } = candidate.capacity;
    // A pool reporting no size counts as full rather than producing Infinity/NaN in the normalisation.
    return totalBytes > 0 ? -(allocatedBytes / totalBytes) : -1;
  },
});
