import { defineWeigher } from '../weigher.js';

/** Cinder's VolumeNumberWeigher: fewer volumes is better. */
export const volumeCountWeigher = defineWeigher<true>({
  name: 'volume-count',
  defaultMultiplier: 0.25,
  prepare: () => true,
  value: (candidate) => -candidate.capacity.volumeCount,
});
