import { defineFilter } from '../filter.js';
import { formatList } from '../format.js';
import { lookupZone, zoneTable } from '../zones.js';
import type { ZoneTable } from '../zones.js';

/** CSI accessibility requirements: the pool's zone must be one of the requisite zones. */
export const topologyFilter = defineFilter<ZoneTable>({
  name: 'topology',
  kind: 'match',
  prepare(request) {
    const requisite = request.topology?.requisite;
    if (requisite === undefined || requisite.length === 0) return null;
    return zoneTable(requisite.map((zone) => [zone, 1] as const));
  },
  accepts: (candidate, zones) => candidate.zone !== null && lookupZone(zones, candidate.zone, 0) === 1,
  reason(candidate, request) {
    const requisite = formatList(request.topology?.requisite ?? []);
    return candidate.zone === null ? `pool has no zone, needs one of ${requisite}` : `zone ${candidate.zone} not in ${requisite}`;
  },
  summarize: (_rejected, request) => `zone not in ${formatList(request.topology?.requisite ?? [])}`,
});
