import { sql } from 'kysely';
import type { Executor } from '../store.js';
import { precompile } from '../precompiled.js';

export interface UsageDelta {
  volumes?: number;
  bytes?: number;
  snapshots?: number;
  reservedBytes?: number;
}

/** Snapshots are counted per service, not per profile: they are kept under this profile key. */
export const SNAPSHOT_USAGE_KEY = '';

const CHARGE_USAGE = precompile((ex, p: { service: string; profile: string; volumes: number; bytes: number; snapshots: number; reserved_bytes: number }) =>
  ex
    .insertInto('service_usage')
    .values({ service: p.service, profile: p.profile, volumes: p.volumes, bytes: p.bytes, snapshots: p.snapshots, reserved_bytes: p.reserved_bytes })
    .onConflict((oc) =>
      oc.columns(['service', 'profile']).doUpdateSet({
        volumes: sql`service_usage.volumes + ${p.volumes}`,
        bytes: sql`service_usage.bytes + ${p.bytes}`,
        snapshots: sql`service_usage.snapshots + ${p.snapshots}`,
        reserved_bytes: sql`service_usage.reserved_bytes + ${p.reserved_bytes}`,
      }),
    ),
);

/** Adds deltas to a service's usage counters for one profile (creating the row at zero first). */
export async function chargeUsage(ex: Executor, service: string, profile: string, d: UsageDelta): Promise<void> {
  await CHARGE_USAGE.execute(ex, {
    service,
    profile,
    volumes: d.volumes ?? 0,
    bytes: d.bytes ?? 0,
    snapshots: d.snapshots ?? 0,
    reserved_bytes: d.reservedBytes ?? 0,
  });
}

export interface ServiceUsage {
  volumes: number;
  bytes: number;
  snapshots: number;
  reservedBytes: number;
  /** Bytes per profile, volumes plus reservations. */
  profileBytes: Record<string, number>;
}

export async function getUsage(ex: Executor, service: string): Promise<ServiceUsage> {
  const rows = await ex.selectFrom('service_usage').selectAll().where('service', '=', service).execute();
  const usage: ServiceUsage = { volumes: 0, bytes: 0, snapshots: 0, reservedBytes: 0, profileBytes: {} };
  for (const r of rows) {
    usage.volumes += Number(r.volumes);
    usage.bytes += Number(r.bytes);
    usage.snapshots += Number(r.snapshots);
    usage.reservedBytes += Number(r.reserved_bytes);
    if (r.profile !== SNAPSHOT_USAGE_KEY) usage.profileBytes[r.profile] = Number(r.bytes) + Number(r.reserved_bytes);
  }
  return usage;
}

export interface Quota {
  maxVolumes: number | null;
  maxBytes: number | null;
  maxSnapshots: number | null;
  profileBytes: Record<string, number>;
}

export const UNLIMITED: Quota = { maxVolumes: null, maxBytes: null, maxSnapshots: null, profileBytes: {} };

/** True when the quota limits nothing. */
export function isUnlimited(q: Quota): boolean {
  return q.maxVolumes === null && q.maxBytes === null && q.maxSnapshots === null && Object.keys(q.profileBytes).length === 0;
}

const FIND_QUOTA = precompile((ex, p: { service: string }) => ex.selectFrom('service_quotas').selectAll().where('service', '=', p.service));

export async function getQuota(ex: Executor, service: string): Promise<Quota> {
  const row = await FIND_QUOTA.first(ex, { service });
  if (!row) return UNLIMITED;
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    maxVolumes: num(row.max_volumes),
    maxBytes: num(row.max_bytes),
    maxSnapshots: num(row.max_snapshots),
    profileBytes: JSON.parse(row.profile_bytes) as Record<string, number>,
  };
}

export async function putQuota(ex: Executor, service: string, q: Quota): Promise<void> {
  const values = {
    max_volumes: q.maxVolumes,
    max_bytes: q.maxBytes,
    max_snapshots: q.maxSnapshots,
    profile_bytes: JSON.stringify(q.profileBytes),
  };
  await ex
    .insertInto('service_quotas')
    .values({ service, ...values })
    .onConflict((oc) => oc.column('service').doUpdateSet(values))
    .execute();
}
