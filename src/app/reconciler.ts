import type { CreateSource } from '../core/ports/driver.js';
import type { Snapshot, Volume } from '../core/types.js';
import { findProfile } from '../store/repos/pools.js';
import { findSnapshot, listSnapshotsInStatus } from '../store/repos/snapshots.js';
import { findVolume, listVolumesInStatus } from '../store/repos/volumes.js';
import type { AppContext } from './context.js';
import type { SnapshotUseCases } from './snapshots.js';
import type { VolumeUseCases } from './volumes.js';

export interface ReconcileReport {
  volumesCreated: number;
  volumesDeleted: number;
  snapshotsCreated: number;
  snapshotsDeleted: number;
  failed: number;
}

/**
 * Finishes what a crash interrupted. Every intent (`creating`, `deleting` rows) older than `graceMs` is
 * replayed through the same code path that started it; drivers are idempotent by id, so a replay of a
 * half-done step completes it, and a replay that fails rolls the intent back or parks it in `error`.
 */
export class Reconciler {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;
  readonly #snapshots: SnapshotUseCases;
  #running: Promise<ReconcileReport> | undefined;

  constructor(ctx: AppContext, volumes: VolumeUseCases, snapshots: SnapshotUseCases) {
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#snapshots = snapshots;
  }

  /** Runs one pass; concurrent calls share the pass in progress. */
  run(graceMs: number): Promise<ReconcileReport> {
    this.#running ??= this.#pass(graceMs).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(graceMs: number): Promise<ReconcileReport> {
    const report: ReconcileReport = { volumesCreated: 0, volumesDeleted: 0, snapshotsCreated: 0, snapshotsDeleted: 0, failed: 0 };
    const cutoff = new Date(this.#ctx.clock.now().getTime() - graceMs).toISOString();
    const db = this.#ctx.store.db;
    const stale = <T extends { updatedAt?: string; createdAt: string }>(x: T) => (x.updatedAt ?? x.createdAt) <= cutoff;

    for (const v of (await listVolumesInStatus(db, ['creating'])).filter(stale)) {
      await this.#attempt(report, 'volumesCreated', v.id, () => this.#replayCreate(v));
    }
    for (const v of (await listVolumesInStatus(db, ['deleting'])).filter(stale)) {
      await this.#attempt(report, 'volumesDeleted', v.id, () => this.#volumes.finishDelete(v));
    }
    for (const s of (await listSnapshotsInStatus(db, ['creating'])).filter(stale)) {
      await this.#attempt(report, 'snapshotsCreated', s.id, () => this.#replaySnapshot(s));
    }
    for (const s of (await listSnapshotsInStatus(db, ['deleting'])).filter(stale)) {
      await this.#attempt(report, 'snapshotsDeleted', s.id, () => this.#snapshots.finishDelete(s));
    }
    const total = report.volumesCreated + report.volumesDeleted + report.snapshotsCreated + report.snapshotsDeleted + report.failed;
    if (total > 0) this.#ctx.log.info({ report }, 'reconciler finished interrupted operations');
    return report;
  }

  async #attempt(report: ReconcileReport, counter: keyof ReconcileReport, id: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      report[counter]++;
    } catch (err) {
      report.failed++;
      this.#ctx.log.warn({ err, id }, 'reconciler could not finish an interrupted operation');
    }
  }

  async #replayCreate(v: Volume): Promise<void> {
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
    await this.#volumes.finishCreate(v, {
      volumeMode: profile?.volumeMode ?? 'filesystem',
      fsType: profile?.fsType ?? 'ext4',
      parameters: profile?.parameters ?? {},
      source,
    });
  }

  async #replaySnapshot(s: Snapshot): Promise<void> {
    const vol = await findVolume(this.#ctx.store.db, s.volumeId);
    await this.#snapshots.finishCreate(s, vol?.backendId ?? s.volumeId);
  }
}
