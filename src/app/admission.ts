import { sql } from 'kysely';
import { PollyError } from '../core/errors.js';
import { chargeUsage, getQuota, isUnlimited, SNAPSHOT_USAGE_KEY, type UsageDelta } from '../store/repos/usage.js';
import { chargePool } from '../store/repos/volumes.js';
import { isPostgres, type Store } from '../store/store.js';
import { precompile } from '../store/precompiled.js';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { provisionLimit } from './placement.js';
import type { QuotaDemand, QuotaUseCases } from './quotas.js';

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
  /**
   * `write` inserts a row that references the service by foreign key (a volume, a reservation): on
   * PostgreSQL that insert already takes the `FOR KEY SHARE` lock on the service row that the quota
   * read below relies on, so admission does not take it again.
   */
  writeReferencesService?: boolean | undefined;
}

/** Where a volume's usage is charged: a service, and the profile its bytes count against. */
export interface UsageOwner {
  service: string;
  profile: string;
}

/**
 * A volume's usage moving from one owner to another with no pool capacity change: a transfer to another
 * service (with its snapshots), or a profile change within one service. Only the receiving side's quota is
 * checked; what moves within one service counts only against the new profile's byte limit.
 */
export interface UsageMoveDemand {
  from: UsageOwner;
  to: UsageOwner;
  volumes: number;
  bytes: number;
  /** Snapshots moving with the volume (a transfer); counted under the service, not a profile. */
  snapshots: number;
}

/** provisionLimit() in SQL: the pool row's allocation plus `bytes` fits the provisionable limit of `total`. */
function fitsSql(bytes: number, total: number) {
  return sql<boolean>`allocated_bytes + ${bytes} <= cast(${total} as double precision) * over_subscription_ratio * (1 - reserved_percent / 100.0)`;
}

/** The pool's charge on SQLite (where the transaction holds the only write lock) with the capacity check; without it, chargePool. */
const CHARGE_POOL_IF_IT_FITS = precompile((ex, p: { pool: string; bytes: number; volumes: number; total: number }) =>
  ex
    .updateTable('pools')
    .set({ allocated_bytes: sql`allocated_bytes + ${p.bytes}`, volume_count: sql`volume_count + ${p.volumes}` })
    .where('name', '=', p.pool)
    .where(fitsSql(p.bytes, p.total)),
);

