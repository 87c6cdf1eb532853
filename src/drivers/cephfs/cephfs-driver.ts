import { setTimeout as sleep } from 'node:timers/promises';
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
  StorageDriver,
  StorageFence,
} from '../../core/ports/driver.js';
import { blocklistAdd } from '../rbd/ceph-blocklist.js';
import { blocklistEntryFor, CephClient, isNotFound } from '../rbd/ceph-client.js';
import { stderrOf } from '../system/exec.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { nodeSecrets, poolParameterSchema, secretParameter, secretParameterKeys } from '../system/pool-parameters.js';
import { CEPHFS_CONTEXT, CEPHFS_NODE_METADATA, CEPHFS_PREFIX, cephfsName } from './cephfs-names.js';
import { CephfsNodeDriver } from './cephfs-node.js';

export { CEPHFS_CONTEXT, CEPHFS_PREFIX, cephfsName };

/**
 * Pool parameters of `cephfs`. The server's identity (`user`, `key` or `keyring`) creates, resizes,
 * snapshots and removes subvolumes through the manager's `volumes` module and evicts clients when it
 * fences; nodes mount as `nodeUser` with `nodeKey` (a `ceph fs authorize <fs> client.X /volumes/<group>
 * rw` user), which reaches a node only inside a stage call. `key` and `nodeKey` are secret.
 */
export const CEPHFS_PARAMETERS = poolParameterSchema(
  {
    monHost: Type.String({ minLength: 1, description: 'Ceph monitors, as ceph.conf `mon host` takes them ([v2:10.0.0.1:3300],10.0.0.2)' }),
    fsName: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'The CephFS file system (`ceph fs ls`)' }),
    group: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Subvolume group holding Polly volumes (default polly; created by init)' }),
    user: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user of the server, without "client." (default admin)' }),
    key: secretParameter('server', 'Cephx secret key of `user`'),
    keyring: Type.String({ minLength: 1, description: 'Keyring file of `user` on the server (instead of `key`)' }),
    nodeUser: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user nodes mount volumes with (default: `user`)' }),
    nodeKey: secretParameter('node', 'Cephx secret key of `nodeUser`, handed to a node only while it stages a volume'),
    nodeKeyring: Type.String({ minLength: 1, description: 'Keyring file of `nodeUser` present on every node (instead of `nodeKey`)' }),
    mounter: Type.String({ pattern: '^(auto|kernel|ceph-fuse)$', description: 'How nodes mount: the kernel client, ceph-fuse, or auto (the kernel client where the kernel has it)' }),
  },
  ['monHost', 'fsName'],
);

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  // A quota raise is seen by mounted clients at once.
  expand: 'online',
  block: false,
  fsTypes: [],
  // A shared file system: any number of nodes read and write at once.
  accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
  qos: false,
  // The quota (ceph.quota.max_bytes) is enforced by the clients: writes past it fail with EDQUOT.
  sizeEnforced: true,
};

interface SubvolumeInfo {
  state?: string;
  bytes_quota?: number | string;
  bytes_used?: number;
  path?: string;
}

interface DfJson {
  stats: { total_bytes: number; total_avail_bytes: number };
  pools: Array<{ name: string; stats: { stored: number; max_avail: number; quota_bytes?: number } }>;
}

interface ClientSession {
  id: number;
  inst?: string;
  client_metadata?: Record<string, string>;
}

/**
 * A subvolume of the group that holds no data, only metadata: `snapshot.<name>` = `<subvolume> <size>`
 * for every Polly snapshot (which subvolume it belongs to and that volume's quota when it was taken).
 * Snapshot ids are all Polly has to find a snapshot by, and a retained snapshot's own metadata is gone
 * with its volume.
 */
const INDEX_SUBVOLUME = 'polly-index';
/** Transient snapshots a volume-to-volume clone is made from. */
const CLONE_SNAPSHOT_PREFIX = 'polly-clone-';
const CLONE_TIMEOUT_MS = 30 * 60_000;

/**
 * `cephfs`: a CephFS subvolume per volume (`ceph fs subvolume create --size`, in the pool's subvolume
 * group), its size a quota (`ceph.quota.max_bytes`) the clients enforce; expansion raises it. Snapshots
 * are subvolume snapshots (`ceph fs subvolume snapshot create`), kept when their volume is deleted
 * (`--retain-snapshots`); restores and clones are `ceph fs subvolume snapshot clone` (a full copy made
 * by the manager; create waits until it is complete). Capacity is the file system's first data pool's
 * `max_avail`. Any number of nodes mount a volume at once (RWX). A node is fenced by evicting its client
 * sessions of the volume at every MDS rank (which blocklists them) and blocklisting its registered
 * addresses.
 */
