import { PollyError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import { findService } from '../store/repos/services.js';
import { getQuota, getUsage, isUnlimited, putQuota, type Quota, type ServiceUsage } from '../store/repos/usage.js';
import { nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import { requireAdmin } from './scope.js';

export interface QuotaView extends Quota {
  service: string;
  usage: ServiceUsage;
}

export interface QuotaDemand {
  volumes?: number;
  bytes?: number;
  snapshots?: number;
  /** The profile the bytes are charged to, for per-profile limits. */
  profile?: string;
  /**
   * Bytes added to `profile` when they are not `bytes`: a profile change moves bytes between two profiles
   * of one service, so the service's total does not grow and only the new profile's does.
   */
  profileBytes?: number;
}

/** Per-service limits: volumes, bytes, snapshots and bytes per profile. Reservations count as usage. */
export class QuotaUseCases {
  readonly #ctx: AppContext;

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  async get(identity: Identity, service: string): Promise<QuotaView> {
    const db = this.#ctx.store.db;
    if ((identity.kind === 'service' && identity.service !== service) || !(await findService(db, service))) {
      throw new PollyError('SERVICE_NOT_FOUND', `service ${service} not found`);
    }
    return { service, ...(await getQuota(db, service)), usage: await getUsage(db, service) };
  }

  /** Replaces a service's quota (null = unlimited). Lowering a limit below usage is allowed: it only stops new growth. */
  async set(identity: Identity, service: string, quota: Quota): Promise<QuotaView> {
    requireAdmin(identity, 'setting quotas');
    for (const [k, v] of Object.entries({ maxVolumes: quota.maxVolumes, maxBytes: quota.maxBytes, maxSnapshots: quota.maxSnapshots, ...quota.profileBytes })) {
      if (v !== null && (!Number.isSafeInteger(v) || v < 0)) throw new PollyError('VALIDATION_FAILED', `quota ${k} must be a whole number ≥ 0 or null`);
    }
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await findService(trx, service))) throw new PollyError('SERVICE_NOT_FOUND', `service ${service} not found`);
      // Waits for every admission in flight and holds off new ones until this commits (see Admission).
      await this.#ctx.store.lockServiceForQuotaChange(trx, service);
      await putQuota(trx, service, quota);
      await this.#ctx.events.record(trx, { type: 'quota.updated', service, objectId: service, data: { ...quota } }, nowIso());
    });
    this.#ctx.events.notify();
    return this.get(identity, service);
  }

  /**
   * Throws QUOTA_EXCEEDED naming the first limit that `demand` would pass. Only the admission step
   * (Admission) calls it, inside the transaction that charges the usage and after locking the service row
   * on PostgreSQL, so racing admissions see each other.
   * `known`: the quota, when the caller has just read it in this transaction.
   */
  async check(ex: Executor, service: string, demand: QuotaDemand, known?: Quota): Promise<void> {
    const quota = known ?? (await getQuota(ex, service));
    if (isUnlimited(quota)) return;
    const usage = await getUsage(ex, service);
    const over = (what: string, used: number, add: number, limit: number | null | undefined) => {
      if (limit === null || limit === undefined || add <= 0 || used + add <= limit) return;
      throw new PollyError('QUOTA_EXCEEDED', `quota exceeded for service ${service}: ${what} would be ${used + add}, limit ${limit} (in use ${used})`, {
        limit: what,
        used,
        requested: add,
        max: limit,
      });
    };
    over('volumes', usage.volumes, demand.volumes ?? 0, quota.maxVolumes);
    over('bytes', usage.bytes + usage.reservedBytes, demand.bytes ?? 0, quota.maxBytes);
    over('snapshots', usage.snapshots, demand.snapshots ?? 0, quota.maxSnapshots);
    if (demand.profile !== undefined) {
      over(`bytes of profile ${demand.profile}`, usage.profileBytes[demand.profile] ?? 0, demand.profileBytes ?? demand.bytes ?? 0, quota.profileBytes[demand.profile]);
    }
  }

  /** Headroom in bytes for a profile (null = unlimited), for offers. */
  async headroom(ex: Executor, service: string, profile: string): Promise<{ bytes: number | null; volumes: number | null }> {
    const [quota, usage] = await Promise.all([getQuota(ex, service), getUsage(ex, service)]);
    const limits: number[] = [];
    if (quota.maxBytes !== null) limits.push(quota.maxBytes - usage.bytes - usage.reservedBytes);
    const perProfile = quota.profileBytes[profile];
    if (perProfile !== undefined) limits.push(perProfile - (usage.profileBytes[profile] ?? 0));
    return {
      bytes: limits.length ? Math.max(0, Math.min(...limits)) : null,
      volumes: quota.maxVolumes === null ? null : Math.max(0, quota.maxVolumes - usage.volumes),
    };
  }
}