/**
 * The one admission step: quota and capacity are checked and charged here and nowhere else.
 *
 * Runs inside the caller's transaction. `write` (the caller's own rows: a volume insert, a
 * compare-and-set of its size, its event) runs first; the shared hot rows come last, so that they are
 * locked for as short a time as possible: from one statement until the commit.
 *
 * Quota, on PostgreSQL: the service row is held `FOR KEY SHARE` from before the quota is read (by the
 * write's foreign key, or explicitly), and setting a quota locks that row `FOR UPDATE` (see
 * QuotaUseCases.set), which waits for every admission in flight and is waited for by every new one. So an
 * admission that reads "no quota" commits before any quota exists, and one that reads a quota then
 * locks the service row `FOR NO KEY UPDATE` (compatible with the key-share locks of other creates, but
 * exclusive among quota checks) and checks the committed usage. A service without a quota, the common
 * case, is never locked exclusively; there the quota read is folded into the charging statement (it
 * charges only when the service has no quota row), so a create without a quota costs no extra round trip. `FOR UPDATE` would also conflict with every create's foreign-key
 * lock; that is wanted for a quota change (rare) and not for a quota check.
 *
 * Capacity: one conditional update of the pool row (`allocated + bytes <= limit`, evaluated against the
 * row as it is when the update takes its lock), then the service's usage row; on PostgreSQL both in one
 * statement. Deletes take volume → pool → usage as well, so no two writers wait on each other in a cycle.
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
    if (!d.held && d.writeReferencesService !== true) await this.#store.keyShareService(trx, d.service);
    const result = await write();
    if (d.held) {
      if (!(await this.#charge(trx, d, { unlessQuota: false }))) await this.#refuse(trx, d);
      return result;
    }
    // PostgreSQL: the quota read folded into the charge; it charges only a service without a quota row.
    if (isPostgres(trx) && (await this.#charge(trx, d, { unlessQuota: true }))) return result;
    await this.#checkQuota(trx, d.service, { volumes: d.volumes, bytes: d.bytes, profile: d.profile });
    if (!(await this.#charge(trx, d, { unlessQuota: false }))) await this.#refuse(trx, d);
    return result;
  }

  /**
   * Moves usage from `d.from` to `d.to` (no pool changes): checks the receiving service's quota and
   * charges both sides, in the caller's transaction, after `write`.
   *
   * Locks, on PostgreSQL, in admit's order: the receiving service's row `FOR KEY SHARE` before its quota
   * is read (so a quota change waits for the move, or the move sees the new quota), then `write`, then —
   * only when that service has a quota — its row `FOR NO KEY UPDATE`, which queues the move behind every
   * create, expand and move checking that quota, so each sees the usage the others committed. The giving
   * side is not locked: what leaves it never passes a limit. The usage rows come last, in one fixed order
   * (by service, then profile), so two moves between the same services in opposite directions cannot wait
   * on each other in a cycle; creates and deletes lock one usage row each, after their pool row.
   *
   * The caller locks the volume row first (`Store.lockVolume`) and reads the volume under it, so the
   * size, owner and snapshots it moves are the ones a racing expand, delete or snapshot sees.
   *
   * Throws QUOTA_EXCEEDED; the caller's transaction then rolls back whatever `write` did.
   */
  async move<T>(trx: Transaction<Database>, d: UsageMoveDemand, write: () => Promise<T>): Promise<T> {
    await this.#store.keyShareService(trx, d.to.service);
    const result = await write();
    // Within one service the totals do not change: only the receiving profile's bytes grow.
    const demand =
      d.from.service === d.to.service
        ? { profile: d.to.profile, profileBytes: d.from.profile === d.to.profile ? 0 : d.bytes }
        : { volumes: d.volumes, bytes: d.bytes, snapshots: d.snapshots, profile: d.to.profile };
    await this.#checkQuota(trx, d.to.service, demand);
    const rows: { owner: UsageOwner; delta: UsageDelta }[] = [
      { owner: d.from, delta: { volumes: -d.volumes, bytes: -d.bytes } },
      { owner: d.to, delta: { volumes: d.volumes, bytes: d.bytes } },
    ];
    if (d.snapshots !== 0 && d.from.service !== d.to.service) {
      rows.push({ owner: { service: d.from.service, profile: SNAPSHOT_USAGE_KEY }, delta: { snapshots: -d.snapshots } });
      rows.push({ owner: { service: d.to.service, profile: SNAPSHOT_USAGE_KEY }, delta: { snapshots: d.snapshots } });
    }
    rows.sort((a, b) => compareOwners(a.owner, b.owner));
    for (const r of rows) await chargeUsage(trx, r.owner.service, r.owner.profile, r.delta);
    return result;
  }

  /**
   * Snapshots of `d.volumeIds` counted against the service's snapshot quota (one snapshot, or a group's),
   * no bytes and no pool: `write` inserts them, and inserting a snapshot charges its usage row
   * (insertSnapshot).
   *
   * Locks, on PostgreSQL, volume rows before the service row, as transfers and expands take them: the
   * volumes' rows `FOR KEY SHARE` (a transfer of one of them has committed, and the snapshot is refused
   * with INVALID_STATE because the volume is no longer the service's, or it waits for this transaction
   * and moves the snapshot with the volume); then the service row `FOR NO KEY UPDATE` before the quota is
   * read, quota or not (snapshots are rare next to creates), so racing snapshot creates queue up, each sees
   * what the others committed, and a quota change (`FOR UPDATE`) waits for them; then `write` (the
   * snapshot rows, then the usage row).
   */
  async admitSnapshots<T>(trx: Transaction<Database>, d: { service: string; volumeIds: readonly string[] }, write: () => Promise<T>): Promise<T> {
    const owners = await this.#store.keyShareVolumes(trx, d.volumeIds);
    for (const id of d.volumeIds) {
      const owner = owners.get(id);
      if (owner === undefined) throw new PollyError('VOLUME_NOT_FOUND', `volume ${id} not found`);
      if (owner !== d.service) {
        throw new PollyError('INVALID_STATE', `volume ${id} moved to service ${owner} while it was being snapshotted; read it again and retry`, { volumeId: id });
      }
    }
    await this.#store.lockService(trx, d.service);
    await this.#quotas.check(trx, d.service, { snapshots: d.volumeIds.length });
    return write();
  }

  /**
   * Checks `demand` against the service's quota when it has one, after locking its row `FOR NO KEY
   * UPDATE` (see the class comment); a service without a quota is not locked.
   */
  async #checkQuota(trx: Transaction<Database>, service: string, demand: QuotaDemand): Promise<void> {
    const quota = await getQuota(trx, service);
    if (isUnlimited(quota)) return;
    await this.#store.lockService(trx, service);
    await this.#quotas.check(trx, service, demand, quota);
  }

  /** Charges the pool (if the bytes fit) and then the usage; false when nothing was charged. */
  async #charge(trx: Transaction<Database>, d: AdmissionDemand, opts: { unlessQuota: boolean }): Promise<boolean> {
    const total = d.held ? null : d.capacityTotalBytes;
    // provisionLimit() in SQL, against the row as it is when the update takes its lock.
    const fits = total === null ? sql<boolean>`true` : fitsSql(d.bytes, total);
    const usage = d.as === 'volume' ? { volumes: d.volumes, bytes: d.bytes, reserved: 0 } : { volumes: 0, bytes: 0, reserved: d.bytes };
    if (isPostgres(trx)) {
      // One round trip for both hot rows: the usage row is charged only when the pool row was.
      const noQuota = opts.unlessQuota ? sql`and not exists (select 1 from service_quotas where service = ${d.service})` : sql``;
      const res = await sql<{ ok: number }>`
        with p as (
          update pools set allocated_bytes = allocated_bytes + ${d.bytes}, volume_count = volume_count + ${d.volumes}
          where name = ${d.pool} and ${fits} ${noQuota} returning name)
        insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes)
        select ${d.service}, ${d.profile}, ${usage.volumes}, ${usage.bytes}, 0, ${usage.reserved} from p
        on conflict (service, profile) do update set
          volumes = service_usage.volumes + excluded.volumes,
          bytes = service_usage.bytes + excluded.bytes,
          reserved_bytes = service_usage.reserved_bytes + excluded.reserved_bytes
        returning 1 as ok`.execute(trx);
      return res.rows.length === 1;
    }
    const charged =
      total === null
        ? await chargePool(trx, d.pool, d.bytes, d.volumes)
        : await CHARGE_POOL_IF_IT_FITS.affected(trx, { pool: d.pool, bytes: d.bytes, volumes: d.volumes, total });
    if (charged !== 1) return false;
    await chargeUsage(trx, d.service, d.profile, d.as === 'volume' ? { volumes: d.volumes, bytes: d.bytes } : { reservedBytes: d.bytes });
    return true;
  }

  /** NO_CAPACITY (or POOL_NOT_FOUND), saying what the pool holds. */
  async #refuse(trx: Transaction<Database>, d: AdmissionDemand): Promise<never> {
    const total = d.held ? null : d.capacityTotalBytes;
    const pool = await trx.selectFrom('pools').selectAll().where('name', '=', d.pool).executeTakeFirst();
    if (!pool) throw new PollyError('POOL_NOT_FOUND', `pool ${d.pool} not found`);
    const limit = provisionLimit(pool, total ?? 0);
    throw new PollyError('NO_CAPACITY', `pool ${d.pool}: ${d.bytes} bytes do not fit (allocated ${pool.allocated_bytes} of ${limit} provisionable)`, {
      pool: d.pool,
      lostRace: d.mayReplace === true,
    });
  }
}

/** The one order in which a transaction locks several usage rows: by service, then profile. */
function compareOwners(a: UsageOwner, b: UsageOwner): number {
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (a.profile !== b.profile) return a.profile < b.profile ? -1 : 1;
  return 0;
}
