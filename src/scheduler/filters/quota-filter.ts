import { defineFilter } from '../filter.js';
import { formatBytes } from '../format.js';

/**
 * The service's remaining quota. A request-wide verdict, prepared only when the request is over quota:
 * then every pool is rejected with the same reason and the caller reports QUOTA_EXCEEDED.
 */
export const quotaFilter = defineFilter<string>({
  name: 'quota',
  kind: 'quota',
  prepare(request) {
    const quota = request.quota;
    if (quota === undefined) return null;
    if (quota.remainingVolumes !== null && quota.remainingVolumes < 1) {
      return `quota allows no more volumes (${Math.max(0, quota.remainingVolumes)} remaining)`;
    }
    if (quota.remainingBytes !== null && request.sizeBytes > quota.remainingBytes) {
      return `needs ${formatBytes(request.sizeBytes)}, quota has ${formatBytes(Math.max(0, quota.remainingBytes))} remaining`;
    }
    return null;
  },
  accepts: () => false,
  reason: (_candidate, _request, verdict) => verdict,
  summarize: (_rejected, _request, verdict) => verdict,
});
