import { defineWeigher } from '../weigher.js';
import { lookupZone, zoneTable } from '../zones.js';
import type { ZoneTable } from '../zones.js';

/** CSI preferred topology: a pool in the first preferred zone scores highest, unlisted zones lowest. */
export const topologyPreferenceWeigher = defineWeigher<ZoneTable>({
  name: 'topology-preference',
  defaultMultiplier: 2,
  prepare(request) {
    const preferred = request.topology?.preferred;
    if (preferred === undefined || preferred.length === 0) return null;
    // Raw = how many listed zones it beats, plus one over unlisted ones; the first mention of a zone wins.
    const first = preferred.filter((zone, index) => preferred.indexOf(zone) === index);
    return zoneTable(first.map((zone, index) => [zone, first.length - index] as const));
  },
  value: (candidate, ranks) => (candidate.zone === null ? 0 : lookupZone(ranks, candidate.zone, 0)),
});
