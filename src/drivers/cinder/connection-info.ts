import { PollyError } from '../../core/errors.js';
import type { PublishContext } from '../../core/ports/driver.js';
import { RBD_CONTEXT } from '../rbd/rbd-names.js';

/** Keys of the publish context a cinder attachment answers (beside the rbd node half's own keys). */
export const CINDER_CONTEXT = {
  /** Cinder's `driver_volume_type` (`rbd`, `iscsi`, `fibre_channel`, …): what the node half must speak. */
  driverVolumeType: 'cinder.driverVolumeType',
  attachmentId: 'cinder.attachmentId',
  volumeId: 'cinder.volumeId',
} as const;

/** The transports Polly's nodes can map. */
export const SUPPORTED_TRANSPORTS = ['rbd'] as const;

/** `connection_info` of an attachment (API 3.54: the driver's `data` flattened beside `driver_volume_type`). */
export type ConnectionInfo = Record<string, unknown> & { driver_volume_type?: unknown; data?: Record<string, unknown> };

export interface ContextOptions {
  attachmentId: string;
  volumeId: string;
  /** Pool parameters that override what Cinder reports, for nodes that see the cluster differently. */
  monHost?: string | undefined;
  nodeUser?: string | undefined;
  nodeKeyring?: string | undefined;
  mapper?: string | undefined;
}

const SECRET_KEY = /pass|secret|key|token|chap/i;

/**
 * The publish context of one Cinder attachment. RBD connection info (`name: POOL/IMAGE`, `hosts`,
 * `ports`, `auth_username`) becomes the rbd node half's context; any other transport is kept as
 * `cinder.data.<key>` strings (secrets left out) for the node half to refuse by name. Monitors on the
 * legacy port 6789 are written as msgr v1 addresses, every other port as msgr v2 (`[v2:host:port]`).
 */
export function publishContextOf(poolName: string, info: ConnectionInfo, opts: ContextOptions): PublishContext {
  const data: Record<string, unknown> = info.data && typeof info.data === 'object' ? { ...info, ...info.data } : { ...info };
  const type = typeof data.driver_volume_type === 'string' ? data.driver_volume_type : '';
  if (type === '') throw new PollyError('BACKEND_FAILED', `pool ${poolName}: Cinder's connection info for volume ${opts.volumeId} names no driver_volume_type`);
  const ctx: PublishContext = { [CINDER_CONTEXT.driverVolumeType]: type, [CINDER_CONTEXT.attachmentId]: opts.attachmentId, [CINDER_CONTEXT.volumeId]: opts.volumeId };
  if (type !== 'rbd') {
    for (const [k, v] of Object.entries(data)) {
      if (k === 'data' || k === 'driver_volume_type' || SECRET_KEY.test(k)) continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') ctx[`cinder.data.${k}`] = String(v);
    }
    return ctx;
  }
  const name = typeof data.name === 'string' ? data.name : '';
  const slash = name.indexOf('/');
  if (slash < 1) throw new PollyError('BACKEND_FAILED', `pool ${poolName}: Cinder's RBD connection info names no POOL/IMAGE (${JSON.stringify(name)})`);
  const hosts = Array.isArray(data.hosts) ? data.hosts.map(String) : [];
  const ports = Array.isArray(data.ports) ? data.ports.map(String) : [];
  const monHost =
    opts.monHost ??
    hosts
      .map((h, i) => {
        const port = ports[i] ?? '6789';
        const host = h.includes(':') ? `[${h}]` : h;
        return port === '6789' ? `${host}:${port}` : `[v2:${host}:${port}]`;
      })
      .join(',');
  if (monHost === '') throw new PollyError('BACKEND_FAILED', `pool ${poolName}: Cinder's RBD connection info for volume ${opts.volumeId} lists no monitors`);
  ctx[RBD_CONTEXT.monHost] = monHost;
  ctx[RBD_CONTEXT.pool] = name.slice(0, slash);
  ctx[RBD_CONTEXT.image] = name.slice(slash + 1);
  ctx[RBD_CONTEXT.user] = opts.nodeUser ?? (typeof data.auth_username === 'string' && data.auth_username !== '' ? data.auth_username : 'admin');
  ctx[RBD_CONTEXT.mapper] = opts.mapper ?? 'auto';
  if (opts.nodeKeyring !== undefined) ctx[RBD_CONTEXT.keyring] = opts.nodeKeyring;
  return ctx;
}
