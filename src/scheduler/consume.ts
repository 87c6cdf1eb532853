import type { Labels } from '../core/types.js';
import type { PoolCandidate } from './types.js';

const NO_LABELS: Labels = Object.freeze({});

/**
 * Accounts a placement on its candidate, as Cinder's `consume_from_volume`: allocated and volume count
 * grow, free shrinks (pessimistic for thin pools, as in Cinder; never below 0), and the volume (with its
 * labels, or none) joins the service's volumes there so affinity, anti-affinity and zone spread see it.
 * Lets a batch of placements over the same candidates see the earlier ones. Mutates `candidate` (its capacity object is
 * replaced, not written through, so a capacity object shared with the caller is left alone).
 */
export function consumeFromVolume(candidate: PoolCandidate, volume: { sizeBytes: number; labels?: Labels }): void {
  const capacity = candidate.capacity;
  candidate.capacity = {
    totalBytes: capacity.totalBytes,
    freeBytes: Math.max(0, capacity.freeBytes - volume.sizeBytes),
    allocatedBytes: capacity.allocatedBytes + volume.sizeBytes,
    volumeCount: capacity.volumeCount + 1,
  };
  candidate.serviceVolumeLabels = [...candidate.serviceVolumeLabels, volume.labels ?? NO_LABELS];
}
