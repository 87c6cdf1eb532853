/**
 * Zone → number tables for the hot path. Requests name a handful of zones, where a linear scan with `===`
 * beats hashing (zone strings are short and usually shared); larger tables fall back to a Map.
 */
export interface ZoneTable {
  readonly zones: ReadonlyArray<string | null>;
  readonly values: readonly number[];
  readonly map: ReadonlyMap<string | null, number> | null;
}

const SCAN_LIMIT = 16;

export function zoneTable(entries: ReadonlyArray<readonly [string | null, number]>): ZoneTable {
  return {
    zones: entries.map(([zone]) => zone),
    values: entries.map(([, value]) => value),
    map: entries.length > SCAN_LIMIT ? new Map(entries) : null,
  };
}

/** The zone's value, or `missing` when the table does not list it. */
export function lookupZone(table: ZoneTable, zone: string | null, missing: number): number {
  if (table.map !== null) return table.map.get(zone) ?? missing;
  const zones = table.zones;
  for (let i = 0; i < zones.length; i++) if (zones[i] === zone) return table.values[i]!;
  return missing;
}
