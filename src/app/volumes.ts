import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { assertValidLabels, assertValidName } from '../core/names.js';
import type { AccessMode, CreateSource, QosLimits } from '../core/ports/driver.js';
import { assertTransition } from '../core/state-machine.js';
import type { Identity, Labels, Page, Volume, VolumeSource, VolumeStatus } from '../core/types.js';
import { findPool } from '../store/repos/pools.js';
import { findService } from '../store/repos/services.js';
import { findSnapshot } from '../store/repos/snapshots.js';
import {
  deleteVolumeRow,
  findVolumeState,
  findVolume,
  findVolumeByName,
  insertVolume,
  listVolumes,
  replaceVolumeTags,
  setVolumeSize,
  chargePool,
  updateVolume,
  updateVolumeRecorded,
  findVolumeCountingSnapshots,
  type VolumeFilter,
} from '../store/repos/volumes.js';
import { nextRecovery } from './recovery.js';
import { isForeignKeyViolation, isUniqueViolation, nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import type { Placement } from './placement.js';
import type { Admission } from './admission.js';
import { closeReservation, findReservation, type Reservation } from '../store/repos/offers.js';
import { chargeUsage } from '../store/repos/usage.js';
import { findShare } from '../store/repos/shares.js';
import type { PoolUseCases } from './pools.js';
import { actingService, listScope, ownsObject } from './scope.js';
import { volumeRef } from '../core/volume-ref.js';
import type { PlacementNode } from '../scheduler/index.js';
import { findNode } from '../store/repos/nodes.js';
import { poolHomeNode } from './pool-home.js';

/** 8 PiB: the largest size that stays an exact JavaScript number and that any backend here can mean. */
export const MAX_VOLUME_BYTES = 2 ** 53;

export interface CreateVolumeInput {
  name: string;
  sizeBytes: number;
  /** Required for the admin, implied for a service. */
  service?: string | undefined;
  pool?: string | undefined;
  profile?: string | undefined;
  labels?: Labels | undefined;
  fields?: Labels | undefined;
  /** Restore from this snapshot (of the same service). */
  fromSnapshot?: string | undefined;
  /** Clone this volume (of the same service). */
  fromVolume?: string | undefined;
  /** Consume this reservation (from an accepted offer): the pool is fixed and capacity and quota are already held. */
  reservation?: string | undefined;
  accessMode?: AccessMode | undefined;
  /** Zones the volume must (requisite) or should (preferred, in order) be in. */
  topology?: { requisite?: string[] | undefined; preferred?: string[] | undefined } | undefined;
  /**
   * The registered node the volume is made for (it mounts it first, e.g. the Docker host whose Create this
   * is): only pools that node reaches qualify, so the volume can be attached there.
   */
  node?: string | undefined;
  /** Prefer pools holding this service's volumes with these labels. */
  affinity?: Labels | undefined;
  /** Refuse pools holding this service's volumes with these labels. */
  antiAffinity?: Labels | undefined;
}

export interface ListVolumesInput extends Omit<VolumeFilter, 'service' | 'sharedWith'> {
  service?: string | undefined;
  /** A service's view of the volumes other services shared with it, instead of its own. */
  shared?: boolean | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/**
 * Called inside the transaction that commits an operation's intent, so that an idempotency record and
 * the intent are written together: after a crash, the record says which volume its request made.
 */
export type IntentLink = (trx: Executor, intent: { kind: 'volume'; op: 'create' | 'delete'; id: string }) => Promise<void>;

export interface IntentOptions {
  link?: IntentLink | undefined;
}

export class VolumeUseCases {
  readonly #ctx: AppContext;
  readonly #pools: PoolUseCases;
  readonly #placement: Placement;
  readonly #admission: Admission;

  constructor(ctx: AppContext, pools: PoolUseCases, placement: Placement, admission: Admission) {
    this.#ctx = ctx;
    this.#pools = pools;
    this.#placement = placement;
    this.#admission = admission;
  }

  /** Loads a volume the caller may see; anything else is VOLUME_NOT_FOUND (no leak across services). */
  /**
   * Loads a volume the caller may act on. Its owner (and the admin) may do anything; a service it was
   * shared with may read it (and attach it) when `shared` is allowed, and is FORBIDDEN to change it;
   * anyone else gets VOLUME_NOT_FOUND (no leak across services).
   */
  async load(ex: Executor, identity: Identity, id: string, opts: { shared?: boolean } = {}): Promise<Volume> {
    return this.#visible(ex, identity, id, await findVolume(ex, id), opts);
  }

  /** `v` (volume `id` as read, or undefined) if `identity` may see it; else FORBIDDEN or VOLUME_NOT_FOUND, as load. */
  async #visible(ex: Executor, identity: Identity, id: string, v: Volume | undefined, opts: { shared?: boolean }): Promise<Volume> {
    if (v && ownsObject(identity, v.service)) return v;
    if (v && identity.kind === 'service') {
      const share = await findShare(ex, id, identity.service);
      if (share) {
        if (opts.shared) return v;
        throw new PollyError('FORBIDDEN', `volume ${id} is shared with service ${identity.service} (${share.access}); only its owner can change it`);
      }
    }
    throw new PollyError('VOLUME_NOT_FOUND', `volume ${id} not found`);
  }

  /** Reads a volume: its owner's, or one shared with the caller. */
  get(identity: Identity, id: string): Promise<Volume> {
    return this.load(this.#ctx.store.db, identity, id, { shared: true });
  }

  /** A volume of the caller's service by name (CSI and Docker address volumes by name), or undefined. */
  async findByName(identity: Identity, name: string, service?: string): Promise<Volume | undefined> {
    return findVolumeByName(this.#ctx.store.db, actingService(identity, service), name);
  }

  async list(identity: Identity, input: ListVolumesInput): Promise<Page<Volume>> {
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new PollyError('VALIDATION_FAILED', 'limit must be an integer from 1 to 1000');
    }
    const { shared, ...rest } = input;
    const scope = listScope(identity, input.service);
    const filter: VolumeFilter = shared && scope !== undefined ? { ...rest, service: undefined, sharedWith: scope } : { ...rest, service: scope };
    return listVolumes(this.#ctx.store.db, filter, limit, input.cursor);
  }

  /**
   * Creates a volume. The intent (a `creating` row that already holds the name and the pool's capacity) is
   * committed before the backend is touched, and confirmed after; a crash in between leaves the intent for
   * the reconciler, and a backend failure rolls it back.
   */
  async create(identity: Identity, input: CreateVolumeInput, opts: IntentOptions = {}): Promise<Volume> {
    // A create that lost a race for a pool's last bytes inside its transaction places again: the next
    // placement reads the allocation the winner committed and may find room elsewhere.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#createOnce(identity, input, opts);
      } catch (err) {
        if (!(err instanceof PollyError && err.code === 'NO_CAPACITY' && err.details?.lostRace === true) || attempt >= 5) throw err;
      }
    }
  }

  /** The node a volume is placed for, with what the node-reach filter needs; NODE_NOT_FOUND if unregistered. */
  async #placementNode(id: string): Promise<PlacementNode> {
    const node = await findNode(this.#ctx.store.db, id);
    if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${id} is not registered`);
    return { id: node.id, zone: node.topology.zone ?? null, home: (await poolHomeNode(this.#ctx)) ?? null };
  }

  async #createOnce(identity: Identity, input: CreateVolumeInput, opts: IntentOptions): Promise<Volume> {
    const service = actingService(identity, input.service);
    assertValidName('volume', input.name);
    assertValidLabels('labels', input.labels ?? {});
    assertValidLabels('fields', input.fields ?? {});
    if (!Number.isSafeInteger(input.sizeBytes) || input.sizeBytes < 1 || input.sizeBytes > MAX_VOLUME_BYTES) {
      throw new PollyError('VALIDATION_FAILED', `sizeBytes must be a whole number of bytes from 1 to ${MAX_VOLUME_BYTES}`);
    }
    if (input.fromSnapshot !== undefined && input.fromVolume !== undefined) {
      throw new PollyError('VALIDATION_FAILED', 'give fromSnapshot or fromVolume, not both');
    }
    const db = this.#ctx.store.db;
    // A service acting for itself was just authenticated by a token of that service; should the service be
    // deleted meanwhile, the volume's foreign key refuses the insert (reported as SERVICE_NOT_FOUND below).
    const own = identity.kind === 'service' && identity.service === service;
    if (!own && !(await findService(db, service))) throw new PollyError('SERVICE_NOT_FOUND', `service ${service} not found`);
    const forNode = input.node === undefined ? undefined : await this.#placementNode(input.node);
    const profile = await this.#pools.profileFor(identity, service, input.profile ?? 'default');
    if (input.sizeBytes < profile.minBytes || input.sizeBytes > profile.maxBytes) {
      throw new PollyError('VALIDATION_FAILED', `profile ${profile.name} allows sizes from ${profile.minBytes} to ${profile.maxBytes} bytes`);
    }

    // A restore or clone lives in its source's pool: that is where the data is.
    let source: VolumeSource | null = null;
    let driverSource: CreateSource | undefined;
    let pinnedPool = input.pool;
    if (input.fromSnapshot !== undefined) {
      const snap = await findSnapshot(db, input.fromSnapshot);
      if (!snap || !ownsObject(identity, snap.service) || snap.service !== service) {
        throw new PollyError('SNAPSHOT_NOT_FOUND', `snapshot ${input.fromSnapshot} not found`);
      }
      if (snap.status !== 'ready') throw new PollyError('INVALID_STATE', `snapshot ${snap.id} is ${snap.status}, not ready`);
      if (input.sizeBytes < snap.sizeBytes) {
        throw new PollyError('VALIDATION_FAILED', `sizeBytes ${input.sizeBytes} is smaller than snapshot ${snap.id} (${snap.sizeBytes} bytes)`);
      }
      source = { kind: 'snapshot', id: snap.id };
      driverSource = { kind: 'snapshot', backendId: snap.backendId };
      pinnedPool = this.#pinned(input.pool, snap.pool, `snapshot ${snap.id}`);
    } else if (input.fromVolume !== undefined) {
      const src = await findVolume(db, input.fromVolume);
      if (!src || !ownsObject(identity, src.service) || src.service !== service) {
        throw new PollyError('VOLUME_NOT_FOUND', `volume ${input.fromVolume} not found`);
      }
      if (!['available', 'attached'].includes(src.status)) {
        throw new PollyError('INVALID_STATE', `${volumeRef(src)} is ${src.status}; only available or attached volumes can be cloned`);
      }
      if (input.sizeBytes < src.sizeBytes) {
        throw new PollyError('VALIDATION_FAILED', `sizeBytes ${input.sizeBytes} is smaller than volume ${src.id} (${src.sizeBytes} bytes)`);
      }
      source = { kind: 'volume', id: src.id };
      driverSource = { kind: 'volume', backendId: src.backendId };
      pinnedPool = this.#pinned(input.pool, src.pool, `volume ${src.id}`);
    }
    let reservation: Reservation | undefined;
    if (input.reservation !== undefined) {
      reservation = await this.#activeReservation(service, input.reservation);
      if (reservation.profile !== profile.name) {
        throw new PollyError('VALIDATION_FAILED', `reservation ${reservation.id} is for profile ${reservation.profile}, not ${profile.name}`);
      }
      if (input.sizeBytes > reservation.sizeBytes) {
        throw new PollyError('VALIDATION_FAILED', `sizeBytes ${input.sizeBytes} is more than reservation ${reservation.id} holds (${reservation.sizeBytes})`);
      }
      pinnedPool = this.#pinned(pinnedPool, reservation.pool, `reservation ${reservation.id}`);
    }
    if (pinnedPool !== undefined && !(await findPool(db, pinnedPool))) {
      throw new PollyError('POOL_NOT_FOUND', `pool ${pinnedPool} not found`);
    }
    // A reservation already holds the capacity: placement is fixed and only checks the pool still suits.
    const poolName = reservation
      ? reservation.pool
      : await this.#placement.choose(db, {
          service,
          sizeBytes: input.sizeBytes,
          profile,
          accessMode: input.accessMode,
          pinnedPool,
          needs: { restore: source?.kind === 'snapshot', clones: source?.kind === 'volume' },
          topology: input.topology,
          node: forNode,
          affinity: input.affinity,
          antiAffinity: input.antiAffinity,
        });
    const driver = await this.#pools.driver(poolName);
    if (source?.kind === 'snapshot' && !driver.capabilities.restore) {
      throw new PollyError('UNSUPPORTED', `pool ${poolName} (driver ${driver.driverName}) cannot restore snapshots`);
    }
    if (source?.kind === 'volume' && !driver.capabilities.clones) {
      throw new PollyError('UNSUPPORTED', `pool ${poolName} (driver ${driver.driverName}) cannot clone volumes`);
    }
    if (profile.volumeMode === 'block' && !driver.capabilities.block) {
      throw new PollyError('UNSUPPORTED', `pool ${poolName} (driver ${driver.driverName}) has no block volumes`);
    }
    const capacity = await this.#pools.backendCapacity(poolName);

    const at = nowIso();
    const id = newId('vol');
    const volume: Volume = {
      id,
      name: input.name,
      service,
      pool: poolName,
      profile: profile.name,
      sizeBytes: input.sizeBytes,
      status: 'creating',
      statusReason: null,
      labels: input.labels ?? {},
      fields: input.fields ?? {},
      backendId: '',
      source,
      createdAt: at,
      updatedAt: at,
    };
    try {
      await this.#ctx.store.transaction(async (trx) => {
        if (reservation && !(await closeReservation(trx, reservation, 'consumed', id))) {
          // The reservation's hold becomes the volume's charge, in the same transaction.
          throw new PollyError('RESERVATION_CLOSED', `reservation ${reservation.id} was released or consumed meanwhile`);
        }
        const demand = {
          service,
          pool: poolName,
          profile: profile.name,
          volumes: 1,
          bytes: volume.sizeBytes,
          as: 'volume' as const,
          capacityTotalBytes: capacity.unknown ? null : capacity.totalBytes,
          held: reservation !== undefined,
          mayReplace: pinnedPool === undefined,
          writeReferencesService: true,
        };
        await this.#admission.admit(trx, demand, async () => {
          // With its event: one statement on PostgreSQL.
          const event = this.#ctx.events.values({ type: 'volume.creating', service, objectId: id, data: { name: volume.name, pool: poolName, sizeBytes: volume.sizeBytes } }, at);
          await insertVolume(trx, volume, this.#ctx.replica.incarnation, event);
          await opts.link?.(trx, { kind: 'volume', op: 'create', id });
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new PollyError('VOLUME_NAME_TAKEN', `volume name ${input.name} is already used in service ${service}`, { name: input.name });
      }
      if (isForeignKeyViolation(err) && !(await findService(db, service))) throw new PollyError('SERVICE_NOT_FOUND', `service ${service} not found`);
      throw err;
    }
    this.#ctx.events.notify();
    return this.finishCreate(volume, { volumeMode: profile.volumeMode, fsType: profile.fsType, parameters: profile.parameters, source: driverSource, qos: profile.qos });
  }

  async #activeReservation(service: string, id: string): Promise<Reservation> {
    const r = await findReservation(this.#ctx.store.db, id);
    if (!r || r.service !== service) throw new PollyError('RESERVATION_NOT_FOUND', `reservation ${id} not found`);
    if (r.status !== 'active' || r.expiresAt <= this.#ctx.clock.now().toISOString()) {
      throw new PollyError('RESERVATION_CLOSED', `reservation ${id} is ${r.status === 'active' ? 'expired' : r.status}`);
    }
    return r;
  }

  #pinned(requested: string | undefined, sourcePool: string, what: string): string {
    if (requested !== undefined && requested !== sourcePool) {
      throw new PollyError('VALIDATION_FAILED', `${what} is in pool ${sourcePool}; a volume made from it must be in the same pool`);
    }
    return sourcePool;
  }

  /**
   * Runs the backend half of a create and records the outcome. Shared by `create` and the reconciler,
   * which replays it for intents a crash left behind (the driver is idempotent by volume id).
   */
  async finishCreate(
    volume: Volume,
    spec: { volumeMode: 'filesystem' | 'block'; fsType: string; parameters: Record<string, string>; source: CreateSource | undefined; qos?: QosLimits | undefined },
  ): Promise<Volume> {
    const driver = await this.#pools.driver(volume.pool);
    let created;
    try {
      created = await driver.create({ volumeId: volume.id, sizeBytes: volume.sizeBytes, ...spec });
    } catch (err) {
      await this.#rollbackCreate(volume, err);
      throw err instanceof PollyError ? err : new PollyError('BACKEND_FAILED', `pool ${volume.pool}: create failed: ${(err as Error).message}`);
    }
    const at = nowIso();
    const event = this.#ctx.events.values({ type: 'volume.created', service: volume.service, objectId: volume.id, data: { name: volume.name, pool: volume.pool, sizeBytes: volume.sizeBytes } }, at);
    const confirm = (ex: Executor) =>
      updateVolumeRecorded(ex, volume.id, 'creating', { status: 'available', statusReason: null, backendId: created.backendId, intentOwner: null, recovery: null }, at, event);
    // On PostgreSQL one statement, which commits on its own (no BEGIN and COMMIT round trips); on SQLite a
    // transaction, which group commit shares, and deferred: should a power loss take this record, the
    // intent (committed in full before the backend was touched) is still there, and the reconciler
    // replays this create, idempotent by volume id.
    const store = this.#ctx.store;
    if (store.dialect === 'postgres') await confirm(store.db);
    else await store.transaction(confirm, 'deferred');
    this.#ctx.events.notify();
    this.#pools.invalidate(volume.pool);
    return { ...volume, status: 'available', statusReason: null, backendId: created.backendId, updatedAt: at };
  }

  async #rollbackCreate(volume: Volume, cause: unknown): Promise<void> {
    const driver = await this.#pools.driver(volume.pool);
    try {
      await driver.delete(volume.id);
    } catch (err) {
      // The backend object may be half-made and undeletable right now: keep the record in `error` so an
      // operator (or the reconciler) can finish the delete; nothing is silently dropped.
      this.#ctx.log.error({ err, volumeId: volume.id }, 'rollback of a failed create could not delete the backend object');
      await this.#recordFailure(volume, 'creating', 'create', cause);
      this.#ctx.events.notify();
      return;
    }
    await this.#ctx.store.transaction(async (trx) => {
      await deleteVolumeRow(trx, volume);
      await this.#ctx.events.record(trx, { type: 'volume.create_failed', service: volume.service, objectId: volume.id, data: { name: volume.name, reason: (cause as Error).message } }, nowIso());
    });
    this.#ctx.events.notify();
  }

  /**
   * Parks a volume whose `op` failed in `error`, with the recovery the failure calls for (see
   * recovery.ts): the reason names the failure, the retries made and the next one.
   */
  async #recordFailure(v: Volume, from: 'creating' | 'deleting', op: 'create' | 'delete', cause: unknown): Promise<void> {
    await this.#ctx.store.transaction(async (trx) => {
      const prior = (await findVolumeState(trx, v.id))?.recovery ?? null;
      const policy = { limit: this.#ctx.config.errorRetryLimit, baseSeconds: this.#ctx.config.errorRetryBaseSeconds };
      const { recovery, reason } = nextRecovery(prior, op, cause, policy, this.#ctx.clock.now());
      const at = nowIso();
      await updateVolume(trx, v.id, from, { status: 'error', statusReason: reason, intentOwner: null, recovery }, at);
      await this.#ctx.events.record(trx, { type: 'volume.error', service: v.service, objectId: v.id, data: { reason, op, retries: recovery.retries, retryAt: recovery.retryAt } }, at);
    });
    this.#ctx.events.notify();
  }

  /** Replaces labels and/or fields (each given map replaces the old one whole). */
  async update(identity: Identity, id: string, input: { labels?: Labels | undefined; fields?: Labels | undefined }): Promise<Volume> {
    if (input.labels !== undefined) assertValidLabels('labels', input.labels);
    if (input.fields !== undefined) assertValidLabels('fields', input.fields);
    const updated = await this.#ctx.store.transaction(async (trx) => {
      const v = await this.load(trx, identity, id);
      const labels = input.labels ?? v.labels;
      const fields = input.fields ?? v.fields;
      const at = nowIso();
      await replaceVolumeTags(trx, id, labels, fields, at);
      await this.#ctx.events.record(trx, { type: 'volume.updated', service: v.service, objectId: id, data: { labels, fields } }, at);
      return { ...v, labels, fields, updatedAt: at };
    });
    this.#ctx.events.notify();
    return updated;
  }

  /**
   * Deletes a volume: the `deleting` intent is committed first, then the backend object is removed, then
   * the record. Refused while attached (VOLUME_BUSY) or while snapshots depend on it.
   */
  async remove(identity: Identity, id: string, opts: IntentOptions = {}): Promise<void> {
    const v = await this.#ctx.store.transaction(async (trx) => {
      // The volume and its snapshot count in one statement.
      const found = await findVolumeCountingSnapshots(trx, id);
      const vol = await this.#visible(trx, identity, id, found?.volume, {});
      if (['attached', 'attaching', 'detaching'].includes(vol.status)) {
        throw new PollyError('VOLUME_BUSY', `${volumeRef(vol)} is ${vol.status}; detach it first`, { status: vol.status });
      }
      if (vol.status === 'creating' || vol.status === 'importing' || vol.status === 'deleting') {
        throw new PollyError('INVALID_STATE', `${volumeRef(vol)} is ${vol.status}; try again when it settles`, { status: vol.status });
      }
      const snapshots = found?.snapshots ?? 0;
      if (snapshots > 0) {
        throw new PollyError('VOLUME_HAS_SNAPSHOTS', `${volumeRef(vol)} has ${snapshots} snapshot(s); delete them first`, { snapshots });
      }
      assertTransition(id, vol.status, 'deleting');
      const at = nowIso();
      const event = this.#ctx.events.values({ type: 'volume.deleting', service: vol.service, objectId: id, data: { name: vol.name } }, at);
      await updateVolumeRecorded(trx, id, vol.status, { status: 'deleting', statusReason: null, intentOwner: this.#ctx.replica.incarnation, recovery: null }, at, event);
      await opts.link?.(trx, { kind: 'volume', op: 'delete', id });
      return vol;
    });
    this.#ctx.events.notify();
    await this.finishDelete(v);
  }

  /** The backend half of a delete; shared with the reconciler. */
  async finishDelete(v: Volume): Promise<void> {
    try {
      await (await this.#pools.driver(v.pool)).delete(v.backendId || v.id);
    } catch (err) {
      await this.#recordFailure(v, 'deleting', 'delete', err);
      throw err instanceof PollyError ? err : new PollyError('BACKEND_FAILED', `pool ${v.pool}: delete failed: ${(err as Error).message}`);
    }
    const event = this.#ctx.events.values({ type: 'volume.deleted', service: v.service, objectId: v.id, data: { name: v.name, pool: v.pool } }, nowIso());
    const store = this.#ctx.store;
    // On PostgreSQL one statement outside any transaction: the pool's and the service's counter rows,
    // which every delete shares, stay locked only while it runs and commits (not for BEGIN/COMMIT round
    // trips besides). On SQLite a transaction, which group commit shares, and deferred: should a power
    // loss take it, the `deleting` intent is still there and the reconciler repeats the delete.
    if (store.dialect === 'postgres') await deleteVolumeRow(store.db, v, { event });
    else await store.transaction((trx) => deleteVolumeRow(trx, v, { event }), 'deferred');
    this.#ctx.events.notify();
    this.#pools.invalidate(v.pool);
  }

  /** Grows a volume. Only available (or, where the driver can grow online, attached) volumes. */
  async expand(identity: Identity, id: string, sizeBytes: number): Promise<Volume> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > MAX_VOLUME_BYTES) {
      throw new PollyError('VALIDATION_FAILED', `sizeBytes must be a whole number of bytes from 1 to ${MAX_VOLUME_BYTES}`);
    }
    const v = await this.load(this.#ctx.store.db, identity, id);
    const driver = await this.#pools.driver(v.pool);
    if (sizeBytes < v.sizeBytes) throw new PollyError('VALIDATION_FAILED', `volumes cannot shrink (${v.sizeBytes} → ${sizeBytes} bytes)`);
    if (sizeBytes === v.sizeBytes) return v;
    if (driver.capabilities.expand === 'none') throw new PollyError('UNSUPPORTED', `pool ${v.pool} (driver ${driver.driverName}) cannot expand volumes`);
    const allowed: VolumeStatus[] = driver.capabilities.expand === 'online' ? ['available', 'attached'] : ['available'];
    if (!allowed.includes(v.status)) throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is ${v.status}; pool ${v.pool} expands only ${allowed.join(' or ')} volumes`);
    const capacity = await this.#pools.backendCapacity(v.pool);
    const grow = sizeBytes - v.sizeBytes;
    // Charge the growth first (through the admission step, like a create), then grow the backend. The
    // size is compare-and-set: an expand or delete that changed the row since it was read wins, and this
    // one changes nothing.
    await this.#ctx.store.transaction(async (trx) => {
      const at = nowIso();
      const demand = { service: v.service, pool: v.pool, profile: v.profile, volumes: 0, bytes: grow, as: 'volume' as const, capacityTotalBytes: capacity.unknown ? null : capacity.totalBytes };
      await this.#admission.admit(trx, demand, async () => {
        // The owner too: a transfer or profile change committed since the read moved the usage this would charge.
        if (!(await setVolumeSize(trx, id, { from: v.sizeBytes, to: sizeBytes, statuses: allowed, owner: { service: v.service, profile: v.profile } }, at))) {
          throw new PollyError('INVALID_STATE', `volume ${id} changed while it was being expanded; read it again and retry`);
        }
        await this.#ctx.events.record(trx, { type: 'volume.expanding', service: v.service, objectId: id, data: { fromBytes: v.sizeBytes, toBytes: sizeBytes } }, at);
      });
    });
    try {
      await driver.expand(v.backendId, sizeBytes);
    } catch (err) {
      await this.#rollbackExpand(v, sizeBytes, err);
      throw err instanceof PollyError ? err : new PollyError('BACKEND_FAILED', `pool ${v.pool}: expand failed: ${(err as Error).message}`);
    }
    await this.#ctx.store.transaction(async (trx) => {
      await this.#ctx.events.record(trx, { type: 'volume.expanded', service: v.service, objectId: id, data: { sizeBytes } }, nowIso());
    });
    this.#ctx.events.notify();
    return this.get(identity, id);
  }

  /**
   * Gives back an expand the backend refused: the size goes back (compare-and-set, so a row a delete
   * already removed, and refunded at its grown size, is left alone) and the growth is refunded.
   */
  async #rollbackExpand(v: Volume, sizeBytes: number, cause: unknown): Promise<void> {
    const grow = sizeBytes - v.sizeBytes;
    await this.#ctx.store.transaction(async (trx) => {
      const at = nowIso();
      // Refunds whoever the row is charged to now: a transfer or profile change may have moved it meanwhile.
      const owner = await setVolumeSize(trx, v.id, { from: sizeBytes, to: v.sizeBytes }, at);
      const reverted = owner !== undefined;
      if (owner) {
        await chargePool(trx, v.pool, -grow, 0);
        await chargeUsage(trx, owner.service, owner.profile, { bytes: -grow });
      }
      await this.#ctx.events.record(
        trx,
        { type: 'volume.expand_failed', service: v.service, objectId: v.id, data: { fromBytes: v.sizeBytes, toBytes: sizeBytes, reverted, reason: (cause as Error).message } },
        at,
      );
    });
    this.#ctx.events.notify();
  }
}
