import type { DriverCapabilities } from '../../core/ports/driver.js';
import { defineFilter } from '../filter.js';
import { formatList } from '../format.js';
import type { PlacementRequest } from '../types.js';

/**
 * What the driver behind the pool can do: block or filesystem (and the fsType), snapshots, clones,
 * restore, the access mode, QoS when the profile asks for it.
 */
export const capabilitiesFilter = defineFilter<Needs>({
  name: 'capabilities',
  kind: 'match',
  prepare: compileNeeds,
  accepts(candidate, needs) {
    // Pools of one driver usually share one capabilities object: remember the last verdict.
    const caps = candidate.capabilities;
    if (caps === needs.last) return needs.lastOk;
    needs.last = caps;
    needs.lastOk = capable(caps, needs);
    return needs.lastOk;
  },
  reason: (candidate, _request, needs) => missing(candidate.capabilities, needs) ?? 'capable',
});

interface Needs {
  block: boolean;
  fsType: string | null;
  snapshots: boolean;
  clones: boolean;
  restore: boolean;
  accessMode: PlacementRequest['accessMode'];
  qos: boolean;
  /** A one-entry memo, per request. */
  last: DriverCapabilities | null;
  lastOk: boolean;
}

function compileNeeds(request: PlacementRequest): Needs {
  const qos = request.profile.qos;
  return {
    block: request.volumeMode === 'block',
    fsType: request.volumeMode === 'filesystem' && request.fsType ? request.fsType : null,
    snapshots: request.needs.snapshots === true,
    clones: request.needs.clones === true,
    restore: request.needs.restore === true,
    accessMode: request.accessMode,
    qos: qos.iops !== undefined || qos.bandwidthBytes !== undefined,
    last: null,
    lastOk: false,
  };
}

/** The hot-path verdict; `missing` says the same in words. */
function capable(caps: DriverCapabilities, needs: Needs): boolean {
  return (
    (!needs.block || caps.block) &&
    (needs.fsType === null || caps.fsTypes.length === 0 || caps.fsTypes.includes(needs.fsType)) &&
    (!needs.snapshots || caps.snapshots) &&
    (!needs.clones || caps.clones) &&
    (!needs.restore || caps.restore) &&
    caps.accessModes.includes(needs.accessMode) &&
    (!needs.qos || caps.qos)
  );
}

/** The first missing capability, or null (cold path: explains a rejection). */
function missing(caps: DriverCapabilities, needs: Needs): string | null {
  if (needs.block && !caps.block) return 'driver has no block volumes';
  // Directory drivers (no fsTypes) ignore fsType: the volume is a directory on the pool's filesystem.
  if (needs.fsType !== null && caps.fsTypes.length > 0 && !caps.fsTypes.includes(needs.fsType)) {
    return `fsType ${needs.fsType} not in ${formatList(caps.fsTypes)}`;
  }
  if (needs.snapshots && !caps.snapshots) return 'driver has no snapshots';
  if (needs.clones && !caps.clones) return 'driver has no clones';
  if (needs.restore && !caps.restore) return 'driver cannot restore from snapshots';
  if (!caps.accessModes.includes(needs.accessMode)) {
    return `access mode ${needs.accessMode} not in ${formatList(caps.accessModes)}`;
  }
  if (needs.qos && !caps.qos) return 'profile sets QoS, driver has no QoS';
  return null;
}
