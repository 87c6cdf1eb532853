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

/*
 * The zone rule, the one shared by the scheduler's topology filter, CSI CreateVolume (accessible
 * topology, idempotency checks) and attach: a pool without a zone is reachable from every zone (it
 * declares no constraint, and CSI reports its volumes as accessible everywhere); a pool with a zone is
 * reachable from that zone only. A request or node without a zone places no constraint.
 */

/**
 * Drivers whose storage is a path on one machine: their pools live on the node(s) they declare
 * (`topology.nodes`), or on every node only when the operator says the path is shared (`shared: true`).
 */
export const NODE_LOCAL_DRIVERS: ReadonlySet<string> = new Set(['local', 'btrfs', 'loopblock']);

/**
 * The nodes a pool's volumes may be attached on, or undefined for any node: its declared `nodes`; any
 * node for a shared or networked pool; for an undeclared node-local pool, the `home` node (the server's
 * embedded agent, else the node registered first), none while there is no such node.
 */
export function poolNodes(pool: { driver: string; topology: { nodes?: string[] | undefined; shared?: boolean | undefined } }, home: string | undefined): string[] | undefined {
  const declared = pool.topology.nodes ?? [];
  if (declared.length > 0) return declared;
  if (pool.topology.shared === true || !NODE_LOCAL_DRIVERS.has(pool.driver)) return undefined;
  return home === undefined ? [] : [home];
}

/** Whether a volume in a pool of zone `poolZone` is reachable from `zone` (undefined: any zone). */
export function zoneReaches(poolZone: string | null | undefined, zone: string | null | undefined): boolean {
  return poolZone === null || poolZone === undefined || zone === null || zone === undefined || poolZone === zone;
}

/** Whether a pool of zone `poolZone` serves one of the requisite zones (undefined or empty: no constraint). */
export function zoneInRequisite(poolZone: string | null | undefined, requisite: readonly string[] | undefined): boolean {
  return requisite === undefined || requisite.length === 0 || poolZone === null || poolZone === undefined || requisite.includes(poolZone);
}

/** {@link zoneInRequisite} over a prepared table (the hot path): listed zones map to 1. */
export function zoneInTable(poolZone: string | null, requisite: ZoneTable): boolean {
  return poolZone === null || lookupZone(requisite, poolZone, 0) === 1;
}
