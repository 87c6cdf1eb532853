import { defineFilter } from '../filter.js';

/** When the request names a pool (or a reservation fixed it), every other pool is out. */
export const pinnedPoolFilter = defineFilter<string>({
  name: 'pinned-pool',
  kind: 'match',
  prepare: (request) => request.pinnedPool ?? null,
  accepts: (candidate, pinned) => candidate.pool.name === pinned,
  reason: (_candidate, _request, pinned) => `request is pinned to pool ${pinned}`,
  summarize: (_rejected, _request, pinned) => `pinned to ${pinned}`,
});
