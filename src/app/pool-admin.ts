import { poolParameters } from '../config/config.js';
import { PollyError } from '../core/errors.js';
import { assertValidLabels, assertValidName } from '../core/names.js';
import type { Identity, Labels, Pool, PoolState, Topology } from '../core/types.js';
import { findPool, upsertPool } from '../store/repos/pools.js';
import { nowIso } from '../store/store.js';
import type { AppContext } from './context.js';
import type { PoolUseCases, PoolView } from './pools.js';
import { requireAdmin } from './scope.js';

export interface PoolSpec {
  name: string;
  driver: string;
  path?: string | undefined;
  parameters?: Record<string, string> | undefined;
  labels?: Labels | undefined;
  topology?: Topology | undefined;
  state?: PoolState | undefined;
  overSubscriptionRatio?: number | undefined;
  reservedPercent?: number | undefined;
}

export type PoolPatch = Partial<Pick<PoolSpec, 'labels' | 'topology' | 'state' | 'overSubscriptionRatio' | 'reservedPercent'>>;

function checkNumbers(p: PoolPatch): void {
  if (p.overSubscriptionRatio !== undefined && !(p.overSubscriptionRatio >= 1 && p.overSubscriptionRatio <= 100)) {
    throw new PollyError('VALIDATION_FAILED', 'overSubscriptionRatio must be from 1 to 100');
  }
  if (p.reservedPercent !== undefined && !(p.reservedPercent >= 0 && p.reservedPercent < 100)) {
    throw new PollyError('VALIDATION_FAILED', 'reservedPercent must be from 0 to 99');
  }
  if (p.labels !== undefined) assertValidLabels('labels', p.labels);
}

/**
 * Pools added, changed and removed at run time by the admin. A new pool's backend is checked (the
 * driver's `init`) before the pool exists; a pool is removed only when nothing lives on it.
 */
export class PoolAdminUseCases {
  readonly #ctx: AppContext;
  readonly #pools: PoolUseCases;

  constructor(ctx: AppContext, pools: PoolUseCases) {
    this.#ctx = ctx;
    this.#pools = pools;
  }

  async create(identity: Identity, spec: PoolSpec): Promise<PoolView> {
    requireAdmin(identity, 'creating pools');
    assertValidName('pool', spec.name);
    checkNumbers(spec);
    if (await findPool(this.#ctx.store.db, spec.name)) throw new PollyError('POOL_EXISTS', `pool ${spec.name} already exists`);
    const parameters = poolParameters(spec);
    const driver = this.#ctx.makeDriver({ name: spec.name, driver: spec.driver, parameters });
    try {
      await driver.init();
    } catch (err) {
      await driver.close().catch(() => undefined);
      const reason = (err as Error).message;
      throw new PollyError('VALIDATION_FAILED', reason.includes(spec.name) ? reason : `pool ${spec.name}: ${reason}`);
    }
    const pool: Pool = {
      name: spec.name,
      driver: spec.driver,
      parameters,
      labels: spec.labels ?? {},
      topology: spec.topology ?? {},
      state: spec.state ?? 'enabled',
      overSubscriptionRatio: spec.overSubscriptionRatio ?? 1,
      reservedPercent: spec.reservedPercent ?? 0,
      createdAt: nowIso(),
    };
    await this.#ctx.store.transaction(async (trx) => {
      await upsertPool(trx, pool);
      await this.#ctx.events.record(trx, { type: 'pool.created', service: null, objectId: pool.name, data: { driver: pool.driver } }, pool.createdAt);
    });
    this.#ctx.drivers.set(pool.name, driver);
    this.#ctx.events.notify();
    return this.#pools.get(identity, pool.name);
  }

  async update(identity: Identity, name: string, patch: PoolPatch): Promise<PoolView> {
    requireAdmin(identity, 'changing pools');
    checkNumbers(patch);
    await this.#ctx.store.transaction(async (trx) => {
      const current = await findPool(trx, name);
      if (!current) throw new PollyError('POOL_NOT_FOUND', `pool ${name} not found`);
      const { allocatedBytes: _a, volumeCount: _c, ...pool } = current;
      await upsertPool(trx, {
        ...pool,
        ...(patch.labels !== undefined ? { labels: patch.labels } : {}),
        ...(patch.topology !== undefined ? { topology: patch.topology } : {}),
        ...(patch.state !== undefined ? { state: patch.state } : {}),
        ...(patch.overSubscriptionRatio !== undefined ? { overSubscriptionRatio: patch.overSubscriptionRatio } : {}),
        ...(patch.reservedPercent !== undefined ? { reservedPercent: patch.reservedPercent } : {}),
      });
      // A pool that stops taking volumes stops being offered.
      if (patch.state !== undefined && patch.state !== 'enabled') {
        await trx.updateTable('offers').set({ status: 'revoked' }).where('pool', '=', name).where('status', '=', 'open').execute();
      }
      await this.#ctx.events.record(trx, { type: 'pool.updated', service: null, objectId: name, data: { ...patch } }, nowIso());
    });
    this.#ctx.events.notify();
    return this.#pools.get(identity, name);
  }

  /** Removes a pool that holds no volumes, snapshots or reservations. The backend's data is not touched. */
  async remove(identity: Identity, name: string): Promise<void> {
    requireAdmin(identity, 'deleting pools');
    await this.#ctx.store.transaction(async (trx) => {
      const current = await findPool(trx, name);
      if (!current) throw new PollyError('POOL_NOT_FOUND', `pool ${name} not found`);
      const snap = await trx.selectFrom('snapshots').select('id').where('pool', '=', name).limit(1).executeTakeFirst();
      const res = await trx.selectFrom('reservations').select('id').where('pool', '=', name).where('status', '=', 'active').limit(1).executeTakeFirst();
      if (current.volumeCount > 0 || snap || res) {
        throw new PollyError('POOL_IN_USE', `pool ${name} still holds ${current.volumeCount} volume(s)${snap ? ', snapshots' : ''}${res ? ', reservations' : ''}; drain it first`);
      }
      await trx.deleteFrom('offers').where('pool', '=', name).execute();
      await trx.deleteFrom('reservations').where('pool', '=', name).execute();
      await trx.deleteFrom('pools').where('name', '=', name).execute();
      await this.#ctx.events.record(trx, { type: 'pool.deleted', service: null, objectId: name, data: {} }, nowIso());
    });
    const driver = this.#ctx.drivers.get(name);
    this.#ctx.drivers.delete(name);
    this.#pools.invalidate(name);
    await driver?.close().catch(() => undefined);
    this.#ctx.events.notify();
  }
}
