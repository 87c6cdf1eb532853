import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { assertValidName } from '../core/names.js';
import type { BackendObject } from '../core/ports/driver.js';
import type { Identity, Volume } from '../core/types.js';
import { findPool } from '../store/repos/pools.js';
import { findService } from '../store/repos/services.js';
import { deleteShare, findShare, listShares, putShare, type Share } from '../store/repos/shares.js';
import { countSnapshotsOfVolume } from '../store/repos/snapshots.js';
import { deleteVolumeRow, findVolumeByName, insertVolume, updateVolume } from '../store/repos/volumes.js';
import { isUniqueViolation, nowIso } from '../store/store.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import type { Admission } from './admission.js';
import { requireAdmin } from './scope.js';
import type { VolumeUseCases } from './volumes.js';
import { volumeRef } from '../core/volume-ref.js';

/**
 * Who owns and who may use a volume: sharing with other services (the original Polly's volume
 * offer/revoke), transfer of ownership, and import/release of backend objects Polly does not manage
 * (Cinder's manage/unmanage).
 */
export class VolumeOwnershipUseCases {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;
  readonly #pools: PoolUseCases;

  readonly #admission: Admission;

  constructor(ctx: AppContext, volumes: VolumeUseCases, pools: PoolUseCases, admission: Admission) {
    this.#admission = admission;
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#pools = pools;
  }

