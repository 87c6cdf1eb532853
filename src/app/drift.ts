import { PollyError } from '../core/errors.js';
import type { StorageDriver } from '../core/ports/driver.js';
import { updateSnapshot } from '../store/repos/snapshots.js';
import { updateVolume } from '../store/repos/volumes.js';
import { type Executor, nowIso } from '../store/store.js';
import type { AppContext } from './context.js';

/** The failure code a drifted row carries, so that the drift can be undone when the object comes back. */
export const DRIFT_CODE = 'BACKEND_OBJECT_MISSING';

export interface DriftReport {
  /** Volumes whose backend object vanished, moved to `error` in this pass. */
  volumesDrifted: number;
  snapshotsDrifted: number;
  /** Drifted volumes whose object is back (a remounted pool, a restored backup), `available` again. */
  volumesRestored: number;
  snapshotsRestored: number;
  /** Backend objects no record owns, summed over the pools checked (see GET /v1/pools/{name}/unmanaged). */
  unmanaged: number;
}

/**
 * Compares each loaded pool's backend objects with the records. A volume (`available`) or snapshot
 * (`ready`) whose object is gone becomes `error` with a reason and a `volume.drift` / `snapshot.drift`
 * event, so that it is never served as if it were there; an object no record owns is counted as
 * unmanaged (listed and importable through the ownership use cases). Drift is undone, not only found:
 * a row the check moved to `error` (it carries {@link DRIFT_CODE}) whose object is listed again — a
 * filesystem remounted, a backend restored from backup — returns to `available` / `ready` with a
 * `volume.restored` / `snapshot.restored` event. Rows in `error` for any other reason are never touched.
 *
 * Race-free against creates and deletes: the records are read *before* the backend is listed (a volume
 * becomes `available` only after its object exists), and the move to `error` is a compare-and-set on the
 * status read, so a volume that started deleting or attaching meanwhile is left alone. A pool whose
 * listing fails (backend unreachable), or that lists nothing while several volumes are recorded (an
 * unmounted file system), is skipped, never taken as "everything vanished".
 */
export async function checkDrift(ctx: AppContext): Promise<DriftReport> {
  const report: DriftReport = { volumesDrifted: 0, snapshotsDrifted: 0, volumesRestored: 0, snapshotsRestored: 0, unmanaged: 0 };
  for (const [pool, driver] of ctx.drivers) {
    await checkPool(ctx, pool, driver, report);
  }
  if (report.volumesDrifted + report.snapshotsDrifted + report.volumesRestored + report.snapshotsRestored > 0) ctx.events.notify();
  return report;
}

/**
 * Rows read, or compared, between two yields to the event loop. On SQLite every statement runs
 * synchronously on the event loop: one read of a pool's million volumes blocked every request for seconds
 * (measured at 1,000,000 volumes: 17–25 s on a loaded 2-core machine), every reconcile interval.
 */
export const DRIFT_PAGE = 500;

/** Lets requests (I/O callbacks and timers) run before the next page. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Every row a keyset query answers, read by id in pages of {@link DRIFT_PAGE} with a yield between pages. */
async function readPaged<T extends { id: string }>(read: (after: string, limit: number) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  let after = '';
  for (;;) {
    const page = await read(after, DRIFT_PAGE);
    for (const row of page) out.push(row);
    if (page.length < DRIFT_PAGE) return out;
    after = page[page.length - 1]!.id;
    await yieldToRequests();
  }
}

/** Calls `fn` for each item, yielding to the event loop every {@link DRIFT_PAGE} items. */
async function eachPaged<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % DRIFT_PAGE === 0) await yieldToRequests();
    fn(items[i]!);
  }
}

