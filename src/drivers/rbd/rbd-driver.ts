import { Type } from 'typebox';
import { PollyError } from '../../core/errors.js';
import type {
  BackendCapacity,
  BackendObject,
  ControllerAttachRequest,
  CreatedSnapshot,
  CreatedVolume,
  CreateVolumeRequest,
  DriverCapabilities,
  DriverContext,
  NodeConnector,
  PublishContext,
  QosLimits,
  StorageDriver,
  StorageFence,
} from '../../core/ports/driver.js';
import { stderrOf } from '../system/exec.js';
import { fsTypeFor } from '../loopblock/images.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { nodeSecrets, poolParameterSchema, secretParameter, secretParameterKeys } from '../system/pool-parameters.js';
import { CephClient, isNotFound } from './ceph-client.js';
import { fenceRbdImage } from './rbd-fence.js';
import { RBD_CONTEXT, RBD_IMAGE_PREFIX, rbdImageName } from './rbd-names.js';
import { RbdNodeDriver } from './rbd-node.js';

export { RBD_CONTEXT, RBD_IMAGE_PREFIX, rbdImageName };

const MiB = 1024 * 1024;

/**
 * Pool parameters of `rbd`. The server's identity (`user`, `key` or `keyring`) creates, snapshots and
 * deletes images; nodes map images as `nodeUser` with `nodeKey` (a `profile rbd pool=…` user), which
 * reaches a node only inside a stage call. `key` and `nodeKey` are secret: never shown by an API.
 */
export const RBD_PARAMETERS = poolParameterSchema(
  {
    monHost: Type.String({ minLength: 1, description: 'Ceph monitors, as ceph.conf `mon host` takes them ([v2:10.0.0.1:3300],10.0.0.2)' }),
    pool: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'The RBD pool (created and `rbd pool init`-ed beforehand)' }),
    user: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user of the server, without "client." (default admin)' }),
    key: secretParameter('server', 'Cephx secret key of `user`'),
    keyring: Type.String({ minLength: 1, description: 'Keyring file of `user` on the server (instead of `key`)' }),
    nodeUser: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user nodes map images with (default: `user`)' }),
    nodeKey: secretParameter('node', 'Cephx secret key of `nodeUser`, handed to a node only while it stages a volume'),
    nodeKeyring: Type.String({ minLength: 1, description: 'Keyring file of `nodeUser` present on every node (instead of `nodeKey`)' }),
    mapper: Type.String({ pattern: '^(auto|krbd|rbd-fuse)$', description: 'How nodes map images: krbd, rbd-fuse + a loop device, or auto (krbd where the kernel has it)' }),
  },
  ['monHost', 'pool'],
);

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  // xfs grows mounted; ext4 grows offline at the next stage (this sandbox has no CAP_SYS_RESOURCE).
  expand: 'online',
  block: true,
  fsTypes: ['ext4', 'xfs'],
  // A local filesystem on a block image must never be mounted read-write by two nodes at once.
  accessModes: ['RWO', 'RWOP', 'ROX'],
  qos: true,
  sizeEnforced: true,
};

interface LsEntry {
  image: string;
  size: number;
  snapshot?: string;
}

interface DfJson {
  stats: { total_bytes: number; total_avail_bytes: number };
  pools: Array<{ name: string; stats: { stored: number; bytes_used: number; max_avail: number; quota_bytes?: number } }>;
}

/**
 * `rbd`: a Ceph RBD image per volume (thin, default features: layering, exclusive-lock, object-map,
 * fast-diff), ext4/xfs made by the node on first stage, or raw block. Snapshots are clone-v2 children of
 * a transient RBD snapshot (as ceph-csi does), so a snapshot is an image of its own that outlives its
 * volume; restores and clones are clone-v2 children too (copy-on-write, instant). Expansion is `rbd
 * resize`; QoS is librbd image QoS (`rbd_qos_iops_limit`, `rbd_qos_bps_limit`), changeable online.
 * Capacity is the pool's `max_avail` (or its quota). A node is fenced by blocklisting its Ceph client
 * instances (`ceph osd blocklist add`), after which its writes fail at the OSDs.
 */
export class RbdDriver implements StorageDriver {
  readonly driverName = 'rbd';
  readonly capabilities = CAPABILITIES;
  readonly node: RbdNodeDriver;
  readonly storageFence: StorageFence;
  readonly secretParameters = Object.fromEntries(secretParameterKeys(RBD_PARAMETERS));
  readonly #poolName: string;
  readonly #pool: string;
  readonly #params: Record<string, string>;
  readonly #client: CephClient;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#params = ctx.parameters;
    this.#pool = ctx.parameters.pool ?? '';
    this.#client = CephClient.forController('rbd', ctx);
    this.node = new RbdNodeDriver(ctx);
    this.storageFence = { fenceNode: (req) => this.#fence(req.backendId, req.connector) };
  }

