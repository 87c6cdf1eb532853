import type { PoolView } from '../../app/pools.js';
import type { Snapshot, Volume, VolumeSource } from '../../core/types.js';
import type * as csi from './proto.js';
import { accessibleTopology } from './topology.js';

// Polly objects → CSI messages. Volume ids are Polly volume ids; snapshot ids are Polly snapshot ids.

export function toCsiVolume(v: Volume, pool: PoolView | undefined): csi.Volume {
  return {
    capacity_bytes: v.sizeBytes,
    volume_id: v.id,
    // Handed back to the node service on stage/publish; informative only (the agent reads Polly).
    volume_context: { 'polly.csi.dev/name': v.name, 'polly.csi.dev/pool': v.pool, 'polly.csi.dev/profile': v.profile },
    content_source: toContentSource(v.source),
    accessible_topology: accessibleTopology(pool),
  };
}

export function toContentSource(source: VolumeSource | null): csi.VolumeContentSource | null {
  if (source === null) return null;
  return source.kind === 'snapshot' ? { snapshot: { snapshot_id: source.id } } : { volume: { volume_id: source.id } };
}

export function toCsiSnapshot(s: Snapshot): csi.Snapshot {
  return {
    size_bytes: s.sizeBytes,
    snapshot_id: s.id,
    source_volume_id: s.volumeId,
    creation_time: toTimestamp(s.createdAt),
    ready_to_use: s.status === 'ready',
    group_snapshot_id: s.groupId ?? '',
  };
}

export function toTimestamp(iso: string): csi.Timestamp {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
}

/** Pools by name, for the topology of many volumes at once. */
export function byName(pools: readonly PoolView[]): Map<string, PoolView> {
  return new Map(pools.map((p) => [p.name, p]));
}