async function checkPool(ctx: AppContext, pool: string, driver: StorageDriver, report: DriftReport): Promise<void> {
  const db = ctx.store.db;
  const volumes = await readPaged((after, limit) =>
    db.selectFrom('volumes').select(['id', 'backend_id', 'status', 'service', 'failure_code', 'failed_op']).where('pool', '=', pool).where('id', '>', after).orderBy('id').limit(limit).execute(),
  );
  const snapshots = await readPaged((after, limit) =>
    db
      .selectFrom('snapshots')
      .select(['id', 'backend_id', 'status', 'service', 'volume_id', 'failure_code', 'failed_op'])
      .where('pool', '=', pool)
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit)
      .execute(),
  );
  let objects;
  try {
    objects = await driver.list();
  } catch (err) {
    ctx.log.warn({ err, pool }, 'drift check skipped: the pool backend could not be listed');
    return;
  }
  // A pool that lists nothing at all while several of its volumes are recorded as there is far more
  // likely unmounted (an empty mount point) than emptied by hand: do not turn every volume to error.
  let recordedAvailable = 0;
  await eachPaged(volumes, (v) => {
    if (v.status === 'available') recordedAvailable++;
  });
  if (objects.length === 0 && recordedAvailable >= 2) {
    ctx.log.warn({ pool, recordedAvailable }, 'drift check skipped: the pool lists no objects at all (is its filesystem mounted?)');
    return;
  }
  const present = new Set<string>();
  await eachPaged(objects, (o) => void present.add(`${o.kind}:${o.backendId}`));
  const known = new Set<string>();
  await eachPaged(volumes, (v) => void known.add(v.backend_id || v.id));
  await eachPaged(snapshots, (s) => void known.add(s.backend_id || s.id));
  let unmanaged = 0;
  await eachPaged(objects, (o) => {
    if (!known.has(o.backendId)) unmanaged++;
  });
  report.unmanaged += unmanaged;

  let compared = 0;
  for (const v of volumes) {
    if (++compared % DRIFT_PAGE === 0) await yieldToRequests();
    const backendId = v.backend_id || v.id;
    if (drifted(v) && present.has(`volume:${backendId}`)) {
      const at = nowIso();
      const back = await ctx.store
        .transaction(async (trx) => {
          await updateVolume(trx, v.id, 'error', { status: 'available', statusReason: null }, at);
          await clearDriftMark(trx, 'volumes', v.id);
          await ctx.events.record(trx, { type: 'volume.restored', service: v.service, objectId: v.id, data: { pool, backendId } }, at);
          return true;
        })
        .catch(changedMeanwhile); // deleted meanwhile: leave it
      if (back) {
        report.volumesRestored++;
        ctx.log.info({ pool, volumeId: v.id, backendId }, 'volume backend object is back; volume available again');
      }
      continue;
    }
    if (v.status !== 'available' || present.has(`volume:${backendId}`)) continue;
    const reason = `backend object ${backendId} is missing from pool ${pool} (found by the reconciler); delete the volume or restore the object`;
    const at = nowIso();
    const moved = await ctx.store
      .transaction(async (trx) => {
        await updateVolume(trx, v.id, 'available', { status: 'error', statusReason: reason, recovery: null }, at);
        await markDrift(trx, 'volumes', v.id);
        await ctx.events.record(trx, { type: 'volume.drift', service: v.service, objectId: v.id, data: { pool, backendId, reason } }, at);
        return true;
      })
      .catch(changedMeanwhile); // deleting or attaching meanwhile: not drift, leave it
    if (moved) {
      report.volumesDrifted++;
      ctx.log.warn({ pool, volumeId: v.id, backendId }, 'volume backend object vanished; volume set to error');
    }
  }
  for (const s of snapshots) {
    if (++compared % DRIFT_PAGE === 0) await yieldToRequests();
    const backendId = s.backend_id || s.id;
    if (drifted(s) && present.has(`snapshot:${backendId}`)) {
      const at = nowIso();
      const back = await ctx.store
        .transaction(async (trx) => {
          await updateSnapshot(trx, s.id, 'error', { status: 'ready', statusReason: null });
          await clearDriftMark(trx, 'snapshots', s.id);
          await ctx.events.record(trx, { type: 'snapshot.restored', service: s.service, objectId: s.id, data: { pool, backendId, volumeId: s.volume_id } }, at);
          return true;
        })
        .catch(changedMeanwhile);
      if (back) {
        report.snapshotsRestored++;
        ctx.log.info({ pool, snapshotId: s.id, backendId }, 'snapshot backend object is back; snapshot ready again');
      }
      continue;
    }
    if (s.status !== 'ready' || present.has(`snapshot:${backendId}`)) continue;
    const reason = `backend snapshot ${backendId} is missing from pool ${pool} (found by the reconciler); delete the snapshot`;
    const at = nowIso();
    const moved = await ctx.store
      .transaction(async (trx) => {
        await updateSnapshot(trx, s.id, 'ready', { status: 'error', statusReason: reason, recovery: null });
        await markDrift(trx, 'snapshots', s.id);
        await ctx.events.record(trx, { type: 'snapshot.drift', service: s.service, objectId: s.id, data: { pool, backendId, volumeId: s.volume_id, reason } }, at);
        return true;
      })
      .catch(changedMeanwhile);
    if (moved) {
      report.snapshotsDrifted++;
      ctx.log.warn({ pool, snapshotId: s.id, backendId }, 'snapshot backend object vanished; snapshot set to error');
    }
  }
}

/** In `error` because this check found its object missing (not a failed create or delete). */
function drifted(row: { status: string; failure_code: string | null; failed_op: string | null }): boolean {
  return row.status === 'error' && row.failure_code === DRIFT_CODE && row.failed_op === null;
}

async function markDrift(trx: Executor, table: 'volumes' | 'snapshots', id: string): Promise<void> {
  await trx.updateTable(table).set({ failure_code: DRIFT_CODE, failure_message: null }).where('id', '=', id).execute();
}

async function clearDriftMark(trx: Executor, table: 'volumes' | 'snapshots', id: string): Promise<void> {
  await trx.updateTable(table).set({ failure_code: null, failure_message: null }).where('id', '=', id).where('failure_code', '=', DRIFT_CODE).execute();
}

function changedMeanwhile(err: unknown): false {
  if (err instanceof PollyError && err.code === 'INVALID_STATE') return false;
  throw err;
}
