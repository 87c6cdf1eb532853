import type { DriverCapabilities } from '../core/ports/driver.js';
import type { Labels, Pool, PoolCapacity } from '../core/types.js';
import type { PoolCandidate } from './types.js';

/** Shared by every pool that holds none of the requesting service's volumes (never mutated). */
export const NO_VOLUMES: readonly Labels[] = Object.freeze([]);

/**
 * Builds a candidate with the hoisted zone. Always build candidates through here (or with the same
 * property order) so they share one hidden class and the hot path stays monomorphic.
 */
export function toCandidate(
  pool: Pool,
  capabilities: DriverCapabilities,
  capacity: PoolCapacity,
  serviceVolumeLabels: readonly Labels[] = NO_VOLUMES,
): PoolCandidate {
  return {
    pool,
    capabilities,
    capacity: {
      totalBytes: capacity.totalBytes,
      freeBytes: capacity.freeBytes,
      allocatedBytes: capacity.allocatedBytes,
      volumeCount: capacity.volumeCount,
      unknown: capacity.unknown === true,
    },
    zone: pool.topology.zone ?? null,
    serviceVolumeLabels: serviceVolumeLabels.length === 0 ? NO_VOLUMES : serviceVolumeLabels,
  };
}
