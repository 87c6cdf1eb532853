import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { assertValidName } from '../core/names.js';
import type { GroupSnapshot, Identity, Page, Snapshot, Volume } from '../core/types.js';
import type { CreatedSnapshot } from '../core/ports/driver.js';
import { volumeRef } from '../core/volume-ref.js';
import {
  claimGroupSnapshot,
  deleteGroupSnapshotRow,
  findGroupSnapshot,
  findGroupSnapshotByName,
  insertGroupSnapshot,
  listGroupSnapshots,
  updateGroupSnapshot,
  type GroupSnapshotState,
} from '../store/repos/group-snapshots.js';
import { deleteSnapshotRow, insertSnapshot, updateSnapshot } from '../store/repos/snapshots.js';
import { isUniqueViolation, nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import type { Admission } from './admission.js';
import { actingService, listScope, ownsObject } from './scope.js';
import type { VolumeUseCases } from './volumes.js';

/** At most this many volumes in one group snapshot. */
export const MAX_GROUP_MEMBERS = 64;

export interface CreateGroupSnapshotInput {
  name: string;
  /** The source volumes (ids), each once, all of one service. */
  volumeIds: readonly string[];
}

/**
 * Group snapshots: one snapshot of each of several volumes of one service, taken together and deleted
 * together (CSI's VolumeGroupSnapshot, `polly snapshot group …`).
 *
 * Crash safety follows the single-snapshot path: the group row and one `creating` member row per volume
 * are written in one transaction before any backend is touched; the backend snapshots are then cut; one
 * transaction marks group and members ready. A failure of any member deletes every member already cut
 * and the rows (nothing half-made survives); a crash mid-create leaves an intent the reconciler rolls back
 * the same way (re-cutting the missing members later would no longer be one point in time).
 *
 * What "together" guarantees: all members are cut concurrently, right after one another, once every
 * precondition was checked, so the window between the first and the last cut is as short as the drivers
 * allow (btrfs: one read-only subvolume snapshot each, milliseconds). Each member is crash-consistent on
 * its own when its driver's snapshot is atomic (btrfs, loopblock with reflinks); `local` copies a
 * directory, which is not atomic even for one volume. Across volumes there is no common instant: a write
 * that lands during the window may be in one member and not in another. Applications that need one
 * instant across volumes quiesce (or fsfreeze) them first.
 */
export class GroupSnapshotUseCases {
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

  /** GROUP_SNAPSHOT_NOT_FOUND when it does not exist or belongs to another service. */
  async load(ex: Executor, identity: Identity, id: string): Promise<GroupSnapshot> {
    const g = await findGroupSnapshot(ex, id);
    if (!g || !ownsObject(identity, g.service)) throw new PollyError('GROUP_SNAPSHOT_NOT_FOUND', `group snapshot ${id} not found`);
    return g;
  }

  get(identity: Identity, id: string): Promise<GroupSnapshot> {
    return this.load(this.#ctx.store.db, identity, id);
  }

  /** A group snapshot of the caller's service by name, or undefined. */
  findByName(identity: Identity, name: string, service?: string): Promise<GroupSnapshot | undefined> {
    return findGroupSnapshotByName(this.#ctx.store.db, actingService(identity, service), name);
  }

  list(identity: Identity, input: { service?: string | undefined; limit?: number | undefined; cursor?: string | undefined }): Promise<Page<GroupSnapshot>> {
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new PollyError('VALIDATION_FAILED', 'limit must be an integer from 1 to 1000');
    return listGroupSnapshots(this.#ctx.store.db, { service: listScope(identity, input.service) }, limit, input.cursor);
  }

  /**
   * Creates a group snapshot. Idempotent by name: the same name over the same volumes (in any order)
   * returns the group made first; the same name over other volumes is GROUP_SNAPSHOT_NAME_TAKEN.
   */
  async create(identity: Identity, input: CreateGroupSnapshotInput): Promise<GroupSnapshot> {
    assertValidName('group snapshot', input.name);
    const volumeIds = [...input.volumeIds];
    if (volumeIds.length === 0) throw new PollyError('VALIDATION_FAILED', 'a group snapshot needs at least one volume');
    if (volumeIds.length > MAX_GROUP_MEMBERS) throw new PollyError('VALIDATION_FAILED', `a group snapshot takes at most ${MAX_GROUP_MEMBERS} volumes`);
    const twice = volumeIds.find((id, i) => volumeIds.indexOf(id) !== i);
    if (twice !== undefined) throw new PollyError('VALIDATION_FAILED', `volume ${twice} is listed twice`, { volumeId: twice });

    const volumes: Volume[] = [];
    for (const id of volumeIds) volumes.push(await this.#volumes.load(this.#ctx.store.db, identity, id));
    const service = volumes[0]!.service;
    const foreign = volumes.find((v) => v.service !== service);
    if (foreign) {
      throw new PollyError('VALIDATION_FAILED', `${volumeRef(foreign)} belongs to service ${foreign.service}, not ${service}: a group snapshot is of one service`);
    }
    const existing = await findGroupSnapshotByName(this.#ctx.store.db, service, input.name);
    if (existing) return this.#sameGroup(existing, volumeIds);
    for (const v of volumes) {
      const driver = await this.#pools.driver(v.pool);
      if (!driver.capabilities.snapshots) {
        throw new PollyError('UNSUPPORTED', `pool ${v.pool} (driver ${driver.driverName}) of ${volumeRef(v)} cannot take snapshots`);
      }
      if (!['available', 'attached'].includes(v.status)) {
        throw new PollyError('INVALID_STATE', `${volumeRef(v)} is ${v.status}; only available or attached volumes can be snapshotted`);
      }
    }

    const at = nowIso();
    const group: GroupSnapshot = { id: newId('gsnap'), name: input.name, service, volumeIds, status: 'creating', statusReason: null, createdAt: at, snapshots: [] };
    // Member names are derived from the group's id, which no one else uses: no clash with the service's own snapshots.
    group.snapshots = volumes.map((v, i) => ({
      id: newId('snap'),
      name: `${group.id}-${i}`,
      service,
      volumeId: v.id,
      pool: v.pool,
      sizeBytes: v.sizeBytes,
      status: 'creating',
      statusReason: null,
      backendId: '',
      createdAt: at,
      groupId: group.id,
    }));
    try {
      await this.#ctx.store.transaction(async (trx) => {
        await this.#admission.admitSnapshots(trx, { service, volumeIds }, async () => {
          const me = this.#ctx.replica.incarnation;
          await insertGroupSnapshot(trx, group, me);
          for (const s of group.snapshots) await insertSnapshot(trx, s, me);
          await this.#ctx.events.record(trx, { type: 'group_snapshot.creating', service, objectId: group.id, data: { name: group.name, volumeIds } }, at);
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        const winner = await findGroupSnapshotByName(this.#ctx.store.db, service, input.name);
        if (winner) return this.#sameGroup(winner, volumeIds);
      }
      throw err;
    }
    this.#ctx.events.notify();
    return this.#cut(group, volumes);
  }

  #sameGroup(existing: GroupSnapshot, volumeIds: readonly string[]): GroupSnapshot {
    const same = existing.volumeIds.length === volumeIds.length && volumeIds.every((id) => existing.volumeIds.includes(id));
    if (!same) {
      throw new PollyError('GROUP_SNAPSHOT_NAME_TAKEN', `group snapshot name ${existing.name} is already used in service ${existing.service} for other volumes`, {
        name: existing.name,
        groupSnapshotId: existing.id,
      });
    }
    return existing;
  }

  /** Cuts every member at once; any failure undoes all of them. */
  async #cut(group: GroupSnapshot, volumes: readonly Volume[]): Promise<GroupSnapshot> {
    const drivers = await Promise.all(group.snapshots.map((s) => this.#pools.driver(s.pool)));
    const results = await Promise.allSettled(group.snapshots.map((s, i) => drivers[i]!.snapshot(volumes[i]!.backendId, s.id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const reason = (failed.reason as Error).message;
      await this.#rollBack(group, reason);
      throw failed.reason instanceof PollyError ? failed.reason : new PollyError('BACKEND_FAILED', `group snapshot ${group.name}: ${reason}`);
    }
    const created = results.map((r) => (r as PromiseFulfilledResult<CreatedSnapshot>).value);
    const snapshots: Snapshot[] = group.snapshots.map((s, i) => ({ ...s, status: 'ready', backendId: created[i]!.backendId, sizeBytes: created[i]!.sizeBytes }));
    await this.#ctx.store.transaction(async (trx) => {
      for (const s of snapshots) {
        await updateSnapshot(trx, s.id, 'creating', { status: 'ready', backendId: s.backendId, sizeBytes: s.sizeBytes, intentOwner: null, recovery: null });
      }
      await updateGroupSnapshot(trx, group.id, 'creating', { status: 'ready', intentOwner: null });
      await this.#ctx.events.record(
        trx,
        { type: 'group_snapshot.created', service: group.service, objectId: group.id, data: { name: group.name, snapshotIds: snapshots.map((s) => s.id) } },
        nowIso(),
      );
    });
    this.#ctx.events.notify();
    for (const pool of new Set(snapshots.map((s) => s.pool))) this.#pools.invalidate(pool);
    return { ...group, status: 'ready', snapshots };
  }

  /** Deletes whatever members were cut (drivers: not an error when missing), then every row. */
  async #rollBack(group: GroupSnapshot, reason: string): Promise<void> {
    await Promise.all(group.snapshots.map(async (s) => (await this.#pools.driver(s.pool)).deleteSnapshot(s.id).catch(() => undefined)));
    await this.#ctx.store.transaction(async (trx) => {
      for (const s of group.snapshots) await deleteSnapshotRow(trx, s.id);
      await deleteGroupSnapshotRow(trx, group.id);
      await this.#ctx.events.record(trx, { type: 'group_snapshot.create_failed', service: group.service, objectId: group.id, data: { name: group.name, reason } }, nowIso());
    });
    this.#ctx.events.notify();
  }

  /**
   * Deletes a group and all its member snapshots. A group in `error` (a member's delete failed) may be
   * deleted again. SNAPSHOT_BUSY while a member is being restored into a new volume.
   */
  async remove(identity: Identity, id: string): Promise<void> {
    const group = await this.#ctx.store.transaction(async (trx) => {
      const g = await this.load(trx, identity, id);
      if (g.status === 'creating' || g.status === 'deleting') {
        throw new PollyError('INVALID_STATE', `group snapshot ${id} is ${g.status}; try again when it settles`);
      }
      const restoring = await trx
        .selectFrom('volumes')
        .select(['id', 'source_id'])
        .where('source_kind', '=', 'snapshot')
        .where(
          'source_id',
          'in',
          g.snapshots.map((s) => s.id),
        )
        .where('status', '=', 'creating')
        .executeTakeFirst();
      if (restoring) throw new PollyError('SNAPSHOT_BUSY', `snapshot ${restoring.source_id} of group ${id} is being restored into volume ${restoring.id}`);
      const me = this.#ctx.replica.incarnation;
      await updateGroupSnapshot(trx, id, g.status, { status: 'deleting', statusReason: null, intentOwner: me });
      for (const s of g.snapshots) await updateSnapshot(trx, s.id, s.status, { status: 'deleting', intentOwner: me, recovery: null });
      await this.#ctx.events.record(trx, { type: 'group_snapshot.deleting', service: g.service, objectId: id, data: { name: g.name } }, nowIso());
      return g;
    });
    this.#ctx.events.notify();
    await this.#finishDelete(group);
  }

  async #finishDelete(group: GroupSnapshot): Promise<void> {
    const results = await Promise.allSettled(group.snapshots.map(async (s) => (await this.#pools.driver(s.pool)).deleteSnapshot(s.backendId || s.id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    await this.#ctx.store.transaction(async (trx) => {
      for (const [i, s] of group.snapshots.entries()) {
        if (results[i]?.status === 'fulfilled') await deleteSnapshotRow(trx, s.id);
        else await updateSnapshot(trx, s.id, 'deleting', { status: 'error', statusReason: String((results[i] as PromiseRejectedResult).reason), intentOwner: null });
      }
      if (failed) {
        const reason = `delete failed: ${(failed.reason as Error).message}`;
        await updateGroupSnapshot(trx, group.id, 'deleting', { status: 'error', statusReason: reason, intentOwner: null });
        await this.#ctx.events.record(trx, { type: 'group_snapshot.error', service: group.service, objectId: group.id, data: { reason } }, nowIso());
      } else {
        await deleteGroupSnapshotRow(trx, group.id);
        await this.#ctx.events.record(trx, { type: 'group_snapshot.deleted', service: group.service, objectId: group.id, data: { name: group.name } }, nowIso());
      }
    });
    this.#ctx.events.notify();
    for (const pool of new Set(group.snapshots.map((s) => s.pool))) this.#pools.invalidate(pool);
    if (failed) {
      throw failed.reason instanceof PollyError ? failed.reason : new PollyError('BACKEND_FAILED', `group snapshot ${group.name}: ${(failed.reason as Error).message}`);
    }
  }

  /**
   * Takes over a group intent whose owner died (the reconciler): a `creating` group is rolled back (its
   * members would no longer be one point in time), a `deleting` one is finished. False when another
   * replica claimed it first.
   */
  async takeOverIntent(state: GroupSnapshotState): Promise<boolean> {
    const { group } = state;
    if (group.status !== 'creating' && group.status !== 'deleting') return false;
    if (!(await claimGroupSnapshot(this.#ctx.store.db, group.id, { status: group.status, intentOwner: state.intentOwner }, this.#ctx.replica.incarnation))) return false;
    if (group.status === 'creating') await this.#rollBack(group, 'interrupted before all members were cut (the server stopped)');
    else await this.#finishDelete(group);
    return true;
  }
}
