import { defineFilter } from '../filter.js';
import { formatList } from '../format.js';
import { zoneInTable, zoneTable } from '../zones.js';
import type { ZoneTable } from '../zones.js';

/**
 * CSI accessibility requirements: the pool must be reachable from one of the requisite zones, by the one
 * zone rule (zones.ts): a pool without a zone is reachable from every zone.
 */
export const topologyFilter = defineFilter<ZoneTable>({
  name: 'topology',
  kind: 'match',
  prepare(request) {
    const requisite = request.topology?.requisite;
    if (requisite === undefined || requisite.length === 0) return null;
    return zoneTable(requisite.map((zone) => [zone, 1] as const));
  },
  accepts: (candidate, zones) => zoneInTable(candidate.zone, zones),
  reason: (candidate, request) => `zone ${candidate.zone ?? '(none)'} not in ${formatList(request.topology?.requisite ?? [])}`,
  summarize: (_rejected, request) => `zone not in ${formatList(request.topology?.requisite ?? [])}`,
});
