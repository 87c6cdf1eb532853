import { defineFilter } from '../filter.js';
import { formatBytes } from '../format.js';
import { fits, isThin, reservedBytes, schedulableBytes } from '../provisioning.js';
import type { PoolCandidate } from '../types.js';

/** Cinder's CapacityFilter, with thin provisioning: see provisioning.ts for the rules. Prepared: the size. */
export const capacityFilter = defineFilter<number>({
  name: 'capacity',
  kind: 'capacity',
  prepare: (request) => request.sizeBytes,
  accepts: fits,
  reason: (candidate, _request, size) => capacityReason(candidate, size),
  summarize: (rejected, _request, size) => {
    let largest = 0;
    for (const candidate of rejected) largest = Math.max(largest, schedulableBytes(candidate));
    return `needs ${formatBytes(size)}, largest schedulable ${formatBytes(largest)}`;
  },
});

function capacityReason(candidate: PoolCandidate, size: number): string {
  const { totalBytes, freeBytes, allocatedBytes } = candidate.capacity;
  const { overSubscriptionRatio: ratio, reservedPercent } = candidate.pool;
  const needs = `needs ${formatBytes(size)}`;
  if (candidate.capacity.unknown) return `${needs}; the backend reports no capacity (unknown): admitted, the backend decides`;
  const schedulable = formatBytes(Math.max(0, schedulableBytes(candidate)));
  const over = `over-subscription ${ratio.toFixed(1)}`;
  if (!isThin(candidate)) {
    return `${needs}, ${schedulable} schedulable (free ${formatBytes(freeBytes)} × ${over}, ${reservedPercent}% reserved)`;
  }
  if (freeBytes - reservedBytes(candidate) <= 0) {
    const reserve = `${reservedPercent}% reserved of ${formatBytes(totalBytes)}`;
    return `${needs}, no real space left for thin provisioning (free ${formatBytes(freeBytes)}, ${reserve})`;
  }
  return `${needs}, ${schedulable} schedulable (total ${formatBytes(totalBytes)} × ${over} − allocated ${formatBytes(allocatedBytes)})`;
}
