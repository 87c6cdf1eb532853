import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import type { NodeConnector, PublishContext } from '../../core/ports/driver.js';
import { CephClient } from '../rbd/ceph-client.js';
import { fenceRbdImage } from '../rbd/rbd-fence.js';
import { RBD_CONTEXT } from '../rbd/rbd-names.js';
import { CINDER_CONTEXT } from './connection-info.js';

/**
 * Storage-side fence of a cinder pool whose backend attaches over RBD: the fenced node's Ceph clients
 * are blocklisted on the cluster the attachment's connection info names (its monitors, pool and image),
 * as an `rbd` pool fences (see {@link fenceRbdImage}). The server's Ceph identity is `fenceUser` /
 * `fenceKey` (or `fenceKeyring`), by default the node user and key the pool hands to nodes: Cinder's RBD
 * user has `profile rbd` on the monitors, which allows `osd blocklist`. Other transports (iSCSI, FC, …)
 * have no client Polly can cut off at the storage: fencing them is UNSUPPORTED, named.
 */
export class CinderRbdFence {
  readonly #poolName: string;
  readonly #dir: string;
  readonly #params: Record<string, string>;
  readonly #clients = new Map<string, CephClient>();

  constructor(poolName: string, dataDir: string, params: Record<string, string>) {
    this.#poolName = poolName;
    this.#dir = join(dataDir, 'cinder', poolName, 'fence');
    this.#params = params;
  }

  /** Whether the pool can fence: not switched off, and the server has a Ceph key to blocklist with. */
  static enabled(params: Record<string, string>): boolean {
    return params.storageFence !== 'off' && (params.fenceKey !== undefined || params.fenceKeyring !== undefined || params.nodeKey !== undefined);
  }

  /** Blocklists the clients of the image `ctx` names and of the node's addresses; answers the entries. */
  async fence(volumeId: string, node: string, ctx: PublishContext, connector: NodeConnector | undefined): Promise<string[]> {
    const type = ctx[CINDER_CONTEXT.driverVolumeType];
    if (type !== 'rbd') {
      throw new PollyError(
        'UNSUPPORTED',
        `pool ${this.#poolName}: cannot fence node ${node} off volume ${volumeId} at the storage: Cinder attaches it over driver_volume_type "${type ?? 'unknown'}" (only rbd attachments are fenced, by Ceph client blocklist)`,
        { driverVolumeType: type },
      );
    }
    const monHost = ctx[RBD_CONTEXT.monHost] ?? '';
    const user = this.#params.fenceUser ?? ctx[RBD_CONTEXT.user] ?? 'admin';
    const spec = `${ctx[RBD_CONTEXT.pool] ?? ''}/${ctx[RBD_CONTEXT.image] ?? ''}`;
    return (await fenceRbdImage(this.#client(monHost, user), spec, connector)).blocklisted;
  }

  /** One client identity per cluster and user (a pool's volumes normally all live on one). */
  #client(monHost: string, user: string): CephClient {
    const key = `${monHost} ${user}`;
    let client = this.#clients.get(key);
    if (!client) {
      const dir = join(this.#dir, createHash('sha256').update(key).digest('hex').slice(0, 12));
      const secret = this.#params.fenceKey ?? (this.#params.fenceKeyring === undefined ? this.#params.nodeKey : undefined);
      client = new CephClient(dir, { monHost, user, key: secret, keyring: this.#params.fenceKeyring });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Removes the client files (keyrings) the fence wrote. */
  async close(): Promise<void> {
    for (const c of this.#clients.values()) await c.forget();
    this.#clients.clear();
  }
}
