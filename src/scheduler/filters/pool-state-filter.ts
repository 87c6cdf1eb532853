import { defineFilter } from '../filter.js';
import type { PoolCandidate } from '../types.js';

/** Only `enabled` pools take new volumes; `draining` keeps its volumes but takes no more, `disabled` nothing. */
export const poolStateFilter = defineFilter<true>({
  name: 'pool-state',
  kind: 'match',
  prepare: () => true,
  accepts: (candidate) => candidate.pool.state === 'enabled',
  reason: (candidate) => `pool is ${candidate.pool.state}`,
  summarize: (rejected: readonly PoolCandidate[]) => {
    const counts = new Map<string, number>();
    for (const { pool } of rejected) counts.set(pool.state, (counts.get(pool.state) ?? 0) + 1);
    return [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
  },
});
