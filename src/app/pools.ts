import { PollyError } from '../core/errors.js';
import type { BackendCapacity, DriverCapabilities, StorageDriver } from '../core/ports/driver.js';
import type { Identity, Pool, PoolCapacity, Profile } from '../core/types.js';
import { findPool, findProfile, listPools, type PoolRecord } from '../store/repos/pools.js';
import type { AppContext } from './context.js';

/** How long a backend capacity reading is reused: statfs is cheap, but not free at thousands of creates/s. */
const CAPACITY_TTL_MS = 1_000;

export interface PoolView extends Pool {
  capacity: PoolCapacity;
  capabilities: DriverCapabilities;
}

export class PoolUseCases {
  readonly #ctx: AppContext;
  readonly #capacity = new Map<string, { value: BackendCapacity; until: number }>();
  readonly #loading = new Map<string, Promise<StorageDriver>>();

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  /** The driver of a pool loaded on this server, if any. */
  tryDriverFor(pool: string): StorageDriver | undefined {
    return this.#ctx.drivers.get(pool);
  }

  /**
   * The driver of a pool. A pool another replica added since this one started is loaded on first use
   * (its backend checked by `init`), so every replica can serve every pool.
   */
  async driver(pool: string): Promise<StorageDriver> {
    const loaded = this.#ctx.drivers.get(pool);
    if (loaded) return loaded;
    const rec = await findPool(this.#ctx.store.db, pool);
    if (!rec) throw new PollyError('POOL_NOT_FOUND', `pool ${pool} not found`);
    let pending = this.#loading.get(pool);
    if (!pending) {
      pending = (async () => {
        const driver = this.#ctx.makeDriver(rec);
        await driver.init();
        this.#ctx.drivers.set(pool, driver);
        return driver;
      })().finally(() => this.#loading.delete(pool));
      this.#loading.set(pool, pending);
    }
    return pending;
  }

  /** The backend's real capacity, read at most once a second per pool. */
  async backendCapacity(pool: string): Promise<BackendCapacity> {
    const now = Date.now();
    const cached = this.#capacity.get(pool);
    if (cached && cached.until > now) return cached.value;
    const value = await (await this.driver(pool)).capacity();
    this.#capacity.set(pool, { value, until: now + CAPACITY_TTL_MS });
    return value;
  }

  /** Forgets the cached reading, after something changed the backend's usage noticeably. */
  invalidate(pool: string): void {
    this.#capacity.delete(pool);
  }

  async view(rec: PoolRecord): Promise<PoolView> {
    const { allocatedBytes, volumeCount, ...pool } = rec;
    const driver = this.#ctx.drivers.get(pool.name);
    const backend = driver ? await this.backendCapacity(pool.name) : { totalBytes: 0, freeBytes: 0 };
    return {
      ...pool,
      parameters: redacted(pool.parameters, driver),
      capacity: { totalBytes: backend.totalBytes, freeBytes: backend.freeBytes, allocatedBytes, volumeCount, ...(backend.unknown ? { unknown: true } : {}) },
      capabilities: driver?.capabilities ?? NO_CAPABILITIES,
    };
  }

  /** Pools are visible to every authenticated caller: tenants need them to read offers and placement. */
  async list(_identity: Identity): Promise<PoolView[]> {
    const records = await listPools(this.#ctx.store.db);
    return Promise.all(records.map((r) => this.view(r)));
  }

  async get(_identity: Identity, name: string): Promise<PoolView> {
    const rec = await findPool(this.#ctx.store.db, name);
    if (!rec) throw new PollyError('POOL_NOT_FOUND', `pool ${name} not found`);
    return this.view(rec);
  }

  /** A profile the caller may use; a profile restricted to other services is reported as not found. */
  async profileFor(identity: Identity, service: string, name: string): Promise<Profile> {
    const store = this.#ctx.store;
    const profile = await store.definitions.profile(name, () => findProfile(store.db, name));
    if (!profile || (profile.services.length > 0 && !profile.services.includes(service))) {
      throw new PollyError('PROFILE_NOT_FOUND', `profile ${name} not found${identity.kind === 'admin' ? ` for service ${service}` : ''}`);
    }
    return profile;
  }
}

/**
 * What APIs show of a pool's parameters: those its driver declares secret as `(secret)`; while the driver
 * is not loaded on this replica, every key that looks like a credential.
 */
function redacted(parameters: Record<string, string>, driver: StorageDriver | undefined): Record<string, string> {
  const secret = driver?.secretParameters;
  const isSecret = (k: string) => (driver ? secret !== undefined && Object.hasOwn(secret, k) : /key|secret|password|token/i.test(k));
  return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, isSecret(k) ? '(secret)' : v]));
}

const NO_CAPABILITIES: DriverCapabilities = {
  snapshots: false,
  clones: false,
  restore: false,
  expand: 'none',
  block: false,
  fsTypes: [],
  accessModes: [],
  qos: false,
  sizeEnforced: false,
};
