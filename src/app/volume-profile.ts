import { PollyError } from '../core/errors.js';
import type { Identity, Pool, Profile, Volume } from '../core/types.js';
import { findPool, findProfile } from '../store/repos/pools.js';
import { nowIso } from '../store/store.js';
import type { Admission } from './admission.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import type { VolumeUseCases } from './volumes.js';
import { volumeRef } from '../core/volume-ref.js';

/**
 * Moves a volume to another profile in place (CSI ControllerModifyVolume, Kubernetes'
 * VolumeAttributesClass): the data stays where it is, so the new profile must fit the volume as it is —
 * its pool (allow-list, selector, media), its mode and filesystem, its size, what the pool's driver can
 * do (QoS) — and the service's per-profile quota. Usage moves from the old profile to the new one in the
 * same transaction, through the admission step (Admission.move), which checks that quota. Idempotent: the
 * volume's own profile is a no-op.
 */
export class VolumeProfileUseCases {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;
  readonly #pools: PoolUseCases;
  readonly #admission: Admission;

  constructor(ctx: AppContext, volumes: VolumeUseCases, pools: PoolUseCases, admission: Admission) {
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#pools = pools;
    this.#admission = admission;
  }

  async changeProfile(identity: Identity, id: string, profileName: string): Promise<Volume> {
    const current = await this.#volumes.get(identity, id);
    if (current.profile === profileName) return current;
    const profile = await this.#pools.profileFor(identity, current.service, profileName);
    const driver = await this.#pools.driver(current.pool);
    const changed = await this.#ctx.store.transaction(async (trx) => {
      // The volume's row first (as expands and deletes take it): the size and profile moved below are the ones it holds.
      await this.#ctx.store.lockVolume(trx, id);
      const v = await this.#volumes.load(trx, identity, id);
      if (v.profile === profileName) return undefined;
      if (v.status !== 'available' && v.status !== 'attached') {
        throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is ${v.status}; its profile changes when it is available or attached`);
      }
      const pool = await findPool(trx, v.pool);
      if (!pool) throw new PollyError('POOL_NOT_FOUND', `pool ${v.pool} not found`);
      const from = await findProfile(trx, v.profile);
      const shape = { sizeBytes: v.sizeBytes, volumeMode: from?.volumeMode ?? profile.volumeMode, fsType: from?.fsType ?? profile.fsType };
      const misfit = misfitReason(shape, pool, profile, { qos: driver.capabilities.qos, fsTypes: driver.capabilities.fsTypes });
      if (misfit !== undefined) throw new PollyError('VALIDATION_FAILED', `${volumeRef(v)} cannot take profile ${profile.name}: ${misfit}`);
      const at = nowIso();
      const demand = { from: { service: v.service, profile: v.profile }, to: { service: v.service, profile: profile.name }, volumes: 1, bytes: v.sizeBytes, snapshots: 0 };
      await this.#admission.move(trx, demand, async () => {
        await trx.updateTable('volumes').set({ profile: profile.name, updated_at: at }).where('id', '=', v.id).execute();
        await this.#ctx.events.record(trx, { type: 'volume.updated', service: v.service, objectId: v.id, data: { name: v.name, profile: profile.name, fromProfile: v.profile } }, at);
      });
      return v;
    });
    if (changed) this.#ctx.events.notify();
    return this.#volumes.get(identity, id);
  }
}

/** Why `profile` cannot describe volume `v` (its size, and mode and filesystem from its current profile) where it lies, or undefined when it can. */
export function misfitReason(
  v: { sizeBytes: number; volumeMode: Profile['volumeMode']; fsType: string },
  pool: Pick<Pool, 'name' | 'labels'>,
  profile: Profile,
  driver: { qos: boolean; fsTypes: readonly string[] },
): string | undefined {
  if (profile.volumeMode !== v.volumeMode) return `the profile is for ${profile.volumeMode} volumes, the volume is ${v.volumeMode}`;
  if (v.volumeMode === 'filesystem' && driver.fsTypes.length > 0 && profile.fsType !== v.fsType) {
    return `the profile formats ${profile.fsType}, the volume is ${v.fsType}`;
  }
  if (v.sizeBytes < profile.minBytes || v.sizeBytes > profile.maxBytes) {
    return `its ${v.sizeBytes} bytes are outside the profile's ${profile.minBytes}..${profile.maxBytes}`;
  }
  if (profile.pools.length > 0 && !profile.pools.includes(pool.name)) return `the profile does not allow pool ${pool.name}`;
  const label = Object.entries(profile.poolSelector).find(([k, value]) => pool.labels[k] !== value);
  if (label) return `pool ${pool.name} lacks the label ${label[0]}=${label[1]} the profile selects`;
  if (profile.media !== null && pool.labels.media !== profile.media) return `pool ${pool.name} is not ${profile.media} media`;
  const qos = profile.qos.iops !== undefined || profile.qos.bandwidthBytes !== undefined;
  if (qos && !driver.qos) return `the profile sets QoS and pool ${pool.name}'s driver has none`;
  return undefined;
}
