/**
 * Cinder's capacity rules, shared by the capacity filter and the free-capacity weigher so both agree on
 * what "schedulable" means.
 *
 * - Thick (over-subscription ratio ≤ 1): schedulable = free − reserved% × total.
 * - Thin (ratio > 1): schedulable = total × ratio − allocated (the provisioned-capacity rule), and only
 *   while the real free space minus the reserve is still positive: over-subscription may promise more
 *   than is free, never write into the reserve.
 */
import type { PoolCandidate } from './types.js';

/** Bytes held back by `reservedPercent`, which applies to the total. */
export function reservedBytes(candidate: PoolCandidate): number {
  return Math.floor((candidate.capacity.totalBytes * candidate.pool.reservedPercent) / 100);
}

export function isThin(candidate: PoolCandidate): boolean {
  return candidate.pool.overSubscriptionRatio > 1;
}

/** The largest volume the pool can take now; may be negative when over-allocated. */
export function schedulableBytes(candidate: PoolCandidate): number {
  const capacity = candidate.capacity;
  // Unknown capacity weighs as nothing free (Cinder's rule): such a pool wins only when no other fits.
  if (capacity.unknown) return 0;
  const pool = candidate.pool;
  const realFree = capacity.freeBytes - Math.floor((capacity.totalBytes * pool.reservedPercent) / 100);
  if (pool.overSubscriptionRatio > 1) {
    if (realFree <= 0) return 0;
    return capacity.totalBytes * pool.overSubscriptionRatio - capacity.allocatedBytes;
  }
  return realFree;
}

/** Whether a volume of `sizeBytes` fits (exactly fitting fits). */
export function fits(candidate: PoolCandidate, sizeBytes: number): boolean {
  const capacity = candidate.capacity;
  // Unknown capacity: nothing to check here; the backend refuses a create it cannot hold (NO_CAPACITY).
  if (capacity.unknown) return true;
  const pool = candidate.pool;
  const realFree = capacity.freeBytes - Math.floor((capacity.totalBytes * pool.reservedPercent) / 100);
  if (pool.overSubscriptionRatio > 1) {
    return realFree > 0 && sizeBytes <= capacity.totalBytes * pool.overSubscriptionRatio - capacity.allocatedBytes;
  }
  return sizeBytes <= realFree;
}
