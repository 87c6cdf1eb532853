import type { Filter } from '../types.js';
import { antiAffinityFilter } from './anti-affinity-filter.js';
import { capabilitiesFilter } from './capabilities-filter.js';
import { capacityFilter } from './capacity-filter.js';
import { nodeReachFilter } from './node-reach-filter.js';
import { pinnedPoolFilter } from './pinned-pool-filter.js';
import { poolStateFilter } from './pool-state-filter.js';
import { profileFilter } from './profile-filter.js';
import { quotaFilter } from './quota-filter.js';
import { topologyFilter } from './topology-filter.js';

/**
 * Every filter by name, in the default order: request-wide verdicts first (quota, pinned pool), then the
 * ones reading only the candidate object (zone, service volumes, shared capabilities) so most rejected
 * pools never have their pool and capacity objects pulled into cache, capacity last so a pool is blamed on
 * capacity only when nothing else rules it out.
 */
export const FILTERS: ReadonlyMap<string, Filter> = new Map<string, Filter>(
  [
    quotaFilter,
    pinnedPoolFilter,
    topologyFilter,
    nodeReachFilter,
    antiAffinityFilter,
    capabilitiesFilter,
    poolStateFilter,
    profileFilter,
    capacityFilter,
  ].map((filter) => [filter.name, filter]),
);

export const DEFAULT_FILTER_ORDER: readonly string[] = [...FILTERS.keys()];

export {
  antiAffinityFilter,
  capabilitiesFilter,
  capacityFilter,
  nodeReachFilter,
  pinnedPoolFilter,
  poolStateFilter,
  profileFilter,
  quotaFilter,
  topologyFilter,
};
