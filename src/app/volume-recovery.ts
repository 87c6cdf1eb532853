import type { CreateSource } from '../core/ports/driver.js';
import type { Volume } from '../core/types.js';
import { findProfile } from '../store/repos/pools.js';
import { findSnapshot } from '../store/repos/snapshots.js';
import { claimVolume, findVolume, type VolumeState } from '../store/repos/volumes.js';
import { nowIso } from '../store/store.js';
import type { AppContext } from './context.js';
import { willRetry } from './recovery.js';
import type { VolumeUseCases } from './volumes.js';

/**
 * Finishing what others could not: intents whose owner died, and operations a transient failure left in
 * `error`. Each starts with a compare-and-set claim of the row, so two replicas (or a replica and a
 * client's retry) never run the same recovery twice.
 */
export class VolumeRecovery {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;

  constructor(ctx: AppContext, volumes: VolumeUseCases) {
    this.#ctx = ctx;
    this.#volumes = volumes;
  }

  /**
   * Runs the backend half of a create again for an intent nobody is finishing (its owner died) or a
   * create that failed: the driver is idempotent by volume id. The caller has claimed the row.
   */
  async resumeCreate(v: Volume): Promise<Volume> {
    const db = this.#ctx.store.db;
    const profile = await findProfile(db, v.profile);
    let source: CreateSource | undefined;
    if (v.source?.kind === 'snapshot') {
      const snap = await findSnapshot(db, v.source.id);
      if (snap) source = { kind: 'snapshot', backendId: snap.backendId };
    } else if (v.source?.kind === 'volume') {
      const src = await findVolume(db, v.source.id);
      if (src) source = { kind: 'volume', backendId: src.backendId };
    }
    return this.#volumes.finishCreate(
      { ...v, status: 'creating' },
      { volumeMode: profile?.volumeMode ?? 'filesystem', fsType: profile?.fsType ?? 'ext4', parameters: profile?.parameters ?? {}, source },
    );
  }

  /**
   * Retries the operation that left a volume in `error` (a create is finished, a delete completed), when
   * its recovery still allows one. Returns undefined when somebody else claimed it first; throws the
   * failure when the retry failed (recorded on the volume as well).
   */
  async retryFailed(state: VolumeState): Promise<Volume | null | undefined> {
    const { volume: v, recovery } = state;
    if (v.status !== 'error' || !willRetry(recovery) || recovery === null) return undefined;
    const to = recovery.failedOp === 'create' ? 'creating' : 'deleting';
    const claimed = await claimVolume(
      this.#ctx.store.db,
      v.id,
      { status: 'error', intentOwner: state.intentOwner, retries: recovery.retries },
      { status: to, intentOwner: this.#ctx.replica.incarnation, retries: recovery.retries + 1 },
      nowIso(),
    );
    if (!claimed) return undefined;
    this.#ctx.log.info({ volumeId: v.id, op: recovery.failedOp, retry: recovery.retries + 1 }, 'retrying a failed volume operation');
    if (recovery.failedOp === 'create') return this.resumeCreate(v);
    await this.#volumes.finishDelete({ ...v, status: 'deleting' });
    return null;
  }

  /** Takes over an intent whose owner is dead and finishes it; false when another replica took it first. */
  async takeOverIntent(state: VolumeState): Promise<boolean> {
    const { volume: v } = state;
    if (v.status !== 'creating' && v.status !== 'deleting') return false;
    const me = this.#ctx.replica.incarnation;
    if (!(await claimVolume(this.#ctx.store.db, v.id, { status: v.status, intentOwner: state.intentOwner }, { status: v.status, intentOwner: me }, nowIso()))) {
      return false;
    }
    if (v.status === 'creating') await this.resumeCreate(v);
    else await this.#volumes.finishDelete(v);
    return true;
  }

}
