import { schedulableBytes } from '../provisioning.js';
import { defineWeigher } from '../weigher.js';

/**
 * Cinder's CapacityWeigher: more schedulable space is better (spreads volumes over pools; a negative
 * multiplier stacks them instead). Uses the same virtual free space as the capacity filter.
 */
export const freeCapacityWeigher = defineWeigher<true>({
  name: 'free-capacity',
  defaultMultiplier: 1,
  prepare: () => true,
  value: schedulableBytes,
});