  /** Lets other services see and attach a volume (admin). Idempotent; changes the access of an existing share. */
  async share(identity: Identity, id: string, services: string[], access: 'ro' | 'rw'): Promise<Share[]> {
    requireAdmin(identity, 'sharing volumes');
    const result = await this.#ctx.store.transaction(async (trx) => {
      const v = await this.#volumes.load(trx, identity, id);
      const at = nowIso();
      for (const s of services) {
        if (s === v.service) throw new PollyError('VALIDATION_FAILED', `${volumeRef(v)} already belongs to service ${s}`);
        if (!(await findService(trx, s))) throw new PollyError('SERVICE_NOT_FOUND', `service ${s} not found`);
        await putShare(trx, { volumeId: id, service: s, access, createdAt: at });
        await this.#ctx.events.record(trx, { type: 'volume.shared', service: s, objectId: id, data: { owner: v.service, access } }, at);
      }
      await this.#ctx.events.record(trx, { type: 'volume.shared', service: v.service, objectId: id, data: { with: services, access } }, at);
      return listShares(trx, id);
    });
    this.#ctx.events.notify();
    return result;
  }

  /** Takes a share back (admin). Refused while the service has the volume attached. */
  async unshare(identity: Identity, id: string, services: string[]): Promise<Share[]> {
    requireAdmin(identity, 'revoking shares');
    const result = await this.#ctx.store.transaction(async (trx) => {
      const v = await this.#volumes.load(trx, identity, id);
      const at = nowIso();
      for (const s of services) {
        if (!(await findShare(trx, id, s))) continue;
        // Until attachments record which service holds them, any attachment blocks the revoke: never pull
        // a volume from under a running container.
        if (['attaching', 'attached', 'detaching'].includes(v.status)) {
          throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is ${v.status}; detach it before revoking service ${s}'s access`);
        }
        await deleteShare(trx, id, s);
        await this.#ctx.events.record(trx, { type: 'volume.unshared', service: s, objectId: id, data: { owner: v.service } }, at);
      }
      return listShares(trx, id);
    });
    this.#ctx.events.notify();
    return result;
  }

  async shares(identity: Identity, id: string): Promise<Share[]> {
    const v = await this.#volumes.load(this.#ctx.store.db, identity, id);
    return listShares(this.#ctx.store.db, v.id);
  }

  /**
   * Moves a volume, with its snapshots, to another service (its owner or the admin). The receiving
   * service's quota is checked and charged by the admission step (Admission.move) in the same transaction
   * that frees the giver's. The volume's row is locked first, so a racing expand, delete or snapshot waits
   * (or has committed and is seen).
   */
  async transfer(identity: Identity, id: string, toService: string): Promise<Volume> {
    const store = this.#ctx.store;
    const moved = await store.transaction(async (trx) => {
      await store.lockVolume(trx, id);
      const v = await this.#volumes.load(trx, identity, id);
      if (v.service === toService) return v;
      if (!(await findService(trx, toService))) throw new PollyError('SERVICE_NOT_FOUND', `service ${toService} not found`);
      if (v.status !== 'available') throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is ${v.status}; only available volumes can be transferred`);
      if (await findVolumeByName(trx, toService, v.name)) {
        throw new PollyError('VOLUME_NAME_TAKEN', `service ${toService} already has a volume named ${v.name}`);
      }
      // Locked, not only counted: a snapshot deleted meanwhile (refunded to its row's service) is not moved twice.
      const snapshots = await store.lockSnapshotsOfVolume(trx, id);
      const at = nowIso();
      const demand = { from: { service: v.service, profile: v.profile }, to: { service: toService, profile: v.profile }, volumes: 1, bytes: v.sizeBytes, snapshots };
      await this.#admission.move(trx, demand, async () => {
        try {
          await trx.updateTable('volumes').set({ service: toService, updated_at: at }).where('id', '=', id).execute();
        } catch (err) {
          // A volume of that name created in the receiving service since the check above.
          if (isUniqueViolation(err)) throw new PollyError('VOLUME_NAME_TAKEN', `service ${toService} already has a volume named ${v.name}`);
          throw err;
        }
        await trx.updateTable('snapshots').set({ service: toService }).where('volume_id', '=', id).execute();
        await trx.deleteFrom('volume_shares').where('volume_id', '=', id).execute();
        for (const service of [v.service, toService]) {
          await this.#ctx.events.record(trx, { type: 'volume.transferred', service, objectId: id, data: { from: v.service, to: toService } }, at);
        }
      });
      return { ...v, service: toService, updatedAt: at };
    });
    this.#ctx.events.notify();
    return moved;
  }

  /** What a pool's backend holds that no volume or snapshot record owns (admin). */
  async unmanaged(identity: Identity, pool: string): Promise<BackendObject[]> {
    requireAdmin(identity, 'listing unmanaged backend objects');
    const db = this.#ctx.store.db;
    if (!(await findPool(db, pool))) throw new PollyError('POOL_NOT_FOUND', `pool ${pool} not found`);
    const objects = await (await this.#pools.driver(pool)).list();
    const known = new Set<string>();
    for (const r of await db.selectFrom('volumes').select(['backend_id', 'id']).where('pool', '=', pool).execute()) {
      known.add(r.backend_id || r.id);
    }
    for (const r of await db.selectFrom('snapshots').select(['backend_id', 'id']).where('pool', '=', pool).execute()) {
      known.add(r.backend_id || r.id);
    }
    return objects.filter((o) => !known.has(o.backendId));
  }

  /** Takes an unmanaged backend volume under management for a service (admin). The data is not touched. */
  async import(identity: Identity, input: { pool: string; backendId: string; service: string; name: string; profile?: string | undefined }): Promise<Volume> {
    requireAdmin(identity, 'importing volumes');
    assertValidName('volume', input.name);
    const db = this.#ctx.store.db;
    if (!(await findService(db, input.service))) throw new PollyError('SERVICE_NOT_FOUND', `service ${input.service} not found`);
    const profile = await this.#pools.profileFor(identity, input.service, input.profile ?? 'default');
    const object = (await this.unmanaged(identity, input.pool)).find((o) => o.backendId === input.backendId && o.kind === 'volume');
    if (!object) {
      throw new PollyError('VOLUME_NOT_FOUND', `pool ${input.pool} has no unmanaged volume ${input.backendId} (see GET /v1/pools/${input.pool}/unmanaged)`);
    }
    const at = nowIso();
    const volume: Volume = {
      id: newId('vol'),
      name: input.name,
      service: input.service,
      pool: input.pool,
      profile: profile.name,
      sizeBytes: Math.max(1, object.sizeBytes),
      status: 'importing',
      statusReason: null,
      labels: {},
      fields: {},
      backendId: input.backendId,
      source: null,
      createdAt: at,
      updatedAt: at,
    };
    try {
      await this.#ctx.store.transaction(async (trx) => {
        // The data already sits on the pool: the import is charged to it, but capacity is not a reason to refuse.
        const demand = { service: input.service, pool: input.pool, profile: profile.name, volumes: 1, bytes: volume.sizeBytes, as: 'volume' as const, capacityTotalBytes: null, writeReferencesService: true };
        await this.#admission.admit(trx, demand, () => insertVolume(trx, volume));
        await updateVolume(trx, volume.id, 'importing', { status: 'available' }, at);
        await this.#ctx.events.record(trx, { type: 'volume.imported', service: input.service, objectId: volume.id, data: { pool: input.pool, backendId: input.backendId, name: input.name } }, at);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new PollyError('VOLUME_NAME_TAKEN', `volume name ${input.name} is already used in service ${input.service}`);
      throw err;
    }
    this.#ctx.events.notify();
    return { ...volume, status: 'available' };
  }

  /** Forgets a volume without deleting its data (admin): the backend object becomes unmanaged again. */
  async release(identity: Identity, id: string): Promise<void> {
    requireAdmin(identity, 'releasing volumes');
    await this.#ctx.store.transaction(async (trx) => {
      const v = await this.#volumes.load(trx, identity, id);
      if (v.status !== 'available' && v.status !== 'error') throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is ${v.status}; only available volumes can be released`);
      if ((await countSnapshotsOfVolume(trx, id)) > 0) throw new PollyError('VOLUME_HAS_SNAPSHOTS', `${volumeRef(v)} has snapshots; delete them first`);
      await deleteVolumeRow(trx, v);
      await this.#ctx.events.record(trx, { type: 'volume.released', service: v.service, objectId: id, data: { pool: v.pool, backendId: v.backendId } }, nowIso());
    });
    this.#ctx.events.notify();
  }
}
