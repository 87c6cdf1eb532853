import { PollyError } from '../core/errors.js';
import type { AccessMode } from '../core/ports/driver.js';
import type { Labels, Profile } from '../core/types.js';
import { createScheduler, NO_VOLUMES, schedulableBytes, toCandidate, type Explanation, type PlacementNode, type PlacementRequest, type PoolCandidate } from '../scheduler/index.js';
import { listPools } from '../store/repos/pools.js';
import type { PoolRow } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import type { PoolUseCases } from './pools.js';

export interface PlacementNeeds {
  service: string;
  sizeBytes: number;
  profile: Profile;
  accessMode?: AccessMode | undefined;
  /** A pool fixed by the request (explicit `pool`, a snapshot's pool, a clone's source, a reservation). */
  pinnedPool?: string | undefined;
  needs?: { snapshots?: boolean; clones?: boolean; restore?: boolean } | undefined;
  topology?: { requisite?: string[] | undefined; preferred?: string[] | undefined } | undefined;
  /** The node the volume is made for: only pools it reaches. */
  node?: PlacementNode | undefined;
  affinity?: Labels | undefined;
  antiAffinity?: Labels | undefined;
}

/**
 * The provisioned-capacity limit of a pool: what may be allocated in all, given over-subscription and the
 * reserved share. Checked again inside the create transaction (against the pool row's allocated bytes) so
 * that racing creates cannot both take the last bytes, whatever the scheduler saw a moment earlier.
 */
export function provisionLimit(pool: Pick<PoolRow, 'over_subscription_ratio' | 'reserved_percent'>, totalBytes: number): number {
  return Math.floor(totalBytes * Number(pool.over_subscription_ratio) * (1 - Number(pool.reserved_percent) / 100));
}

/**
 * Builds the scheduler's view of the pools (store counters, the drivers' real capacity and capabilities,
 * the service's own volumes where placement rules need them) and asks it. The scheduler itself is pure.
 */
export class Placement {
  readonly #pools: PoolUseCases;
  readonly #scheduler: ReturnType<typeof createScheduler>;

  readonly #db: Executor;

  constructor(db: Executor, pools: PoolUseCases, config?: Parameters<typeof createScheduler>[0]) {
    this.#db = db;
    this.#pools = pools;
    this.#scheduler = createScheduler(config);
  }

  async candidates(ex: Executor, needs: PlacementNeeds): Promise<PoolCandidate[]> {
    const records = await listPools(ex);
    // The service's volume labels per pool: needed by affinity, anti-affinity and zone spread. One
    // indexed query over the service's own volumes; skipped when no pool has a zone and no rule asks.
    const zoned = records.some((p) => p.topology.zone !== undefined);
    const byPool = new Map<string, Labels[]>();
    if (zoned || needs.affinity || needs.antiAffinity) {
      const rows = await ex.selectFrom('volumes').select(['pool', 'labels']).where('service', '=', needs.service).execute();
      for (const r of rows) {
        const list = byPool.get(r.pool) ?? [];
        list.push(JSON.parse(r.labels) as Labels);
        byPool.set(r.pool, list);
      }
    }
    const out: PoolCandidate[] = [];
    for (const rec of records) {
      const driver = this.#pools.tryDriverFor(rec.name) ?? (await this.#pools.driver(rec.name).catch(() => undefined));
      if (!driver) continue; // a pool whose backend is unusable on this replica is not a candidate
      const backend = await this.#pools.backendCapacity(rec.name);
      const { allocatedBytes, volumeCount, ...pool } = rec;
      // Free space as the scheduler sees it: what the backend reports, but never more than what is not
      // yet promised to volumes. The backend's figure lags behind creates in flight (and directories do
      // not fill when created), while the store's allocation is exact and is what the create transaction
      // checks; seeing the same number keeps racing creates from all picking one pool and losing there.
      const freeBytes = Math.max(0, Math.min(backend.freeBytes, backend.totalBytes - allocatedBytes));
      const unknown = backend.unknown === true;
      out.push(toCandidate(pool, driver.capabilities, { totalBytes: backend.totalBytes, freeBytes, allocatedBytes, volumeCount, unknown }, byPool.get(rec.name) ?? NO_VOLUMES));
    }
    return out;
  }

  request(needs: PlacementNeeds): PlacementRequest {
    const { profile } = needs;
    return {
      service: needs.service,
      sizeBytes: needs.sizeBytes,
      profile,
      accessMode: needs.accessMode ?? profile.accessModes[0] ?? 'RWO',
      volumeMode: profile.volumeMode,
      fsType: profile.volumeMode === 'filesystem' ? profile.fsType : null,
      needs: needs.needs ?? {},
      ...(needs.topology ? { topology: { requisite: needs.topology.requisite ?? [], preferred: needs.topology.preferred ?? [] } } : {}),
      ...(needs.node ? { node: needs.node } : {}),
      ...(needs.affinity ? { affinity: needs.affinity } : {}),
      ...(needs.antiAffinity ? { antiAffinity: needs.antiAffinity } : {}),
      ...(needs.pinnedPool !== undefined ? { pinnedPool: needs.pinnedPool } : {}),
    };
  }

  /** The pool for a new volume, or NO_CAPACITY / NO_MATCHING_POOL with the scheduler's one-line summary. */
  async choose(ex: Executor, needs: PlacementNeeds): Promise<string> {
    const result = this.#scheduler.place(await this.candidates(ex, needs), this.request(needs));
    if (result.pool !== null) return result.pool;
    throw new PollyError(result.failure, result.summary);
  }

  /** Explain for a service, read from the store as it is now. */
  explainFor(service: string, needs: Omit<PlacementNeeds, 'service'>): Promise<Explanation> {
    return this.explain(this.#db, { ...needs, service });
  }

  /** The real capacity of one pool's backend (cached briefly). */
  capacityOf(pool: string) {
    return this.#pools.backendCapacity(pool);
  }

  /** Every pool with the filter that rejected it or its weights and score. */
  async explain(ex: Executor, needs: PlacementNeeds): Promise<Explanation> {
    return this.#scheduler.explain(await this.candidates(ex, needs), this.request(needs));
  }

  /**
   * The pools a profile's volumes may go to for a service, each with the largest volume it can take now
   * (for offers): every filter but capacity must pass for the profile's smallest size.
   */
  async openings(ex: Executor, service: string, profile: Profile): Promise<Array<{ candidate: PoolCandidate; maxBytes: number }>> {
    const candidates = await this.candidates(ex, { service, sizeBytes: profile.minBytes, profile });
    const explanation = this.#scheduler.explain(candidates, this.request({ service, sizeBytes: profile.minBytes, profile }));
    const passed = new Set(explanation.pools.filter((p) => p.passed).map((p) => p.pool));
    return candidates
      .filter((c) => passed.has(c.pool.name))
      .map((candidate) => ({ candidate, maxBytes: Math.min(schedulableBytes(candidate), profile.maxBytes) }));
  }
}
