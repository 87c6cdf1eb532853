import type { PoolView } from '../../app/pools.js';
import type { AccessMode, VolumeMode } from '../../core/ports/driver.js';
import type { Profile } from '../../core/types.js';
import { invalidArgument } from './errors.js';
import type { AccessModeName, VolumeCapability } from './proto.js';

/**
 * CSI access modes → the Polly access mode a pool must offer. The single-node read-only and
 * single-node multi-writer modes are what Kubernetes' ReadWriteOnce already allows; multi-node single
 * writer needs a pool that can be shared between nodes, which is what RWX declares.
 */
const ACCESS_MODES: Record<Exclude<AccessModeName, 'UNKNOWN'>, AccessMode> = {
  SINGLE_NODE_WRITER: 'RWO',
  SINGLE_NODE_READER_ONLY: 'RWO',
  SINGLE_NODE_MULTI_WRITER: 'RWO',
  SINGLE_NODE_SINGLE_WRITER: 'RWOP',
  MULTI_NODE_READER_ONLY: 'ROX',
  MULTI_NODE_SINGLE_WRITER: 'RWX',
  MULTI_NODE_MULTI_WRITER: 'RWX',
};

/** One requested capability, in Polly's terms. */
export interface WantedCapability {
  volumeMode: VolumeMode;
  accessMode: AccessMode;
  /** The CSI mode as asked, for messages. */
  csiMode: AccessModeName;
  /** The filesystem asked for (mount only; empty means "the plugin's choice"). */
  fsType: string | undefined;
}

/** Checks and translates `volume_capabilities`; INVALID_ARGUMENT names the bad entry. */
export function parseCapabilities(caps: readonly VolumeCapability[], field: string): WantedCapability[] {
  return caps.map((cap, i) => parseCapability(cap, `${field}[${i}]`));
}

export function parseCapability(cap: VolumeCapability, field: string): WantedCapability {
  let volumeMode: VolumeMode;
  let fsType: string | undefined;
  if (cap.access_type === 'block' || cap.block) {
    volumeMode = 'block';
  } else if (cap.access_type === 'mount' || cap.mount) {
    volumeMode = 'filesystem';
    fsType = cap.mount?.fs_type || undefined;
  } else {
    throw invalidArgument(`${field}: access_type is required (block or mount)`);
  }
  const csiMode = cap.access_mode?.mode ?? 'UNKNOWN';
  if (csiMode === 'UNKNOWN' || !(csiMode in ACCESS_MODES)) {
    throw invalidArgument(`${field}: access_mode.mode is required and must be a known mode, got ${csiMode}`);
  }
  return { volumeMode, accessMode: ACCESS_MODES[csiMode as Exclude<AccessModeName, 'UNKNOWN'>], csiMode, fsType };
}

/**
 * Why a volume of `profile` in `pool` cannot serve `wanted`, or undefined when it can. The pool's driver
 * declares what it can do; the profile fixes the volume mode, the filesystem and the allowed access modes.
 * Directory drivers (no `fsTypes`) put no filesystem on a volume, so a requested fs_type is moot there
 * and accepted (Kubernetes sends `ext4` by default).
 */
export function unsupportedReason(pool: PoolView, profile: Profile | undefined, wanted: readonly WantedCapability[]): string | undefined {
  const caps = pool.capabilities;
  for (const w of wanted) {
    if (w.volumeMode === 'block' && !caps.block) return `pool ${pool.name} (driver ${pool.driver}) has no block volumes`;
    if (!caps.accessModes.includes(w.accessMode)) {
      return `pool ${pool.name} (driver ${pool.driver}) does not offer ${w.csiMode} (${w.accessMode})`;
    }
    if (w.fsType !== undefined && caps.fsTypes.length > 0 && !caps.fsTypes.includes(w.fsType)) {
      return `pool ${pool.name} (driver ${pool.driver}) cannot format ${w.fsType}; it offers ${caps.fsTypes.join(', ')}`;
    }
    if (profile === undefined) continue;
    if (w.volumeMode !== profile.volumeMode) {
      return `profile ${profile.name} makes ${profile.volumeMode} volumes, not ${w.volumeMode === 'block' ? 'raw block' : 'mounted'} ones`;
    }
    if (!profile.accessModes.includes(w.accessMode)) {
      return `profile ${profile.name} does not allow ${w.csiMode} (${w.accessMode})`;
    }
    if (w.fsType !== undefined && caps.fsTypes.length > 0 && w.fsType !== profile.fsType) {
      return `profile ${profile.name} formats volumes as ${profile.fsType}, not ${w.fsType}`;
    }
  }
  return undefined;
}

/** Why a set of capabilities cannot be served by any one volume, whatever the pool (mixed modes). */
export function inconsistentReason(wanted: readonly WantedCapability[]): string | undefined {
  const modes = new Set(wanted.map((w) => w.volumeMode));
  if (modes.size > 1) return 'volume_capabilities mix block and mount: a volume is one or the other';
  const fsTypes = new Set(wanted.flatMap((w) => (w.fsType === undefined ? [] : [w.fsType])));
  if (fsTypes.size > 1) return `volume_capabilities ask for different filesystems (${[...fsTypes].join(', ')})`;
  return undefined;
}
