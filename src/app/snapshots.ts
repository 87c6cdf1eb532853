import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { assertValidName } from '../core/names.js';
import type { Identity, Page, Snapshot } from '../core/types.js';
import {
  claimSnapshot,
  deleteSnapshotRow,
  findSnapshotState,
  findSnapshot,
  findSnapshotByName,
  insertSnapshot,
  listSnapshots,
  updateSnapshot,
  type SnapshotState,
} from '../store/repos/snapshots.js';
import { findVolume } from '../store/repos/volumes.js';
import { nextRecovery, willRetry } from './recovery.js';
import { isUniqueViolation, nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import type { Admission } from './admission.js';
import { actingService, listScope, ownsObject } from './scope.js';
import type { VolumeUseCases } from './volumes.js';
import { volumeRef } from '../core/volume-ref.js';

export class SnapshotUseCases {
  readonly #ctx: AppContext;
  readonly #pools: PoolUseCases;
  readonly #volumes: VolumeUseCases;
  readonly #admission: Admission;

  constructor(ctx: AppContext, pools: PoolUseCases, volumes: VolumeUseCases, admission: Admission) {
    this.#ctx = ctx;
    this.#pools = pools;
    this.#volumes = volumes;
    this.#admission = admission;
  }

  async load(ex: Executor, identity: Identity, id: string): Promise<Snapshot> {
    const s = await findSnapshot(ex, id);
    if (!s || !ownsObject(identity, s.service)) throw new PollyError('SNAPSHOT_NOT_FOUND', `snapshot ${id} not found`);
    return s;
  }

  get(identity: Identity, id: string): Promise<Snapshot> {
    return this.load(this.#ctx.store.db, identity, id);
  }

  /** A snapshot of the caller's service by name, or undefined. */
  async findByName(identity: Identity, name: string, service?: string): Promise<Snapshot | undefined> {
    return findSnapshotByName(this.#ctx.store.db, actingService(identity, service), name);
  }

  async list(
    identity: Identity,
    input: { volumeId?: string | undefined; service?: string | undefined; name?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
  ): Promise<Page<Snapshot>> {
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new PollyError('VALIDATION_FAILED', 'limit must be an integer from 1 to 1000');
    }
    if (input.volumeId !== undefined) await this.#volumes.load(this.#ctx.store.db, identity, input.volumeId);
    return listSnapshots(this.#ctx.store.db, { service: listScope(identity, input.service), volumeId: input.volumeId, name: input.name }, limit, input.cursor);
  }

  /** Takes a snapshot: intent row first (`creating`), then the backend, then `ready`. */
  async create(identity: Identity, volumeId: string, input: { name: string }): Promise<Snapshot> {
    assertValidName('snapshot', input.name);
    const volume = await this.#volumes.load(this.#ctx.store.db, identity, volumeId);
    const driver = await this.#pools.driver(volume.pool);
    if (!driver.capabilities.snapshots) {
      throw new PollyError('UNSUPPORTED', `pool ${volume.pool} (driver ${driver.driverName}) cannot take snapshots`);
    }
    if (!['available', 'attached'].includes(volume.status)) {
      throw new PollyError('INVALID_STATE', `${volumeRef(volume)} is ${volume.status}; only available or attached volumes can be snapshotted`);
    }
    const at = nowIso();
    const snap: Snapshot = {
      id: newId('snap'),
      name: input.name,
      service: volume.service,
      volumeId: volume.id,
      pool: volume.pool,
      sizeBytes: volume.sizeBytes,
      status: 'creating',
      statusReason: null,
      backendId: '',
      createdAt: at,
      groupId: null,
    };
    try {
      await this.#ctx.store.transaction(async (trx) => {
        await this.#admission.admitSnapshots(trx, { service: snap.service, volumeIds: [volume.id] }, async () => {
          await insertSnapshot(trx, snap, this.#ctx.replica.incarnation);
          await this.#ctx.events.record(trx, { type: 'snapshot.creating', service: snap.service, objectId: snap.id, data: { name: snap.name, volumeId: volume.id } }, at);
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new PollyError('SNAPSHOT_NAME_TAKEN', `snapshot name ${input.name} is already used in service ${volume.service}`, { name: input.name });
      }
      throw err;
    }
    this.#ctx.events.notify();
    return this.finishCreate(snap, volume.backendId);
  }

  /** The backend half of a snapshot create; shared with the reconciler. */
  async finishCreate(snap: Snapshot, volumeBackendId: string): Promise<Snapshot> {
    const driver = await this.#pools.driver(snap.pool);
    let created;
    try {
      created = await driver.snapshot(volumeBackendId, snap.id);
    } catch (err) {
      await driver.deleteSnapshot(snap.id).catch(() => undefined);
      await this.#ctx.store.transaction(async (trx) => {
        await deleteSnapshotRow(trx, snap.id);
        await this.#ctx.events.record(trx, { type: 'snapshot.create_failed', service: snap.service, objectId: snap.id, data: { reason: (err as Error).message } }, nowIso());
      });
      this.#ctx.events.notify();
      throw err instanceof PollyError ? err : new PollyError('BACKEND_FAILED', `pool ${snap.pool}: snapshot failed: ${(err as Error).message}`);
    }
    await this.#ctx.store.transaction(async (trx) => {
      await updateSnapshot(trx, snap.id, 'creating', { status: 'ready', backendId: created.backendId, sizeBytes: created.sizeBytes, intentOwner: null, recovery: null });
      await this.#ctx.events.record(trx, { type: 'snapshot.created', service: snap.service, objectId: snap.id, data: { name: snap.name, volumeId: snap.volumeId } }, nowIso());
    });
    this.#ctx.events.notify();
    this.#pools.invalidate(snap.pool);
    return { ...snap, status: 'ready', backendId: created.backendId, sizeBytes: created.sizeBytes };
  }

  async remove(identity: Identity, id: string): Promise<void> {
    const snap = await this.#ctx.store.transaction(async (trx) => {
      const s = await this.load(trx, identity, id);
      if (s.groupId !== null) {
        throw new PollyError('SNAPSHOT_BUSY', `snapshot ${id} belongs to group snapshot ${s.groupId}; delete the group`, { groupSnapshotId: s.groupId });
      }
      if (s.status === 'creating' || s.status === 'deleting') {
        throw new PollyError('INVALID_STATE', `snapshot ${id} is ${s.status}; try again when it settles`);
      }
      const restoring = await trx
        .selectFrom('volumes')
        .select('id')
        .where('source_kind', '=', 'snapshot')
        .where('source_id', '=', id)
        .where('status', '=', 'creating')
        .executeTakeFirst();
      if (restoring) throw new PollyError('SNAPSHOT_BUSY', `snapshot ${id} is being restored into volume ${restoring.id}`);
      await updateSnapshot(trx, id, s.status, { status: 'deleting', intentOwner: this.#ctx.replica.incarnation, recovery: null });
      await this.#ctx.events.record(trx, { type: 'snapshot.deleting', service: s.service, objectId: id, data: {} }, nowIso());
      return s;
    });
    this.#ctx.events.notify();
    await this.finishDelete(snap);
  }

  /**
   * Retries a snapshot delete a transient failure left in `error`, when its recovery still allows one;
   * false when another replica claimed it first.
   */
  async retryFailed(state: SnapshotState): Promise<boolean> {
    const { snapshot: s, recovery } = state;
    if (s.status !== 'error' || !willRetry(recovery) || recovery === null) return false;
    const claimed = await claimSnapshot(
      this.#ctx.store.db,
      s.id,
      { status: 'error', intentOwner: state.intentOwner, retries: recovery.retries },
      { status: 'deleting', intentOwner: this.#ctx.replica.incarnation, retries: recovery.retries + 1 },
    );
    if (claimed) await this.finishDelete({ ...s, status: 'deleting' });
    return claimed;
  }

  /** Takes over a snapshot intent whose owner is dead and finishes it; false when another replica took it. */
  async takeOverIntent(state: SnapshotState): Promise<boolean> {
    const { snapshot: s } = state;
    if (s.status !== 'creating' && s.status !== 'deleting') return false;
    const me = this.#ctx.replica.incarnation;
    if (!(await claimSnapshot(this.#ctx.store.db, s.id, { status: s.status, intentOwner: state.intentOwner }, { status: s.status, intentOwner: me }))) return false;
    if (s.status === 'creating') {
      const vol = await findVolume(this.#ctx.store.db, s.volumeId);
      await this.finishCreate(s, vol?.backendId ?? s.volumeId);
    } else {
      await this.finishDelete(s);
    }
    return true;
  }

  async finishDelete(snap: Snapshot): Promise<void> {
    try {
      await (await this.#pools.driver(snap.pool)).deleteSnapshot(snap.backendId || snap.id);
    } catch (err) {
      await this.#ctx.store.transaction(async (trx) => {
        const prior = (await findSnapshotState(trx, snap.id))?.recovery ?? null;
        const policy = { limit: this.#ctx.config.errorRetryLimit, baseSeconds: this.#ctx.config.errorRetryBaseSeconds };
        const { recovery, reason } = nextRecovery(prior, 'delete', err, policy, this.#ctx.clock.now());
        await updateSnapshot(trx, snap.id, 'deleting', { status: 'error', statusReason: reason, intentOwner: null, recovery });
        await this.#ctx.events.record(trx, { type: 'snapshot.error', service: snap.service, objectId: snap.id, data: { reason, retries: recovery.retries, retryAt: recovery.retryAt } }, nowIso());
      });
      this.#ctx.events.notify();
      throw err instanceof PollyError ? err : new PollyError('BACKEND_FAILED', `pool ${snap.pool}: snapshot delete failed: ${(err as Error).message}`);
    }
    await this.#ctx.store.transaction(async (trx) => {
      await deleteSnapshotRow(trx, snap.id);
      await this.#ctx.events.record(trx, { type: 'snapshot.deleted', service: snap.service, objectId: snap.id, data: { name: snap.name } }, nowIso());
    });
    this.#ctx.events.notify();
    this.#pools.invalidate(snap.pool);
  }
}
