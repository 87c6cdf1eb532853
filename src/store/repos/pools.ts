import type { Labels, Pool, PoolState, Profile, Topology } from '../../core/types.js';
import type { PoolRow } from '../schema.js';
import type { Executor } from '../store.js';
import { precompile } from '../precompiled.js';

export interface PoolRecord extends Pool {
  allocatedBytes: number;
  volumeCount: number;
}

export function rowToPool(row: PoolRow): PoolRecord {
  return {
    name: row.name,
    driver: row.driver,
    parameters: JSON.parse(row.parameters) as Record<string, string>,
    labels: JSON.parse(row.labels) as Labels,
    topology: JSON.parse(row.topology) as Topology,
    state: row.state as PoolState,
    overSubscriptionRatio: Number(row.over_subscription_ratio),
    reservedPercent: Number(row.reserved_percent),
    allocatedBytes: Number(row.allocated_bytes),
    volumeCount: Number(row.volume_count),
    createdAt: row.created_at,
  };
}

/** Inserts or updates a pool's definition; never touches its counters. */
export async function upsertPool(ex: Executor, p: Pool): Promise<void> {
  const def = {
    driver: p.driver,
    parameters: JSON.stringify(p.parameters),
    labels: JSON.stringify(p.labels),
    topology: JSON.stringify(p.topology),
    state: p.state,
    over_subscription_ratio: p.overSubscriptionRatio,
    reserved_percent: p.reservedPercent,
  };
  await ex
    .insertInto('pools')
    .values({ name: p.name, ...def, allocated_bytes: 0, volume_count: 0, created_at: p.createdAt })
    .onConflict((oc) => oc.column('name').doUpdateSet(def))
    .execute();
}

const FIND_POOL = precompile((ex, p: { name: string }) => ex.selectFrom('pools').selectAll().where('name', '=', p.name));

export async function findPool(ex: Executor, name: string): Promise<PoolRecord | undefined> {
  const row = await FIND_POOL.first(ex, { name });
  return row ? rowToPool(row) : undefined;
}

const LIST_POOLS = precompile((ex) => ex.selectFrom('pools').selectAll().orderBy('name'));

export async function listPools(ex: Executor): Promise<PoolRecord[]> {
  const rows = await LIST_POOLS.rows(ex, {});
  return rows.map(rowToPool);
}

type ProfileSpec = Omit<Profile, 'name' | 'createdAt'>;

/** Fields added after profiles were first stored: rows written before them read as these. */
const PROFILE_DEFAULTS: Pick<Profile, 'failover' | 'forceAfterSeconds'> = { failover: 'safe', forceAfterSeconds: 60 };

export async function upsertProfile(ex: Executor, p: Profile): Promise<void> {
  const { name, createdAt, ...spec } = p;
  await ex
    .insertInto('profiles')
    .values({ name, spec: JSON.stringify(spec), created_at: createdAt })
    .onConflict((oc) => oc.column('name').doUpdateSet({ spec: JSON.stringify(spec) }))
    .execute();
}

export async function findProfile(ex: Executor, name: string): Promise<Profile | undefined> {
  const row = await ex.selectFrom('profiles').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? { name: row.name, createdAt: row.created_at, ...PROFILE_DEFAULTS, ...(JSON.parse(row.spec) as ProfileSpec) } : undefined;
}

export async function listProfiles(ex: Executor): Promise<Profile[]> {
  const rows = await ex.selectFrom('profiles').selectAll().orderBy('name').execute();
  return rows.map((row) => ({ name: row.name, createdAt: row.created_at, ...PROFILE_DEFAULTS, ...(JSON.parse(row.spec) as ProfileSpec) }));
}