export class CephfsDriver implements StorageDriver {
  readonly driverName = 'cephfs';
  readonly capabilities = CAPABILITIES;
  readonly node: CephfsNodeDriver;
  readonly storageFence: StorageFence;
  readonly secretParameters = Object.fromEntries(secretParameterKeys(CEPHFS_PARAMETERS));
  readonly #poolName: string;
  readonly #fs: string;
  readonly #group: string;
  readonly #params: Record<string, string>;
  readonly #client: CephClient;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#params = ctx.parameters;
    this.#fs = ctx.parameters.fsName ?? '';
    this.#group = ctx.parameters.group ?? 'polly';
    this.#client = CephClient.forController('cephfs', ctx);
    this.node = new CephfsNodeDriver(ctx);
    this.storageFence = { fenceNode: (req) => this.#fence(req.backendId, req.node, req.connector) };
  }

  /** `ceph fs subvolume <verb> <fs> …` in the pool's group. */
  #sv(verb: string, ...args: string[]): string[] {
    return ['fs', 'subvolume', ...verb.split(' '), this.#fs, ...args, '--group_name', this.#group];
  }

  async init(): Promise<void> {
    if (this.#params.key === undefined && this.#params.keyring === undefined) {
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${this.#poolName}: driver cephfs needs parameter "key" or "keyring"`, { pool: this.#poolName, key: 'key' });
    }
    try {
      const fss = await this.#client.cephJson<Array<{ name: string }>>(['fs', 'ls']);
      if (!fss.some((f) => f.name === this.#fs)) throw new Error(`no CephFS named ${this.#fs} (there are: ${fss.map((f) => f.name).join(', ') || 'none'})`);
      await this.#client.ceph(['fs', 'subvolumegroup', 'create', this.#fs, this.#group]);
      await this.#client.ceph(this.#sv('create', INDEX_SUBVOLUME));
    } catch (err) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: CephFS ${this.#fs} is not usable: ${stderrOf(err) || (err as Error).message}`);
    }
    await this.node.init();
  }

  async capacity(): Promise<BackendCapacity> {
    const pool = await this.#dataPool();
    const df = await this.#client.cephJson<DfJson>(['df', 'detail']);
    const p = df.pools.find((x) => x.name === pool);
    if (!p) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: ceph df lists no pool ${pool}`);
    const quota = p.stats.quota_bytes ?? 0;
    if (quota > 0) return { totalBytes: quota, freeBytes: Math.max(0, Math.min(p.stats.max_avail, quota - p.stats.stored)) };
    return { totalBytes: df.stats.total_bytes, freeBytes: Math.min(p.stats.max_avail, df.stats.total_bytes) };
  }

  async #dataPool(): Promise<string> {
    const fss = await this.#client.cephJson<Array<{ name: string; data_pools: string[] }>>(['fs', 'ls']);
    const pool = fss.find((f) => f.name === this.#fs)?.data_pools[0];
    if (pool === undefined) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: CephFS ${this.#fs} has no data pool`);
    return pool;
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    if (req.volumeMode === 'block') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: cephfs volumes are file systems, not raw block devices`);
    const name = cephfsName('volume', req.volumeId);
    return this.#locks.run(req.volumeId, async () => {
      let info = await this.#info(name);
      if (info?.state === 'snapshot-retained') info = undefined;
      if (info === undefined) {
        if (req.source) {
          const { subvolume, snapshot, transient, sourceSize } = await this.#cloneSource(req.source, name);
          if (sourceSize !== undefined && req.sizeBytes < sourceSize) {
            if (transient) await this.#removeSnapshot(subvolume, snapshot);
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${req.source.kind} ${req.source.backendId} (${sourceSize} bytes)`);
          }
          await this.#client.ceph(['fs', 'subvolume', 'snapshot', 'clone', this.#fs, subvolume, snapshot, name, '--group_name', this.#group, '--target_group_name', this.#group]).catch((err: unknown) => {
            if (!/exists/i.test(stderrOf(err))) throw err;
          });
          await this.#waitForClone(name);
          if (transient) await this.#removeSnapshot(subvolume, snapshot);
        } else {
          await this.#client.ceph(this.#sv('create', name, '--size', String(req.sizeBytes)));
        }
      } else if (info.state !== 'complete') {
        // A clone a crash interrupted the wait for.
        await this.#waitForClone(name);
      }
      let size = quotaOf(await this.#info(name));
      if (size === undefined || size < req.sizeBytes) {
        await this.#client.ceph(this.#sv('resize', name, String(req.sizeBytes), '--no_shrink'));
        size = req.sizeBytes;
      }
      return { backendId: req.volumeId, sizeBytes: size };
    });
  }

  /** The subvolume and snapshot a new volume is cloned from (a transient snapshot for a volume source). */
  async #cloneSource(
    source: NonNullable<CreateVolumeRequest['source']>,
    target: string,
  ): Promise<{ subvolume: string; snapshot: string; transient: boolean; sourceSize: number | undefined }> {
    assertObjectId(this.#poolName, source.kind, source.backendId);
    if (source.kind === 'snapshot') {
      const found = await this.#findSnapshot(source.backendId);
      if (found === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: snapshot ${source.backendId} does not exist`);
      return { subvolume: found.subvolume, snapshot: cephfsName('snapshot', source.backendId), transient: false, sourceSize: found.sizeBytes };
    }
    const subvolume = cephfsName('volume', source.backendId);
    const info = await this.#info(subvolume);
    if (info === undefined || info.state !== 'complete') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${source.backendId} does not exist`);
    const snapshot = `${CLONE_SNAPSHOT_PREFIX}${target}`;
    await this.#client.ceph(['fs', 'subvolume', 'snapshot', 'create', this.#fs, subvolume, snapshot, '--group_name', this.#group]).catch((err: unknown) => {
      if (!/exists/i.test(stderrOf(err))) throw err;
    });
    return { subvolume, snapshot, transient: true, sourceSize: quotaOf(info) };
  }

  async #waitForClone(name: string): Promise<void> {
    const deadline = Date.now() + CLONE_TIMEOUT_MS;
    for (;;) {
      const status = await this.#client.cephJson<{ status: { state: string; failure?: { errstr?: string } } }>(['fs', 'clone', 'status', this.#fs, name, '--group_name', this.#group]);
      const state = status.status.state;
      if (state === 'complete') return;
      if (state === 'failed' || state === 'canceled') {
        throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: clone ${name} ${state}: ${status.status.failure?.errstr ?? 'no reason given'}`);
      }
      if (Date.now() > deadline) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: clone ${name} still ${state} after ${CLONE_TIMEOUT_MS} ms`);
      await sleep(250);
    }
  }

  async delete(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const name = cephfsName('volume', backendId);
    await this.#locks.run(backendId, async () => {
      const info = await this.#info(name);
      if (info === undefined || info.state === 'snapshot-retained') return;
      if (info.path !== undefined) {
        const mounted = (await this.#sessions()).filter((s) => isUnder(s.client_metadata?.root, info.path));
        if (mounted.length > 0) {
          const where = [...new Set(mounted.map((s) => s.client_metadata?.[CEPHFS_NODE_METADATA] ?? s.client_metadata?.hostname ?? s.inst ?? String(s.id)))];
          throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: volume ${backendId} is still mounted (${where.join(', ')}); detach it first`);
        }
      }
      // Snapshots outlive their volume: the subvolume's data goes, its snapshots stay until deleted.
      await this.#client.ceph(this.#sv('rm', name, '--retain-snapshots')).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    });
  }

  async expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    assertObjectId(this.#poolName, 'volume', backendId);
    assertSizeBytes(this.#poolName, sizeBytes);
    const name = cephfsName('volume', backendId);
    return this.#locks.run(backendId, async () => {
      const info = await this.#info(name);
      if (info === undefined || info.state === 'snapshot-retained') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
      const current = quotaOf(info);
      if (current !== undefined && sizeBytes <= current) return { sizeBytes: current };
      await this.#client.ceph(this.#sv('resize', name, String(sizeBytes), '--no_shrink'));
      return { sizeBytes };
    });
  }

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      const snap = cephfsName('snapshot', snapshotId);
      const found = await this.#findSnapshot(snapshotId);
      if (found !== undefined) return { backendId: snapshotId, sizeBytes: found.sizeBytes ?? 0 };
      const subvolume = cephfsName('volume', volumeBackendId);
      const info = await this.#info(subvolume);
      if (info === undefined || info.state !== 'complete') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${volumeBackendId} does not exist`);
      const size = quotaOf(info) ?? 0;
      // Indexed first: a crash before the snapshot exists leaves an entry that points at nothing (ignored).
      await this.#client.ceph(this.#sv('metadata set', INDEX_SUBVOLUME, indexKey(snap), `${subvolume} ${size}`));
      await this.#client.ceph(['fs', 'subvolume', 'snapshot', 'create', this.#fs, subvolume, snap, '--group_name', this.#group]).catch((err: unknown) => {
        if (!/exists/i.test(stderrOf(err))) throw err;
      });
      return { backendId: snapshotId, sizeBytes: size };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, async () => {
      const snap = cephfsName('snapshot', backendId);
      const found = await this.#findSnapshot(backendId);
      if (found !== undefined) await this.#removeSnapshot(found.subvolume, snap);
      await this.#client.ceph(this.#sv('metadata rm', INDEX_SUBVOLUME, indexKey(snap))).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    });
  }

  /** Removes a snapshot (a retained subvolume whose last snapshot goes is purged by Ceph). */
  async #removeSnapshot(subvolume: string, snapshot: string): Promise<void> {
    await this.#client.ceph(['fs', 'subvolume', 'snapshot', 'rm', this.#fs, subvolume, snapshot, '--group_name', this.#group]).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const info = await this.#info(cephfsName('volume', backendId));
    if (info === undefined || info.state === 'snapshot-retained') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    return info.bytes_used;
  }

  async list(): Promise<BackendObject[]> {
    const out: BackendObject[] = [];
    const index = await this.#index();
    for (const subvolume of await this.#subvolumes()) {
      const info = await this.#info(subvolume);
      if (info === undefined) continue;
      if (info.state === 'complete' && subvolume.startsWith(CEPHFS_PREFIX.volume)) {
        out.push({ backendId: subvolume.slice(CEPHFS_PREFIX.volume.length), kind: 'volume', sizeBytes: quotaOf(info) ?? 0, usedBytes: info.bytes_used });
      }
      for (const snap of await this.#snapshotsOf(subvolume)) {
        if (!snap.startsWith(CEPHFS_PREFIX.snapshot)) continue;
        const entry = parseIndexEntry(index[indexKey(snap)]);
        out.push({ backendId: snap.slice(CEPHFS_PREFIX.snapshot.length), kind: 'snapshot', sizeBytes: entry?.subvolume === subvolume ? entry.sizeBytes : 0 });
      }
    }
    return out;
  }

  /**
   * The node half mounts from this: where the cluster is, the subvolume's path, the identity to mount
   * it with, and the node's name (set as client metadata, by which a fence finds the node's sessions).
   * The key is not in it: it reaches the node as a node-scoped secret of the stage call, or the node has
   * `nodeKeyring`.
   */
  async attach(req: ControllerAttachRequest): Promise<PublishContext> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    const info = await this.#info(cephfsName('volume', req.backendId));
    if (info === undefined || info.state !== 'complete' || info.path === undefined) {
      throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${req.backendId} does not exist`);
    }
    const ctx: PublishContext = {
      [CEPHFS_CONTEXT.monHost]: this.#params.monHost ?? '',
      [CEPHFS_CONTEXT.fsName]: this.#fs,
      [CEPHFS_CONTEXT.path]: info.path,
      [CEPHFS_CONTEXT.user]: this.#params.nodeUser ?? this.#params.user ?? 'admin',
      [CEPHFS_CONTEXT.mounter]: this.#params.mounter ?? 'auto',
      [CEPHFS_CONTEXT.node]: req.node.node,
    };
    if (this.#params.nodeKeyring !== undefined) ctx[CEPHFS_CONTEXT.keyring] = this.#params.nodeKeyring;
    return ctx;
  }

  nodeSecrets(): Record<string, string> {
    return nodeSecrets(CEPHFS_PARAMETERS, this.#params);
  }

  async detach(): Promise<void> {
    // Nothing to undo at the cluster: the node's unstage ends its client session.
  }

  /**
   * Storage-side fence: evicts every client session of `node` (its `polly_node` metadata, or for a
   * kernel client the connector's hostname) rooted in the volume's subvolume, at
   * every active MDS rank. Eviction blocklists the client instance (mds_session_blocklist_on_evict), so
   * its further writes fail at the OSDs and its caps go to the other clients at once; the instances are
   * also blocklisted explicitly, and so are the node's registered non-loopback addresses (every client of
   * that host, as ceph-csi's network fence does).
   */
  async #fence(backendId: string, node: string, connector: NodeConnector | undefined): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const info = await this.#info(cephfsName('volume', backendId));
    const targets = new Set<string>();
    if (info?.path !== undefined) {
      for (const { rank, session } of await this.#sessionsByRank()) {
        const meta = session.client_metadata ?? {};
        // ceph-fuse clients carry the node's name; kernel clients only their hostname.
        const ofNode = meta[CEPHFS_NODE_METADATA] === node || (meta[CEPHFS_NODE_METADATA] === undefined && connector !== undefined && meta.hostname === connector.hostname);
        if (!ofNode || !isUnder(meta.root, info.path)) continue;
        const addr = session.inst?.split(' ')[1];
        if (addr !== undefined) targets.add(addr);
        await this.#client.ceph(['tell', `mds.${this.#fs}:${rank}`, 'client', 'evict', `id=${session.id}`]).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
    }
    // Loopback and link-local addresses never reach a monitor; IPv6 goes in brackets (see blocklistEntryFor).
    for (const a of connector?.addresses ?? []) {
      const entry = blocklistEntryFor(a);
      if (entry !== undefined) targets.add(entry);
    }
    // All in one monitor proposal where the monitor allows (see blocklistAdd).
    await blocklistAdd(this.#client, [...new Set([...targets].map((a) => a.replace(/^(v[12]:)/, '')))]);
  }

  /** Client sessions of every active MDS rank of the file system. */
  async #sessionsByRank(): Promise<Array<{ rank: number; session: ClientSession }>> {
    const fs = await this.#client.cephJson<{ mdsmap: { max_mds?: number; in?: number[] } }>(['fs', 'get', this.#fs]);
    const ranks = fs.mdsmap.in ?? [...Array(fs.mdsmap.max_mds ?? 1).keys()];
    const out: Array<{ rank: number; session: ClientSession }> = [];
    for (const rank of ranks) {
      const sessions = await this.#client.cephJson<ClientSession[]>(['tell', `mds.${this.#fs}:${rank}`, 'client', 'ls']);
      for (const session of sessions) out.push({ rank, session });
    }
    return out;
  }

  async #sessions(): Promise<ClientSession[]> {
    return (await this.#sessionsByRank()).map((s) => s.session);
  }

  async close(): Promise<void> {
    await this.node.close();
  }

  /** `subvolume info`, or undefined when there is no such subvolume. */
  async #info(name: string): Promise<SubvolumeInfo | undefined> {
    try {
      return await this.#client.cephJson<SubvolumeInfo>(this.#sv('info', name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // A clone still being copied answers EAGAIN to `info`.
      if (/EAGAIN|in progress|pending/i.test(stderrOf(err))) return { state: 'in-progress' };
      throw err;
    }
  }

  async #subvolumes(): Promise<string[]> {
    return (await this.#client.cephJson<Array<{ name: string }>>(['fs', 'subvolume', 'ls', this.#fs, '--group_name', this.#group])).map((s) => s.name);
  }

  async #snapshotsOf(subvolume: string): Promise<string[]> {
    try {
      return (await this.#client.cephJson<Array<{ name: string }>>(['fs', 'subvolume', 'snapshot', 'ls', this.#fs, subvolume, '--group_name', this.#group])).map((s) => s.name);
    } catch (err) {
      if (isNotFound(err) || /EAGAIN|in progress|pending/i.test(stderrOf(err))) return [];
      throw err;
    }
  }

  /** The subvolume holding a Polly snapshot and its recorded size: from the index, else by listing every subvolume's snapshots. */
  async #findSnapshot(snapshotId: string): Promise<{ subvolume: string; sizeBytes: number | undefined } | undefined> {
    const snap = cephfsName('snapshot', snapshotId);
    let entry: { subvolume: string; sizeBytes: number } | undefined;
    try {
      entry = parseIndexEntry((await this.#client.ceph(this.#sv('metadata get', INDEX_SUBVOLUME, indexKey(snap)))).trim());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (entry !== undefined && (await this.#snapshotsOf(entry.subvolume)).includes(snap)) return entry;
    // Not indexed (taken out of band, or by a crashed call): found the slow way.
    for (const subvolume of await this.#subvolumes()) {
      if ((await this.#snapshotsOf(subvolume)).includes(snap)) return { subvolume, sizeBytes: undefined };
    }
    return undefined;
  }

  async #index(): Promise<Record<string, string>> {
    try {
      return (await this.#client.cephJson<Record<string, string> | null>(this.#sv('metadata ls', INDEX_SUBVOLUME))) ?? {};
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
  }
}

function indexKey(snapshotName: string): string {
  return `snapshot.${snapshotName}`;
}

function parseIndexEntry(value: string | undefined): { subvolume: string; sizeBytes: number } | undefined {
  const m = /^(\S+) (\d+)$/.exec(value ?? '');
  if (!m) return undefined;
  return { subvolume: m[1]!, sizeBytes: Number(m[2]) };
}

function quotaOf(info: SubvolumeInfo | undefined): number | undefined {
  const q = info?.bytes_quota;
  return typeof q === 'number' && q > 0 ? q : undefined;
}

/** Whether a client's mount root is the subvolume's path or below it. */
function isUnder(root: string | undefined, path: string | undefined): boolean {
  if (root === undefined || path === undefined) return false;
  return root === path || root.startsWith(`${path}/`);
}
