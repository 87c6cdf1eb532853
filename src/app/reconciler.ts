import { listGroupSnapshotStates } from '../store/repos/group-snapshots.js';
import { listSnapshotStates } from '../store/repos/snapshots.js';
import { listVolumeStates } from '../store/repos/volumes.js';
import type { AppContext } from './context.js';
import { checkDrift, type DriftReport } from './drift.js';
import type { GroupSnapshotUseCases } from './group-snapshots.js';
import { asSystem } from './request-scope.js';
import type { SnapshotUseCases } from './snapshots.js';
import type { VolumeRecovery } from './volume-recovery.js';

export interface ReconcileReport {
  volumesCreated: number;
  volumesDeleted: number;
  snapshotsCreated: number;
  snapshotsDeleted: number;
  /** Group snapshots whose creation a crash interrupted, undone (members deleted). */
  groupSnapshotsRolledBack: number;
  /** Failed operations retried (each counted once, whether the retry worked or not). */
  retried: number;
  failed: number;
}

/** Intents without an owner were written before owners existed (0005); on PostgreSQL they wait this long. */
const UNOWNED_GRACE_MS = 60_000;

/**
 * Finishes what a crash interrupted and retries what a transient failure broke. An intent (a `creating`
 * or `deleting` row) is taken over as soon as its owner is not alive — a previous run of this replica, or
 * a replica whose heartbeat stopped — by a compare-and-set claim, then replayed through the same code
 * path that started it (drivers are idempotent by id). A row in `error` whose recovery is due is retried
 * the same way; each retry is counted and the status reason says what was tried.
 * {@link Reconciler.checkDrift} compares each pool's backend with the records (drift.ts); it lists whole
 * backends, so it runs on its own timer and never delays a start-up.
 */
export class Reconciler {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeRecovery;
  readonly #snapshots: SnapshotUseCases;
  readonly #groups: GroupSnapshotUseCases;
  #running: Promise<ReconcileReport> | undefined;
  #drift: Promise<DriftReport> | undefined;

  constructor(ctx: AppContext, volumes: VolumeRecovery, snapshots: SnapshotUseCases, groups: GroupSnapshotUseCases) {
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#snapshots = snapshots;
    this.#groups = groups;
  }

  /** Runs one pass; concurrent calls share the pass in progress. */
  run(): Promise<ReconcileReport> {
    this.#running ??= asSystem('reconciler', () => this.#pass()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Compares every loaded pool's backend objects with the records (see drift.ts); concurrent calls share one check. */
  checkDrift(): Promise<DriftReport> {
    this.#drift ??= checkDrift(this.#ctx).finally(() => {
      this.#drift = undefined;
    });
    return this.#drift;
  }

  async #pass(): Promise<ReconcileReport> {
    const report: ReconcileReport = { volumesCreated: 0, volumesDeleted: 0, snapshotsCreated: 0, snapshotsDeleted: 0, groupSnapshotsRolledBack: 0, retried: 0, failed: 0 };
    const db = this.#ctx.store.db;
    const now = this.#ctx.clock.now();
    const live = await this.#ctx.replica.liveOwners();
    const unownedCutoff = new Date(now.getTime() - (this.#ctx.store.dialect === 'sqlite' ? 0 : UNOWNED_GRACE_MS)).toISOString();
    const orphaned = (owner: string | null, changedAt: string) => (owner === null ? changedAt <= unownedCutoff : !live(owner));
    const due = (retryAt: string | null) => retryAt !== null && retryAt <= now.toISOString();

    for (const s of await listVolumeStates(db, ['creating', 'deleting', 'error'])) {
      const v = s.volume;
      if (v.status === 'error') {
        if (!due(s.recovery?.retryAt ?? null)) continue;
        await this.#attempt(report, 'retried', v.id, () => this.#volumes.retryFailed(s));
      } else if (orphaned(s.intentOwner, v.updatedAt)) {
        await this.#attempt(report, v.status === 'creating' ? 'volumesCreated' : 'volumesDeleted', v.id, () => this.#volumes.takeOverIntent(s));
      }
    }
    for (const g of await listGroupSnapshotStates(db, ['creating', 'deleting'])) {
      if (orphaned(g.intentOwner, g.group.createdAt)) {
        await this.#attempt(report, g.group.status === 'creating' ? 'groupSnapshotsRolledBack' : 'snapshotsDeleted', g.group.id, () => this.#groups.takeOverIntent(g));
      }
    }
    for (const s of await listSnapshotStates(db, ['creating', 'deleting', 'error'])) {
      const snap = s.snapshot;
      // A group's members are settled with their group (above; a failed group delete is repeated by its owner).
      if (snap.groupId !== null) continue;
      if (snap.status === 'error') {
        if (!due(s.recovery?.retryAt ?? null)) continue;
        await this.#attempt(report, 'retried', snap.id, () => this.#snapshots.retryFailed(s));
      } else if (orphaned(s.intentOwner, snap.createdAt)) {
        await this.#attempt(report, snap.status === 'creating' ? 'snapshotsCreated' : 'snapshotsDeleted', snap.id, () => this.#snapshots.takeOverIntent(s));
      }
    }
    this.#ctx.telemetry.reconcilerRuns.inc();
    for (const [kind, n] of Object.entries(report)) if (n > 0) this.#ctx.telemetry.reconcilerRepairs.inc({ kind }, n);
    const total = Object.values(report).reduce((a, b) => a + b, 0);
    if (total > 0) this.#ctx.log.info({ report }, 'reconciler finished interrupted or failed operations');
    return report;
  }

  async #attempt(report: ReconcileReport, counter: keyof ReconcileReport, id: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      // A claim lost to another replica (undefined/false) is nobody's failure and counts for nothing.
      const done = await fn();
      if (done === false || done === undefined) return;
      report[counter]++;
    } catch (err) {
      if (counter === 'retried') report.retried++;
      report.failed++;
      this.#ctx.log.warn({ err, id }, 'reconciler could not finish an operation');
    }
  }
}
