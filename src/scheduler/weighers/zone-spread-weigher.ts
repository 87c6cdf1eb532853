import type { PoolCandidate } from '../types.js';
import { defineWeigher } from '../weigher.js';
import { lookupZone, zoneTable } from '../zones.js';
import type { ZoneTable } from '../zones.js';

/**
 * Prefers zones where the service has fewer volumes, so one zone going down takes less of it. The
 * per-zone counts come from the candidates' `serviceVolumeLabels` (pass all pools, draining ones too:
 * their volumes still count), which `consumeFromVolume` keeps current within a batch. Pools with no zone
 * count as one zone of their own.
 */
export const zoneSpreadWeigher = defineWeigher<ZoneTable>({
  name: 'zone-spread',
  defaultMultiplier: 1,
  needsHolders: true,
  prepare(_request, holders) {
    const perZone = zoneVolumeCounts(holders);
    return perZone.size === 0 ? null : zoneTable([...perZone]);
  },
  value: (candidate, counts) => -lookupZone(counts, candidate.zone, 0),
});

/** How many of the service's volumes each zone holds, over the given candidates. */
export function zoneVolumeCounts(candidates: readonly PoolCandidate[]): Map<string | null, number> {
  const perZone = new Map<string | null, number>();
  for (const candidate of candidates) {
    const count = candidate.serviceVolumeLabels.length;
    if (count > 0) perZone.set(candidate.zone, (perZone.get(candidate.zone) ?? 0) + count);
  }
  return perZone;
}