  #spec(kind: 'volume' | 'snapshot', id: string): string {
    return `${this.#pool}/${rbdImageName(kind, id)}`;
  }

  async init(): Promise<void> {
    if (this.#params.key === undefined && this.#params.keyring === undefined) {
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${this.#poolName}: driver rbd needs parameter "key" or "keyring"`, { pool: this.#poolName, key: 'key' });
    }
    try {
      await this.#client.rbdJson(['ls', '-p', this.#pool]);
    } catch (err) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: RBD pool ${this.#pool} is not usable: ${stderrOf(err) || (err as Error).message}`);
    }
    await this.node.init();
  }

  async capacity(): Promise<BackendCapacity> {
    const df = await this.#client.cephJson<DfJson>(['df', 'detail']);
    const p = df.pools.find((x) => x.name === this.#pool);
    if (!p) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: ceph df lists no pool ${this.#pool}`);
    const quota = p.stats.quota_bytes ?? 0;
    if (quota > 0) return { totalBytes: quota, freeBytes: Math.max(0, Math.min(p.stats.max_avail, quota - p.stats.stored)) };
    return { totalBytes: df.stats.total_bytes, freeBytes: Math.min(p.stats.max_avail, df.stats.total_bytes) };
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    const fsType = fsTypeFor(this.#poolName, req.volumeMode, req.fsType);
    const sizeBytes = roundUp(Math.max(req.sizeBytes, fsType === 'xfs' ? 300 * MiB : req.sizeBytes), MiB);
    return this.#locks.run(req.volumeId, async () => {
      const spec = this.#spec('volume', req.volumeId);
      let size = await this.#size(spec);
      if (size === undefined) {
        if (req.source) {
          const kind = req.source.kind;
          assertObjectId(this.#poolName, kind, req.source.backendId);
          const from = this.#spec(kind, req.source.backendId);
          const sourceSize = await this.#size(from);
          if (sourceSize === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${kind} ${req.source.backendId} does not exist`);
          if (sizeBytes < sourceSize) {
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${kind} ${req.source.backendId} (${sourceSize} bytes)`);
          }
          await this.#cloneImage(from, spec);
        } else {
          await this.#client.rbd(['create', '--size', `${sizeBytes / MiB}M`, spec]);
        }
        size = (await this.#size(spec)) ?? 0;
      }
      if (size < sizeBytes) {
        await this.#client.rbd(['resize', '--size', `${sizeBytes / MiB}M`, spec, '--no-progress']);
        size = sizeBytes;
      }
      if (req.qos) await this.#applyQos(spec, req.qos);
      return { backendId: req.volumeId, sizeBytes: size };
    });
  }

  /**
   * A clone-v2 child of `from` at `to`: a transient snapshot of `from`, the clone, then the snapshot
   * removed (it moves to the trash namespace while the child needs it). A crash in between leaves a
   * snapshot named after `to`, which a repeat reuses and removes.
   */
  async #cloneImage(from: string, to: string): Promise<void> {
    const snap = `${from}@polly-clone-${to.split('/').pop() ?? ''}`;
    try {
      await this.#client.rbd(['snap', 'create', snap, '--no-progress']);
    } catch (err) {
      if (!/exists/i.test(stderrOf(err))) throw err;
    }
    try {
      await this.#client.rbd(['clone', '--rbd-default-clone-format', '2', snap, to]);
    } catch (err) {
      if (!/exists/i.test(stderrOf(err))) throw err;
    }
    await this.#client.rbd(['snap', 'rm', snap, '--no-progress']).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async delete(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, () => this.#remove(this.#spec('volume', backendId)));
  }

  /**
   * Removes an image; one whose (trashed) snapshots still have clone children goes to the RBD trash
   * instead, and the trash is purged of whatever became removable (a parent whose last child went).
   */
  async #remove(spec: string): Promise<void> {
    try {
      await this.#client.rbd(['rm', spec, '--no-progress']);
    } catch (err) {
      const text = stderrOf(err);
      if (isNotFound(err)) {
        // gone already
      } else if (/linked clones|has snapshots|children/i.test(text)) {
        await this.#client.rbd(['trash', 'mv', spec]);
      } else if (/watchers|still has watchers/i.test(text)) {
        throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: image ${spec} is still mapped on a node; detach it first`);
      } else {
        throw err;
      }
    }
    await this.#client.rbd(['trash', 'purge', this.#pool, '--no-progress']).catch(() => undefined);
  }

  async expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    assertObjectId(this.#poolName, 'volume', backendId);
    assertSizeBytes(this.#poolName, sizeBytes);
    return this.#locks.run(backendId, async () => {
      const spec = this.#spec('volume', backendId);
      const current = await this.#size(spec);
      if (current === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
      if (sizeBytes <= current) return { sizeBytes: current };
      const grown = roundUp(sizeBytes, MiB);
      await this.#client.rbd(['resize', '--size', `${grown / MiB}M`, spec, '--no-progress']);
      return { sizeBytes: grown };
    });
  }

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      const spec = this.#spec('snapshot', snapshotId);
      const existing = await this.#size(spec);
      if (existing !== undefined) return { backendId: snapshotId, sizeBytes: existing };
      const from = this.#spec('volume', volumeBackendId);
      if ((await this.#size(from)) === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${volumeBackendId} does not exist`);
      await this.#cloneImage(from, spec);
      return { backendId: snapshotId, sizeBytes: (await this.#size(spec)) ?? 0 };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, () => this.#remove(this.#spec('snapshot', backendId)));
  }

  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const spec = this.#spec('volume', backendId);
    try {
      const du = await this.#client.rbdJson<{ images: Array<{ name: string; used_size: number; snapshot?: string }> }>(['du', spec]);
      return du.images.filter((i) => i.snapshot === undefined).reduce((n, i) => n + i.used_size, 0);
    } catch (err) {
      if (isNotFound(err)) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
      throw err;
    }
  }

  async list(): Promise<BackendObject[]> {
    const entries = (await this.#client.rbdJson<LsEntry[] | null>(['ls', '-l', '-p', this.#pool])) ?? [];
    const out: BackendObject[] = [];
    for (const e of entries) {
      if (e.snapshot !== undefined) continue;
      for (const kind of ['volume', 'snapshot'] as const) {
        if (e.image.startsWith(RBD_IMAGE_PREFIX[kind])) out.push({ backendId: e.image.slice(RBD_IMAGE_PREFIX[kind].length), kind, sizeBytes: e.size });
      }
    }
    return out;
  }

  /**
   * The node half stages from this: where the cluster is, the image, and the identity to map it with.
   * The key itself is not in it (a publish context is stored and shown): it reaches the node as a
   * node-scoped secret of the stage call, or the node has `nodeKeyring`.
   */
  async attach(req: ControllerAttachRequest): Promise<PublishContext> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    const spec = this.#spec('volume', req.backendId);
    if ((await this.#size(spec)) === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${req.backendId} does not exist`);
    const ctx: PublishContext = {
      [RBD_CONTEXT.monHost]: this.#params.monHost ?? '',
      [RBD_CONTEXT.pool]: this.#pool,
      [RBD_CONTEXT.image]: rbdImageName('volume', req.backendId),
      [RBD_CONTEXT.user]: this.#params.nodeUser ?? this.#params.user ?? 'admin',
      [RBD_CONTEXT.mapper]: this.#params.mapper ?? 'auto',
    };
    if (this.#params.nodeKeyring !== undefined) ctx[RBD_CONTEXT.keyring] = this.#params.nodeKeyring;
    return ctx;
  }

  nodeSecrets(): Record<string, string> {
    return nodeSecrets(RBD_PARAMETERS, this.#params);
  }

  async detach(): Promise<void> {
    // Nothing to undo at the cluster: the node's unstage unmaps the image.
  }

  async setQos(backendId: string, qos: QosLimits): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#applyQos(this.#spec('volume', backendId), qos);
  }

  /** librbd image QoS: set what the profile limits, remove what it does not (0 = unlimited). */
  async #applyQos(spec: string, qos: QosLimits): Promise<void> {
    const wanted: Array<[string, number | undefined]> = [
      ['rbd_qos_iops_limit', qos.iops],
      ['rbd_qos_bps_limit', qos.bandwidthBytes],
    ];
    for (const [key, value] of wanted) {
      if (value !== undefined && value > 0) await this.#client.rbd(['config', 'image', 'set', spec, key, String(Math.floor(value))]);
      else await this.#client.rbd(['config', 'image', 'remove', spec, key]).catch(() => undefined);
    }
  }

  /** The image's QoS limits as librbd will apply them (for checks and `polly volume get`). */
  async qosOf(backendId: string): Promise<Record<string, string>> {
    const list = await this.#client.rbdJson<Array<{ name: string; value: string; source: string }>>(['config', 'image', 'list', this.#spec('volume', backendId)]);
    return Object.fromEntries(list.filter((e) => e.name.startsWith('rbd_qos_') && e.source === 'image').map((e) => [e.name, e.value]));
  }

  /** Storage-side fence: the image's watchers and lock holders and the node's addresses blocklisted (see {@link fenceRbdImage}). */
  async #fence(backendId: string, connector: NodeConnector | undefined): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await fenceRbdImage(this.#client, this.#spec('volume', backendId), connector);
  }

  async close(): Promise<void> {
    await this.node.close();
  }

  /** Provisioned size of an image, or undefined when there is none. */
  async #size(spec: string): Promise<number | undefined> {
    try {
      return (await this.#client.rbdJson<{ size: number }>(['info', spec])).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
