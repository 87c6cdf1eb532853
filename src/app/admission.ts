import { sql } from 'kysely';
import { PollyError } from '../core/errors.js';
import { chargeUsage } from '../store/repos/usage.js';
import type { Store } from '../store/store.js';
import type { Executor } from '../store/store.js';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { provisionLimit } from './placement.js';
import type { QuotaUseCases } from './quotas.js';

/** What one admission asks for: a new volume, a volume's growth, or an offer's reservation. */
export interface AdmissionDemand {
  service: string;
  pool: string;
  /** The profile the bytes are charged to (per-profile quota). */
  profile: string;
  /** Volumes added (1 for a create or import, 0 for an expand or reservation). */
  volumes: number;
  /** Bytes added to the pool's allocation and the service's usage. */
  bytes: number;
  /** `volume`: bytes count as the service's volume bytes; `reservation`: as reserved bytes. */
  as: 'volume' | 'reservation';
  /**
   * The backend's total bytes for the capacity check, or `null` to charge without checking capacity
   * (an import: the data already sits on the pool).
   */
  capacityTotalBytes: number | null;
  /**
   * The charge is already held (a reservation being consumed released its hold in this transaction):
   * quota and capacity are not checked again, only charged.
   */
  held?: boolean | undefined;
  /** Set on NO_CAPACITY's details: the caller placed the volume itself and may place again. */
  mayReplace?: boolean | undefined;
}

/**
 * The one admission step: quota and capacity are checked and charged here and nowhere else.
 *
 * Runs inside the caller's transaction, in a fixed lock order shared by every writer: the service row
 * (quota), then `write` (the caller's own row: a volume insert or a compare-and-set of its size), then
 * the pool row (one conditional update), then the service's usage row. Deletes take volume → pool →
 * usage, which is the same order, so no two writers wait on each other in a cycle.
 *
 * On PostgreSQL the service row is locked `FOR NO KEY UPDATE`: `FOR UPDATE` would also block the
 * `FOR KEY SHARE` lock every volume insert takes on its service (the foreign key), and deadlocks racing
 * creates. The pool row is locked last and only by its update, so it is held for the shortest time.
 * On SQLite the transaction already holds the only write lock.
 *
 * Throws QUOTA_EXCEEDED or NO_CAPACITY; the caller's transaction then rolls back whatever `write` did.
 */
export class Admission {
  readonly #store: Store;
  readonly #quotas: QuotaUseCases;

  constructor(store: Store, quotas: QuotaUseCases) {
    this.#store = store;
    this.#quotas = quotas;
  }

  async admit<T>(trx: Transaction<Database>, d: AdmissionDemand, write: () => Promise<T>): Promise<T> {
    await this.#store.lockService(trx, d.service);
    if (!d.held) await this.#quotas.check(trx, d.service, { volumes: d.volumes, bytes: d.bytes, profile: d.profile });
    const result = await write();
    await this.#chargePool(trx, d);
    await chargeUsage(trx, d.service, d.profile, d.as === 'volume' ? { volumes: d.volumes, bytes: d.bytes } : { reservedBytes: d.bytes });
    return result;
  }

  async #chargePool(ex: Executor, d: AdmissionDemand): Promise<void> {
    let q = ex
      .updateTable('pools')
      .set({ allocated_bytes: sql`allocated_bytes + ${d.bytes}`, volume_count: sql`volume_count + ${d.volumes}` })
      .where('name', '=', d.pool);
    const total = d.held ? null : d.capacityTotalBytes;
    if (total !== null) {
      // provisionLimit() in SQL, against the row as it is when the update takes its lock.
      q = q.where(sql<boolean>`allocated_bytes + ${d.bytes} <= cast(${total} as double precision) * over_subscription_ratio * (1 - reserved_percent / 100.0)`);
    }
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) return;
    const pool = await ex.selectFrom('pools').selectAll().where('name', '=', d.pool).executeTakeFirst();
    if (!pool) throw new PollyError('POOL_NOT_FOUND', `pool ${d.pool} not found`);
    const limit = provisionLimit(pool, total ?? 0);
    throw new PollyError('NO_CAPACITY', `pool ${d.pool}: ${d.bytes} bytes do not fit (allocated ${pool.allocated_bytes} of ${limit} provisionable)`, {
      pool: d.pool,
      lostRace: d.mayReplace === true,
    });
  }
}
