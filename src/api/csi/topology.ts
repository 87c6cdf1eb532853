import type { PoolView } from '../../app/pools.js';
import type { Profile } from '../../core/types.js';
import type { Topology, TopologyRequirement } from './proto.js';

/** A pool's (and a node's) `topology.zone`. */
export const ZONE_KEY = 'topology.polly.csi.dev/zone';
/** A node's id: every node reports it (NodeGetInfo), so a node-local pool's volumes can name their node. */
export const NODE_KEY = 'topology.polly.csi.dev/node';

/** The segments a node reports in NodeGetInfo: always its id, and its zone when it has one. */
export function nodeSegments(nodeId: string, zone: string | undefined): Record<string, string> {
  return { [NODE_KEY]: nodeId, ...(zone ? { [ZONE_KEY]: zone } : {}) };
}

/**
 * The zones a CreateVolume accepts, from its accessibility requirements. Only {@link ZONE_KEY} segments
 * count; a term without one places no zone constraint.
 */
export interface ZoneRequirement {
  /** Zones the volume must be reachable from one of; undefined when any zone will do. */
  requisite: string[] | undefined;
  /** Zones to try first, in the CO's order. */
  preferred: string[];
}

export function zoneRequirement(req: TopologyRequirement | null): ZoneRequirement {
  const zonesOf = (terms: readonly Topology[]) => unique(terms.flatMap((t) => (t.segments[ZONE_KEY] ? [t.segments[ZONE_KEY]] : [])));
  const requisiteTerms = req?.requisite ?? [];
  // A requisite term without a zone allows every zone.
  const unconstrained = requisiteTerms.length === 0 || requisiteTerms.some((t) => !t.segments[ZONE_KEY]);
  return { requisite: unconstrained ? undefined : zonesOf(requisiteTerms), preferred: zonesOf(req?.preferred ?? []) };
}

/** A pool without a zone is reachable from every zone. */
export function poolInZones(pool: Pick<PoolView, 'topology'>, zones: readonly string[] | undefined): boolean {
  return zones === undefined || pool.topology.zone === undefined || zones.includes(pool.topology.zone);
}

/** The topology a volume in `pool` is reachable from: its zone, or everywhere (empty) when it has none. */
export function accessibleTopology(pool: Pick<PoolView, 'topology'> | undefined): Topology[] {
  const zone = pool?.topology.zone;
  return zone === undefined ? [] : [{ segments: { [ZONE_KEY]: zone } }];
}

/**
 * Whether the profile allows the pool. This mirrors the profile part of the app's placement (allow-list,
 * selector, media) so that a zone-driven choice never pins a pool the profile would refuse; it goes away
 * when the scheduler takes zones itself.
 */
export function profileAllows(profile: Profile, pool: PoolView): boolean {
  if (profile.pools.length > 0 && !profile.pools.includes(pool.name)) return false;
  if (Object.entries(profile.poolSelector).some(([k, v]) => pool.labels[k] !== v)) return false;
  return profile.media === null || pool.labels.media === profile.media;
}

/**
 * Orders candidate pools for a CreateVolume: pools in preferred zones first (in the CO's order), then
 * every other pool the requisite zones allow (a pool without a zone is reachable from all); most free
 * bytes first within each group. Pools outside the requisite zones are dropped.
 */
export function orderByZone<P extends Pick<PoolView, 'name' | 'topology'> & { capacity: Pick<PoolView['capacity'], 'freeBytes'> }>(
  pools: readonly P[],
  zones: ZoneRequirement,
): P[] {
  const allowed = pools.filter((p) => poolInZones(p, zones.requisite));
  const rank = (p: P): number => {
    const i = p.topology.zone === undefined ? -1 : zones.preferred.indexOf(p.topology.zone);
    return i >= 0 ? i : zones.preferred.length;
  };
  return [...allowed].sort((a, b) => rank(a) - rank(b) || b.capacity.freeBytes - a.capacity.freeBytes || a.name.localeCompare(b.name));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
