import { setTimeout as sleep } from 'node:timers/promises';
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
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { nodeSecrets, secretParameterKeys } from '../system/pool-parameters.js';
import { CinderClient, isNotFoundError } from './cinder-client.js';
import { CinderRbdFence } from './cinder-fence.js';
import { CinderNodeDriver } from './cinder-node.js';
import { authFrom, CINDER_PARAMETERS } from './cinder-parameters.js';
import { type ConnectionInfo, publishContextOf } from './connection-info.js';

export { CINDER_PARAMETERS };

const GiB = 1024 ** 3;

/** Names of the Cinder objects Polly makes: its ids behind a prefix, so a shared project lists them apart. */
export const CINDER_NAME_PREFIX = { volume: 'polly-volume-', snapshot: 'polly-snapshot-' } as const;

/** A backend id that is a Cinder UUID: an imported volume that Polly did not name. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  // Cinder extends in-use volumes (microversion 3.42+); the node half grows the filesystem (xfs mounted).
  expand: 'online',
  block: true,
  fsTypes: ['ext4', 'xfs'],
  accessModes: ['RWO', 'RWOP', 'ROX'],
  // QoS specs on a volume type (consumer both): the RBD backend applies them as librbd image QoS.
  qos: true,
  sizeEnforced: true,
};

interface CinderVolume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  volume_type?: string | null;
  attachments: Array<{ attachment_id: string; host_name: string | null; server_id?: string | null }>;
  migration_status?: string | null;
}

interface CinderSnapshot {
  id: string;
  name: string | null;
  status: string;
  size: number;
  volume_id: string;
}

interface CinderType {
  id: string;
  name: string;
  extra_specs?: Record<string, string>;
  qos_specs_id?: string | null;
}

interface PoolStats {
  name: string;
  capabilities: { total_capacity_gb?: number | string; free_capacity_gb?: number | string; volume_backend_name?: string };
}

/** Cinder's user messages explain an `error` status; these mean the scheduler found no room. */
const NO_ROOM = /no valid backend|weighted backend|insufficient|capacity|No valid host/i;

/**
 * `cinder`: OpenStack Cinder's v3 API. A Cinder volume per Polly volume, named `polly-volume-<id>` (so
 * create is idempotent by name: a repeat after a crash finds the volume instead of making a second),
 * in the profile's volume type — or, when the profile sets QoS, in a type derived from it that carries
 * a QoS spec with those limits. Snapshots, restores (volume from snapshot) and clones (volume from
 * volume) are Cinder's own; expansion is `os-extend` (in-use too). Every asynchronous state (creating,
 * extending, deleting) is polled with backoff until it settles or the pool's timeout passes; Cinder's
 * `error` states become BACKEND_FAILED (NO_CAPACITY when the scheduler found no backend) with Cinder's
 * own reason. `attach` creates an attachment with the node's connector and completes it; its
 * `connection_info` is the publish context. Volumes Cinder holds that Polly did not name are listed by
 * their Cinder id, so they can be imported and released.
 */
export class CinderDriver implements StorageDriver {
  readonly driverName = 'cinder';
  readonly capabilities = CAPABILITIES;
  readonly node: CinderNodeDriver;
  /** Present when the pool can blocklist Ceph clients (see {@link CinderRbdFence}); absent: failover falls back as for drivers that cannot fence. */
  readonly storageFence: StorageFence | undefined;
  readonly secretParameters = Object.fromEntries(secretParameterKeys(CINDER_PARAMETERS));
  readonly #poolName: string;
  readonly #params: Record<string, string>;
  readonly #client: CinderClient;
  readonly #timeoutMs: number;
  readonly #locks = new KeyedMutex();
  /** Polly backend id → Cinder id, learnt from lookups by name (a cache: always checked by GET). */
  readonly #ids = new Map<string, string>();
  readonly #knownTypes = new Set<string>();
  readonly #fencer: CinderRbdFence | undefined;
  /** The last publish context answered per backend id: names the image and monitors when the fenced node's attachment is gone. */
  readonly #contexts = new Map<string, PublishContext>();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#params = ctx.parameters;
    this.#client = new CinderClient(`pool ${ctx.poolName}`, authFrom(ctx.poolName, ctx.parameters));
    this.#timeoutMs = Number(ctx.parameters.timeoutSeconds ?? 600) * 1000;
    this.node = new CinderNodeDriver(ctx);
    if (CinderRbdFence.enabled(ctx.parameters)) {
      const fencer = new CinderRbdFence(ctx.poolName, ctx.dataDir, ctx.parameters);
      this.#fencer = fencer;
      this.storageFence = { fenceNode: (req) => this.#fence(req.backendId, req.node, req.connector) };
    }
  }

