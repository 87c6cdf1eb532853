import type { AccessModeName, VolumeCapability } from '../../api/csi/proto.js';
import { PollyError } from '../../core/errors.js';
import type { AccessMode, PublishContext, VolumeMode } from '../../core/ports/driver.js';

/** CSI's access mode for each of Polly's (readOnly narrows a single-node writer to a reader). */
export function csiAccessMode(mode: AccessMode, readOnly = false): AccessModeName {
  switch (mode) {
    case 'RWOP':
      return readOnly ? 'SINGLE_NODE_READER_ONLY' : 'SINGLE_NODE_SINGLE_WRITER';
    case 'ROX':
      return 'MULTI_NODE_READER_ONLY';
    case 'RWX':
      return 'MULTI_NODE_MULTI_WRITER';
    case 'RWO':
      return readOnly ? 'SINGLE_NODE_READER_ONLY' : 'SINGLE_NODE_WRITER';
  }
}

export function volumeCapability(opts: { volumeMode: VolumeMode; fsType: string | undefined; accessMode: AccessMode; readOnly?: boolean }): VolumeCapability {
  const access_mode = { mode: csiAccessMode(opts.accessMode, opts.readOnly === true) };
  if (opts.volumeMode === 'block') return { block: {}, access_mode };
  return { mount: { fs_type: opts.fsType ?? '', mount_flags: [], volume_mount_group: '' }, access_mode };
}

/**
 * Polly keeps one string map per attachment (the publish context); a CSI node call needs two, the
 * plugin's publish_context (from ControllerPublish) and its volume_context (from CreateVolume). Both
 * travel in Polly's map under these prefixes and are split again on the node.
 */
const PUBLISH_PREFIX = 'csi.publish/';
const VOLUME_PREFIX = 'csi.volume/';
/** The access mode the volume was published with, for NodeStage/NodePublish's volume_capability. */
export const ACCESS_MODE_KEY = 'csi.polly.dev/access-mode';

export function joinContexts(publish: Record<string, string>, volume: Record<string, string>, accessMode: AccessMode): PublishContext {
  const out: PublishContext = { [ACCESS_MODE_KEY]: accessMode };
  for (const [k, v] of Object.entries(publish)) out[PUBLISH_PREFIX + k] = v;
  for (const [k, v] of Object.entries(volume)) out[VOLUME_PREFIX + k] = v;
  return out;
}

export function splitContexts(ctx: PublishContext | undefined): { publish: Record<string, string>; volume: Record<string, string>; accessMode: AccessMode | undefined } {
  const publish: Record<string, string> = {};
  const volume: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx ?? {})) {
    if (k.startsWith(PUBLISH_PREFIX)) publish[k.slice(PUBLISH_PREFIX.length)] = v;
    else if (k.startsWith(VOLUME_PREFIX)) volume[k.slice(VOLUME_PREFIX.length)] = v;
  }
  const mode = ctx?.[ACCESS_MODE_KEY];
  return { publish, volume, accessMode: mode === 'RWO' || mode === 'RWOP' || mode === 'ROX' || mode === 'RWX' ? mode : undefined };
}

/** Plugin ids are opaque (UUIDs, paths, ARNs): only refused when they could not be an id at all. */
export function assertBackendId(poolName: string, id: string): void {
  if (id.length === 0 || id.length > 1024 || /[\0\n]/.test(id)) {
    throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: ${JSON.stringify(id.slice(0, 64))} is not a CSI object id`);
  }
}

