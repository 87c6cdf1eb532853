import { compileSelector, countMatching } from '../labels.js';
import type { LabelSelector } from '../labels.js';
import { defineWeigher } from '../weigher.js';

/** Soft affinity: the more of the service's volumes with the given labels a pool holds, the better. */
export const affinityWeigher = defineWeigher<LabelSelector>({
  name: 'affinity',
  defaultMultiplier: 1.5,
  prepare: (request) => compileSelector(request.affinity),
  value(candidate, selector) {
    const volumes = candidate.serviceVolumeLabels;
    return volumes.length === 0 ? 0 : countMatching(volumes, selector);
  },
});
