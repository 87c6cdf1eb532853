import type { Weigher } from '../types.js';
import { affinityWeigher } from './affinity-weigher.js';
import { allocatedRatioWeigher } from './allocated-ratio-weigher.js';
import { freeCapacityWeigher } from './free-capacity-weigher.js';
import { topologyPreferenceWeigher } from './topology-preference-weigher.js';
import { volumeCountWeigher } from './volume-count-weigher.js';
import { zoneSpreadWeigher } from './zone-spread-weigher.js';

/** Every weigher by name; the default configuration uses each with its `defaultMultiplier`. */
export const WEIGHERS: ReadonlyMap<string, Weigher> = new Map<string, Weigher>(
  [
    freeCapacityWeigher,
    allocatedRatioWeigher,
    volumeCountWeigher,
    zoneSpreadWeigher,
    topologyPreferenceWeigher,
    affinityWeigher,
  ].map((weigher) => [weigher.name, weigher]),
);

export const DEFAULT_WEIGHERS: Readonly<Record<string, number>> = Object.fromEntries(
  [...WEIGHERS.values()].map((weigher) => [weigher.name, weigher.defaultMultiplier]),
);

export {
  affinityWeigher,
  allocatedRatioWeigher,
  freeCapacityWeigher,
  topologyPreferenceWeigher,
  volumeCountWeigher,
  zoneSpreadWeigher,
};