  async init(): Promise<void> {
    try {
      await this.#client.call('GET', '/volumes?limit=1');
    } catch (err) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: Cinder is not usable: ${(err as Error).message}`);
    }
    if (this.#params.volumeType !== undefined) await this.#type(this.#params.volumeType);
    await this.node.init();
  }

  async close(): Promise<void> {
    await this.#fencer?.close();
    await this.node.close();
  }

  // ---------------------------------------------------------------- capacity

  /**
   * The summed statistics of the Cinder pools behind this pool's volume type (its
   * `volume_backend_name`), or of `capacityPool`; unknown when Cinder will not say (a non-admin caller
   * may not read scheduler statistics) or a backend reports `unknown`/`infinite`.
   */
  async capacity(): Promise<BackendCapacity> {
    const unknown: BackendCapacity = { totalBytes: 0, freeBytes: 0, unknown: true };
    let pools: PoolStats[];
    try {
      pools = (await this.#client.call<{ pools: PoolStats[] }>('GET', '/scheduler-stats/get_pools?detail=true')).pools;
    } catch (err) {
      if (err instanceof PollyError && (err.details?.httpStatus === 403 || err.details?.httpStatus === 404)) return unknown;
      throw err;
    }
    let chosen: PoolStats[];
    if (this.#params.capacityPool !== undefined) {
      chosen = pools.filter((p) => p.name === this.#params.capacityPool);
    } else {
      const backend = (await this.#type(this.#params.volumeType ?? 'default')).extra_specs?.volume_backend_name;
      chosen = backend === undefined ? pools : pools.filter((p) => p.capabilities.volume_backend_name === backend || p.name.split('#')[0]?.endsWith(`@${backend}`));
    }
    let total = 0;
    let free = 0;
    for (const p of chosen) {
      const t = p.capabilities.total_capacity_gb;
      const f = p.capabilities.free_capacity_gb;
      if (typeof t !== 'number' || typeof f !== 'number') return unknown;
      total += t;
      free += f;
    }
    if (chosen.length === 0 || total <= 0) return unknown;
    return { totalBytes: Math.round(total * GiB), freeBytes: Math.round(Math.min(free, total) * GiB) };
  }

  // ---------------------------------------------------------------- volumes

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    if (UUID.test(req.volumeId)) throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume id ${req.volumeId} would read as a Cinder id`);
    const sizeGiB = Math.ceil(req.sizeBytes / GiB);
    return this.#locks.run(req.volumeId, async () => {
      let vol = await this.#findVolume(req.volumeId);
      if (vol?.status === 'error') {
        // A failed create holds no data: it goes, and the create is tried again.
        await this.#deleteVolume(vol);
        vol = undefined;
      }
      if (!vol) {
        const body: Record<string, unknown> = {
          size: sizeGiB,
          name: `${CINDER_NAME_PREFIX.volume}${req.volumeId}`,
          metadata: { 'polly.volume': req.volumeId },
        };
        const az = req.parameters?.availabilityZone ?? this.#params.availabilityZone;
        if (az !== undefined) body.availability_zone = az;
        const type = await this.#typeFor(req);
        if (req.source) {
          const source = await this.#sourceOf(req.source);
          if (source.size > sizeGiB) {
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${req.source.kind} ${req.source.backendId} (${source.size} GiB)`);
          }
          body[req.source.kind === 'snapshot' ? 'snapshot_id' : 'source_volid'] = source.id;
          // A restore or clone keeps its source's type unless the profile asks for another.
          if (type !== undefined && (req.parameters?.volumeType !== undefined || req.qos !== undefined)) body.volume_type = type;
        } else if (type !== undefined) {
          body.volume_type = type;
        }
        const made = (await this.#client.call<{ volume: CinderVolume }>('POST', '/volumes', { volume: body })).volume;
        this.#ids.set(req.volumeId, made.id);
        vol = made;
      }
      const ready = await this.#settle(vol.id, `volume ${req.volumeId}`, ['creating', 'downloading', 'reserved'], 'create');
      return { backendId: req.volumeId, sizeBytes: ready.size * GiB };
    });
  }

  async delete(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, async () => {
      const vol = await this.#findVolume(backendId);
      if (vol) await this.#deleteVolume(vol);
      this.#ids.delete(backendId);
    });
  }

  async #deleteVolume(vol: CinderVolume): Promise<void> {
    if (vol.status !== 'deleting') {
      if (vol.attachments.length > 0) {
        throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: Cinder volume ${vol.id} is attached to ${vol.attachments.map((a) => a.host_name ?? a.server_id ?? a.attachment_id).join(', ')}; detach it first`);
      }
      try {
        await this.#client.call('DELETE', `/volumes/${vol.id}`);
      } catch (err) {
        if (isNotFoundError(err)) return;
        throw err;
      }
    }
    await this.#waitGone(`/volumes/${vol.id}`, 'volume', vol.id);
  }

  async expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    assertObjectId(this.#poolName, 'volume', backendId);
    assertSizeBytes(this.#poolName, sizeBytes);
    return this.#locks.run(backendId, async () => {
      const vol = await this.#mustFindVolume(backendId);
      let current = await this.#settle(vol.id, `volume ${backendId}`, ['extending', 'creating'], 'extend');
      const wanted = Math.ceil(sizeBytes / GiB);
      if (wanted > current.size) {
        await this.#client.call('POST', `/volumes/${vol.id}/action`, { 'os-extend': { new_size: wanted } });
        current = await this.#settle(vol.id, `volume ${backendId}`, ['extending'], 'extend', (v) => v.size >= wanted);
      }
      return { sizeBytes: current.size * GiB };
    });
  }

  /** Cinder cannot tell how much of a volume is written; NOT_FOUND when there is no such volume. */
  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#mustFindVolume(backendId);
    return undefined;
  }

  // ---------------------------------------------------------------- snapshots

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      let snap = await this.#findSnapshot(snapshotId);
      if (snap?.status === 'error') {
        await this.#deleteSnapshot(snap);
        snap = undefined;
      }
      if (!snap) {
        const vol = await this.#mustFindVolume(volumeBackendId);
        // force: Polly's snapshots of attached volumes are crash-consistent, as CSI's are.
        const body = { snapshot: { volume_id: vol.id, name: `${CINDER_NAME_PREFIX.snapshot}${snapshotId}`, force: true, metadata: { 'polly.snapshot': snapshotId } } };
        snap = (await this.#client.call<{ snapshot: CinderSnapshot }>('POST', '/snapshots', body)).snapshot;
        this.#ids.set(`snapshot:${snapshotId}`, snap.id);
      }
      const ready = await this.#poll(`snapshot ${snapshotId}`, async () => (await this.#client.call<{ snapshot: CinderSnapshot }>('GET', `/snapshots/${snap.id}`)).snapshot, (s) => {
        if (s.status === 'available') return true;
        if (s.status === 'error') return this.#failure('snapshot', snap.id, `snapshot ${snapshotId}`, 'snapshot');
        return false;
      });
      return { backendId: snapshotId, sizeBytes: ready.size * GiB };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, async () => {
      const snap = await this.#findSnapshot(backendId);
      if (snap) await this.#deleteSnapshot(snap);
      this.#ids.delete(`snapshot:${backendId}`);
    });
  }

  async #deleteSnapshot(snap: CinderSnapshot): Promise<void> {
    if (snap.status !== 'deleting') {
      try {
        await this.#client.call('DELETE', `/snapshots/${snap.id}`);
      } catch (err) {
        if (isNotFoundError(err)) return;
        throw err;
      }
    }
    // The API marks the snapshot `deleting` at once; back to `available` means the backend refused
    // (the RBD driver's SnapshotIsBusy: volumes restored from it still depend on it).
    await this.#poll(`snapshot ${snap.id}`, async () => this.#client.call<{ snapshot: CinderSnapshot }>('GET', `/snapshots/${snap.id}`).then((r) => r.snapshot, (err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err))), (s) => {
      if (s === undefined) return true;
      if (s.status === 'available') throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: Cinder kept snapshot ${snap.id}: volumes made from it still depend on it`);
      if (s.status === 'error_deleting') return this.#failure('snapshot', snap.id, `snapshot ${snap.id}`, 'delete');
      return false;
    });
  }

  // ---------------------------------------------------------------- listing (import, orphans)

  async list(): Promise<BackendObject[]> {
    const out: BackendObject[] = [];
    for (const v of await this.#pages<CinderVolume>('/volumes/detail', 'volumes')) {
      if (v.status === 'deleting') continue;
      const name = v.name ?? '';
      const backendId = name.startsWith(CINDER_NAME_PREFIX.volume) ? name.slice(CINDER_NAME_PREFIX.volume.length) : v.id;
      out.push({ backendId, kind: 'volume', sizeBytes: v.size * GiB });
    }
    for (const s of await this.#pages<CinderSnapshot>('/snapshots/detail', 'snapshots')) {
      if (s.status === 'deleting') continue;
      const name = s.name ?? '';
      const backendId = name.startsWith(CINDER_NAME_PREFIX.snapshot) ? name.slice(CINDER_NAME_PREFIX.snapshot.length) : s.id;
      out.push({ backendId, kind: 'snapshot', sizeBytes: s.size * GiB });
    }
    return out;
  }

  async #pages<T extends { id: string }>(path: string, key: string): Promise<T[]> {
    const all: T[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = (await this.#client.call<Record<string, T[]>>('GET', `${path}?limit=500&sort=created_at:asc${marker ? `&marker=${marker}` : ''}`))[key] ?? [];
      all.push(...page);
      if (page.length < 500) return all;
      marker = page[page.length - 1]?.id;
    }
  }

  // ---------------------------------------------------------------- attachments

  /**
   * An attachment for `node` (Cinder attachments API, 3.54): created with the node's connector,
   * completed, and its connection info answered as the publish context. A repeat for the same node
   * finds the attachment it made (by the connector's host) instead of making a second.
   */
  async attach(req: ControllerAttachRequest): Promise<PublishContext> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    return this.#locks.run(req.backendId, async () => {
      const vol = await this.#mustFindVolume(req.backendId);
      const exclusive = !(req.readOnly || req.accessMode === 'ROX');
      if (exclusive) await this.#dropStaleAttachments(vol, req.node.node);
      let attachmentId = vol.attachments.find((a) => a.host_name === req.node.node)?.attachment_id;
      let info: ConnectionInfo | undefined;
      if (attachmentId !== undefined) {
        info = (await this.#client.call<{ attachment: { connection_info: ConnectionInfo | null } }>('GET', `/attachments/${attachmentId}`)).attachment.connection_info ?? undefined;
      }
      if (attachmentId === undefined || !info) {
        const mode = req.readOnly || req.accessMode === 'ROX' ? 'ro' : 'rw';
        const body = { attachment: { volume_uuid: vol.id, mode, connector: connectorOf(req.node) } };
        let made;
        try {
          made = await this.#client.call<{ attachment: { id: string; connection_info: ConnectionInfo | null } }>('POST', '/attachments', body);
        } catch (err) {
          // A crash between create and complete leaves a `reserved` attachment no node uses: it goes, once.
          if (!(err instanceof PollyError) || err.code !== 'INVALID_STATE' || !(await this.#dropReserved(vol.id))) throw err;
          made = await this.#client.call<{ attachment: { id: string; connection_info: ConnectionInfo | null } }>('POST', '/attachments', body);
        }
        attachmentId = made.attachment.id;
        info = made.attachment.connection_info ?? undefined;
        await this.#client.call('POST', `/attachments/${attachmentId}/action`, { 'os-complete': null });
      }
      if (!info) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: Cinder answered no connection info for volume ${vol.id}`);
      const ctx = this.#contextOf(info, attachmentId, vol.id);
      this.#contexts.set(req.backendId, ctx);
      return ctx;
    });
  }

  #contextOf(info: ConnectionInfo, attachmentId: string, volumeId: string): PublishContext {
    return publishContextOf(this.#poolName, info, {
      attachmentId,
      volumeId,
      monHost: this.#params.monHost,
      nodeUser: this.#params.nodeUser,
      nodeKeyring: this.#params.nodeKeyring,
      mapper: this.#params.mapper,
    });
  }

  /**
   * Before a writable attachment: Cinder refuses a second attachment of a volume that is not
   * multiattach, and Polly calls attach only once it granted the volume to this node alone, so the
   * attachments Polly made for other nodes are stale (their holder was fenced, self-fenced or let go
   * without the detach reaching Cinder): they go. An attachment of a Nova server is not Polly's and stays.
   */
  async #dropStaleAttachments(vol: CinderVolume, node: string): Promise<void> {
    const others = vol.attachments.filter((a) => a.host_name !== node);
    const foreign = others.filter((a) => a.server_id);
    if (foreign.length > 0) {
      throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: Cinder volume ${vol.id} is attached to server ${foreign.map((a) => a.server_id).join(', ')}, outside Polly`);
    }
    if (others.length === 0) return;
    for (const a of others) await this.#client.call('DELETE', `/attachments/${a.attachment_id}`).catch((err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err)));
    vol.attachments = vol.attachments.filter((a) => a.host_name === node);
    await this.#settle(vol.id, `volume ${vol.id}`, ['detaching', 'attaching'], 'detach');
  }

  /**
   * Storage-side fence of `node`: its Ceph clients blocklisted on the cluster its attachment's connection
   * info names (else the last one answered for the volume), then its Cinder attachments deleted, so that
   * the next node's attachment is allowed. A volume Cinder no longer has holds nothing to protect.
   */
  async #fence(backendId: string, node: string, connector: NodeConnector | undefined): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const fencer = this.#fencer;
    if (!fencer) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: storage-side fencing is off`);
    await this.#locks.run(backendId, async () => {
      const vol = await this.#findVolume(backendId);
      if (!vol || vol.status === 'deleting') return;
      const theirs = vol.attachments.filter((a) => a.host_name === node);
      let ctx: PublishContext | undefined;
      for (const a of theirs) {
        const info = (await this.#client.call<{ attachment: { connection_info: ConnectionInfo | null } }>('GET', `/attachments/${a.attachment_id}`)).attachment.connection_info;
        if (info) {
          ctx = this.#contextOf(info, a.attachment_id, vol.id);
          break;
        }
      }
      ctx ??= this.#contexts.get(backendId);
      if (!ctx) {
        throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: cannot fence node ${node} off volume ${backendId}: Cinder holds no attachment of it for that node, so no connection info names the image and monitors to blocklist on`);
      }
      await fencer.fence(backendId, node, ctx, connector);
      for (const a of theirs) await this.#client.call('DELETE', `/attachments/${a.attachment_id}`).catch((err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err)));
      if (theirs.length > 0) await this.#settle(vol.id, `volume ${backendId}`, ['detaching', 'attaching'], 'detach');
    });
  }

  async #dropReserved(volumeId: string): Promise<boolean> {
    const list = (await this.#client.call<{ attachments: Array<{ id: string; status: string }> }>('GET', `/attachments?volume_id=${volumeId}`)).attachments;
    const reserved = list.filter((a) => a.status === 'reserved');
    for (const a of reserved) await this.#client.call('DELETE', `/attachments/${a.id}`).catch((err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err)));
    return reserved.length > 0;
  }

  /** Deletes the node's attachments of the volume (Cinder terminates the connection); none is not an error. */
  async detach(req: { backendId: string; volumeId: string; node: NodeConnector }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const vol = await this.#findVolume(req.backendId);
      if (!vol) return;
      for (const a of vol.attachments.filter((x) => x.host_name === req.node.node)) {
        await this.#client.call('DELETE', `/attachments/${a.attachment_id}`).catch((err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err)));
      }
      await this.#settle(vol.id, `volume ${req.backendId}`, ['detaching', 'attaching'], 'detach');
    });
  }

  nodeSecrets(): Record<string, string> {
    return nodeSecrets(CINDER_PARAMETERS, this.#params);
  }

  // ---------------------------------------------------------------- volume types and QoS

  /** The volume type of a new volume: the profile's or the pool's, derived with a QoS spec when the profile limits QoS. */
  async #typeFor(req: CreateVolumeRequest): Promise<string | undefined> {
    const base = req.parameters?.volumeType ?? this.#params.volumeType;
    const qos = req.qos;
    if (!qos || (!qos.iops && !qos.bandwidthBytes)) {
      // Checked here, so that a misspelt type is VALIDATION_FAILED rather than Cinder's 404 on create.
      if (base !== undefined && !this.#knownTypes.has(base)) {
        await this.#type(base);
        this.#knownTypes.add(base);
      }
      return base;
    }
    return this.#qosType(base, qos);
  }

  /**
   * A volume type `polly-<base>-qos-<iops>-<bytes/s>` with the base type's extra specs and a QoS spec
   * (`total_iops_sec`, `total_bytes_sec`, consumer both) associated: made once, found by name after.
   */
  async #qosType(base: string | undefined, qos: QosLimits): Promise<string> {
    const baseType = await this.#type(base ?? 'default');
    const iops = Math.floor(qos.iops ?? 0);
    const bps = Math.floor(qos.bandwidthBytes ?? 0);
    const suffix = `qos-${iops}-${bps}`;
    const name = `polly-${baseType.name}-${suffix}`;
    return this.#locks.run(`type:${name}`, async () => {
      const types = (await this.#client.call<{ volume_types: CinderType[] }>('GET', '/types?is_public=None')).volume_types;
      const existing = types.find((t) => t.name === name);
      if (existing?.qos_specs_id) return existing.id;
      const type =
        existing ??
        (await this.#client.call<{ volume_type: CinderType }>('POST', '/types', { volume_type: { name, extra_specs: baseType.extra_specs ?? {}, description: `Polly: ${baseType.name} with QoS ${suffix}` } })).volume_type;
      const specsName = `polly-${suffix}`;
      const all = (await this.#client.call<{ qos_specs: Array<{ id: string; name: string }> }>('GET', '/qos-specs')).qos_specs;
      let specs = all.find((s) => s.name === specsName);
      if (!specs) {
        const values: Record<string, string> = { consumer: 'both' };
        if (iops > 0) values.total_iops_sec = String(iops);
        if (bps > 0) values.total_bytes_sec = String(bps);
        specs = (await this.#client.call<{ qos_specs: { id: string; name: string } }>('POST', '/qos-specs', { qos_specs: { name: specsName, ...values } })).qos_specs;
      }
      await this.#client.call('GET', `/qos-specs/${specs.id}/associate?vol_type_id=${type.id}`);
      return type.id;
    });
  }

  /** A volume type by name or id (`default`: Cinder's default type); VALIDATION_FAILED when Cinder has none such. */
  async #type(nameOrId: string): Promise<CinderType> {
    try {
      return (await this.#client.call<{ volume_type: CinderType }>('GET', `/types/${encodeURIComponent(nameOrId)}`)).volume_type;
    } catch (err) {
      if (!isNotFoundError(err)) throw err;
    }
    const types = (await this.#client.call<{ volume_types: CinderType[] }>('GET', '/types?is_public=None')).volume_types;
    const found = types.find((t) => t.name === nameOrId);
    if (!found) throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: Cinder has no volume type ${nameOrId} (has: ${types.map((t) => t.name).join(', ')})`);
    return found;
  }

  // ---------------------------------------------------------------- lookups and polling

  /** The Cinder volume behind a backend id: a Cinder id (imported) or the volume Polly named after its id. */
  async #findVolume(backendId: string): Promise<CinderVolume | undefined> {
    const id = UUID.test(backendId) ? backendId : this.#ids.get(backendId);
    if (id !== undefined) {
      try {
        return (await this.#client.call<{ volume: CinderVolume }>('GET', `/volumes/${id}`)).volume;
      } catch (err) {
        if (!isNotFoundError(err)) throw err;
        this.#ids.delete(backendId);
        if (UUID.test(backendId)) return undefined;
      }
    }
    const name = `${CINDER_NAME_PREFIX.volume}${backendId}`;
    const found = (await this.#client.call<{ volumes: CinderVolume[] }>('GET', `/volumes/detail?name=${encodeURIComponent(name)}&sort=created_at:asc`)).volumes.filter((v) => v.name === name);
    // A volume still being deleted is gone as far as Polly is concerned, unless it is the only trace.
    const live = found.find((v) => v.status !== 'deleting') ?? found[0];
    if (live) this.#ids.set(backendId, live.id);
    return live;
  }

  async #mustFindVolume(backendId: string): Promise<CinderVolume> {
    const vol = await this.#findVolume(backendId);
    if (!vol || vol.status === 'deleting') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    return vol;
  }

  async #findSnapshot(backendId: string): Promise<CinderSnapshot | undefined> {
    const id = UUID.test(backendId) ? backendId : this.#ids.get(`snapshot:${backendId}`);
    if (id !== undefined) {
      try {
        return (await this.#client.call<{ snapshot: CinderSnapshot }>('GET', `/snapshots/${id}`)).snapshot;
      } catch (err) {
        if (!isNotFoundError(err)) throw err;
        this.#ids.delete(`snapshot:${backendId}`);
        if (UUID.test(backendId)) return undefined;
      }
    }
    const name = `${CINDER_NAME_PREFIX.snapshot}${backendId}`;
    const found = (await this.#client.call<{ snapshots: CinderSnapshot[] }>('GET', `/snapshots/detail?name=${encodeURIComponent(name)}`)).snapshots.filter((s) => s.name === name);
    const live = found.find((s) => s.status !== 'deleting') ?? found[0];
    if (live) this.#ids.set(`snapshot:${backendId}`, live.id);
    return live;
  }

  async #sourceOf(source: NonNullable<CreateVolumeRequest['source']>): Promise<{ id: string; size: number }> {
    assertObjectId(this.#poolName, source.kind, source.backendId);
    const found = source.kind === 'snapshot' ? await this.#findSnapshot(source.backendId) : await this.#findVolume(source.backendId);
    if (!found || found.status === 'deleting') throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${source.kind} ${source.backendId} does not exist`);
    return found;
  }

  /**
   * Polls a volume until it leaves the transient `states` (and `done` holds); an `error*` status
   * throws with Cinder's reason, a timeout throws BACKEND_FAILED naming the state it hung in.
   */
  async #settle(id: string, what: string, states: string[], action: string, done: (v: CinderVolume) => boolean = () => true): Promise<CinderVolume> {
    return this.#poll(what, async () => (await this.#client.call<{ volume: CinderVolume }>('GET', `/volumes/${id}`)).volume, (v) => {
      if (v.status.startsWith('error')) return this.#failure('volume', id, what, action, v.status);
      return !states.includes(v.status) && done(v);
    });
  }

  async #waitGone(path: string, kind: 'volume', id: string): Promise<void> {
    await this.#poll(`${kind} ${id}`, () => this.#client.call<{ volume: CinderVolume }>('GET', path).then((r) => r.volume, (err: unknown) => (isNotFoundError(err) ? undefined : Promise.reject(err))), (v) => {
      if (v === undefined) return true;
      if (v.status === 'error_deleting') return this.#failure('volume', id, `volume ${id}`, 'delete', v.status);
      return false;
    });
  }

  /** Polls `get` with backoff (250 ms growing to 5 s) until `check` is true; throws what `check` throws. */
  async #poll<T>(what: string, get: () => Promise<T>, check: (t: T) => boolean | Promise<boolean>): Promise<T> {
    const deadline = Date.now() + this.#timeoutMs;
    let delay = 250;
    let last: T;
    for (;;) {
      last = await get();
      if (await check(last)) return last;
      if (Date.now() > deadline) {
        const status = (last as { status?: string } | undefined)?.status;
        throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: ${what} still ${status ?? 'pending'} in Cinder after ${Math.round(this.#timeoutMs / 1000)} s`);
      }
      await sleep(delay);
      delay = Math.min(5_000, Math.round(delay * 1.5));
    }
  }

  /** Why Cinder put an object in an error state (its user messages), as the PollyError to throw. */
  async #failure(kind: 'volume' | 'snapshot', id: string, what: string, action: string, status = 'error'): Promise<never> {
    let reason = '';
    try {
      const msgs = (await this.#client.call<{ messages: Array<{ user_message: string; created_at: string }> }>('GET', `/messages?resource_uuid=${id}`)).messages;
      reason = msgs.map((m) => m.user_message).join('; ');
    } catch {
      // no messages API or no permission: the status alone
    }
    const code = action === 'create' && NO_ROOM.test(reason) ? 'NO_CAPACITY' : 'BACKEND_FAILED';
    throw new PollyError(code, `pool ${this.#poolName}: Cinder failed to ${action} ${what} (${kind} ${id} is ${status}${reason ? `: ${reason}` : ''})`, { cinderId: id, cinderStatus: status });
  }
}

/**
 * The os-brick style connector Cinder's drivers read: the node's name as host, its first address. iSCSI
 * backends refuse a connector without an initiator before they answer any connection info, so one
 * derived from the node's name is given (Polly's nodes map RBD only; this lets Cinder say what else it
 * would have answered, which the node half then refuses by name).
 */
export function connectorOf(node: NodeConnector): Record<string, unknown> {
  return {
    host: node.node,
    ip: node.addresses[0] ?? '127.0.0.1',
    initiator: `iqn.2026-12.io.polly:${node.node.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`,
    os_type: 'linux',
    platform: 'x86_64',
    multipath: false,
    do_local_attach: false,
  };
}
