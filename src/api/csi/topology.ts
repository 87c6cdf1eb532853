import type { PoolView } from '../../app/pools.js';
import type { Profile } from '../../core/types.js';
import { zoneInRequisite } from '../../scheduler/zones.js';
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

/** Whether a volume of `pool` is reachable from one of `zones`, by the scheduler's one zone rule. */
export function poolInZones(pool: Pick<PoolView, 'topology'>, zones: readonly string[] | undefined): boolean {
  return zoneInRequisite(pool.topology.zone, zones);
}

/**
 * The topology a volume in `pool` is reachable from: one segment per node the pool declares (a
 * node-local pool's hosts, {@link NODE_KEY}), else its zone, or everywhere (empty) when it has neither.
 */
export function accessibleTopology(pool: Pick<PoolView, 'topology'> | undefined): Topology[] {
  const zone = pool?.topology.zone;
  const zoned: Record<string, string> = zone === undefined ? {} : { [ZONE_KEY]: zone };
  const nodes = pool?.topology.nodes ?? [];
  if (nodes.length > 0) return nodes.map((node) => ({ segments: { [NODE_KEY]: node, ...zoned } }));
  return zone === undefined ? [] : [{ segments: zoned }];
}

/**
 * Whether the profile allows the pool (allow-list, selector, media), as the scheduler's profile filter
 * reads it. Only GetCapacity uses it: placement itself is the scheduler's.
 */
export function profileAllows(profile: Profile, pool: PoolView): boolean {
  if (profile.pools.length > 0 && !profile.pools.includes(pool.name)) return false;
  if (Object.entries(profile.poolSelector).some(([k, v]) => pool.labels[k] !== v)) return false;
  return profile.media === null || pool.labels.media === profile.media;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
