import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Identity } from '../core/types.js';
import {
  closeReservation,
  findOffer,
  findReservation,
  insertOffer,
  insertReservation,
  listExpiredReservations,
  listOpenOffers,
  listReservations,
  updateOffer,
  type Offer,
  type Reservation,
  type ReservationStatus,
} from '../store/repos/offers.js';
import { listProfiles } from '../store/repos/pools.js';
import { findService, listServices } from '../store/repos/services.js';
import { nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import type { Placement } from './placement.js';
import { findPool } from '../store/repos/pools.js';
import type { QuotaUseCases } from './quotas.js';
import type { Admission } from './admission.js';
import { listScope, requireAdmin } from './scope.js';

export interface OfferFilter {
  profile?: string | undefined;
  zone?: string | undefined;
  minBytes?: number | undefined;
  service?: string | undefined;
}

/**
 * Offers, as Mesos makes them: Polly advertises to each service what it could create now — one offer per
 * (pool, profile) the service may use, sized by the pool's free capacity, the service's quota headroom and
 * the profile's bounds, valid for a TTL. Accepting one turns part of it into a reservation that holds the
 * capacity and the quota until a volume consumes it or it lapses. Declined offers are not made again to
 * that service until the declined offer would have expired.
 */
export class OfferUseCases {
  readonly #ctx: AppContext;
  readonly #placement: Placement;
  readonly #quotas: QuotaUseCases;

  readonly #admission: Admission;

  constructor(ctx: AppContext, placement: Placement, quotas: QuotaUseCases, admission: Admission) {
    this.#admission = admission;
    this.#ctx = ctx;
    this.#placement = placement;
    this.#quotas = quotas;
  }

  #now(): string {
    return this.#ctx.clock.now().toISOString();
  }

  #later(seconds: number): string {
    return new Date(this.#ctx.clock.now().getTime() + seconds * 1000).toISOString();
  }

  /** Brings one service's open offers in line with what it could create now; emits offer.* events for changes. */
  async refresh(service: string): Promise<void> {
    const db = this.#ctx.store.db;
    const now = this.#now();
    const desired = new Map<string, { pool: string; profile: string; zone: string | null; maxBytes: number }>();
    for (const profile of await listProfiles(db)) {
      if (profile.services.length > 0 && !profile.services.includes(service)) continue;
      const headroom = await this.#quotas.headroom(db, service, profile.name);
      if (headroom.volumes === 0) continue;
      for (const { candidate, maxBytes } of await this.#placement.openings(db, service, profile)) {
        const size = Math.min(maxBytes, headroom.bytes ?? Infinity);
        if (size < profile.minBytes || size <= 0) continue;
        desired.set(`${candidate.pool.name}\u0000${profile.name}`, { pool: candidate.pool.name, profile: profile.name, zone: candidate.zone, maxBytes: size });
      }
    }
    const changed = await this.#ctx.store.transaction(async (trx) => {
      let changes = 0;
      const declined = await trx
        .selectFrom('offers')
        .select(['pool', 'profile'])
        .where('service', '=', service)
        .where('status', '=', 'declined')
        .where('expires_at', '>', now)
        .execute();
      for (const d of declined) desired.delete(`${d.pool}\u0000${d.profile}`);
      for (const offer of await listOpenOffers(trx, service)) {
        const key = `${offer.pool}\u0000${offer.profile}`;
        const want = desired.get(key);
        if (!want || offer.expiresAt <= now) {
          await updateOffer(trx, offer.id, 'open', { status: offer.expiresAt <= now ? 'expired' : 'revoked' });
          await this.#event(trx, offer.expiresAt <= now ? 'offer.expired' : 'offer.rescinded', offer, {});
          changes++;
          continue;
        }
        desired.delete(key);
        if (want.maxBytes !== offer.maxBytes) {
          // The size an open offer advertises follows every create and delete in its pool; recording each
          // step buried real changes in the audit trail (81 of 120 events in one sample). The current size
          // is what GET /v1/offers answers; only creation, acceptance and the end of an offer are events.
          await updateOffer(trx, offer.id, 'open', { maxBytes: want.maxBytes });
          changes++;
        }
      }
      for (const want of desired.values()) {
        const offer: Offer = { id: newId('off'), service, ...want, status: 'open', createdAt: now, expiresAt: this.#later(this.#ctx.config.offerTtlSeconds) };
        await insertOffer(trx, offer);
        await this.#event(trx, 'offer.created', offer, {});
        changes++;
      }
      return changes;
    });
    if (changed > 0) this.#ctx.events.notify();
  }

  /** Refreshes every service's offers (the background loop). */
  async refreshAll(): Promise<void> {
    for (const s of await listServices(this.#ctx.store.db)) await this.refresh(s.name);
  }

  async #event(ex: Executor, type: string, offer: Offer, extra: Record<string, unknown>): Promise<void> {
    await this.#ctx.events.record(
      ex,
      { type, service: offer.service, objectId: offer.id, data: { pool: offer.pool, profile: offer.profile, zone: offer.zone, maxBytes: offer.maxBytes, expiresAt: offer.expiresAt, ...extra } },
      nowIso(),
    );
  }

  async list(identity: Identity, filter: OfferFilter): Promise<Offer[]> {
    const service = listScope(identity, filter.service);
    if (service !== undefined) {
      if (!(await findService(this.#ctx.store.db, service))) throw new PollyError('SERVICE_NOT_FOUND', `service ${service} not found`);
      await this.refresh(service);
    }
    const offers = await listOpenOffers(this.#ctx.store.db, service);
    return offers.filter(
      (o) =>
        (filter.profile === undefined || o.profile === filter.profile) &&
        (filter.zone === undefined || o.zone === filter.zone) &&
        (filter.minBytes === undefined || o.maxBytes >= filter.minBytes),
    );
  }

  async #load(identity: Identity, id: string): Promise<Offer> {
    const offer = await findOffer(this.#ctx.store.db, id);
    if (!offer || (identity.kind === 'service' && identity.service !== offer.service)) throw new PollyError('OFFER_NOT_FOUND', `offer ${id} not found`);
    return offer;
  }

  /** Accepts (part of) an offer: a reservation holding `sizeBytes` of the pool and of the service's quota. */
  async accept(identity: Identity, id: string, sizeBytes: number): Promise<Reservation> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) throw new PollyError('VALIDATION_FAILED', 'sizeBytes must be a whole number of bytes ≥ 1');
    const offer = await this.#load(identity, id);
    if (identity.kind === 'admin') throw new PollyError('FORBIDDEN', 'offers are accepted by the service they were made to');
    const now = this.#now();
    if (offer.status !== 'open' || offer.expiresAt <= now) {
      throw new PollyError('OFFER_CLOSED', `offer ${id} is ${offer.status === 'open' ? 'expired' : offer.status}`);
    }
    if (sizeBytes > offer.maxBytes) throw new PollyError('VALIDATION_FAILED', `sizeBytes ${sizeBytes} is more than offer ${id} holds (${offer.maxBytes})`);
    const capacity = await this.#placement.capacityOf(offer.pool);
    const reservation: Reservation = {
      id: newId('res'),
      offerId: offer.id,
      service: offer.service,
      pool: offer.pool,
      profile: offer.profile,
      sizeBytes,
      status: 'active',
      volumeId: null,
      createdAt: now,
      expiresAt: this.#later(this.#ctx.config.reservationTtlSeconds),
    };
    await this.#ctx.store.transaction(async (trx) => {
      const pool = await findPool(trx, offer.pool);
      if (!pool || pool.state !== 'enabled') throw new PollyError('OFFER_CLOSED', `offer ${id}: pool ${offer.pool} no longer takes volumes`);
      const demand = { service: offer.service, pool: offer.pool, profile: offer.profile, volumes: 0, bytes: sizeBytes, as: 'reservation' as const, capacityTotalBytes: capacity.unknown ? null : capacity.totalBytes };
      await this.#admission.admit(trx, { ...demand, writeReferencesService: true }, async () => {
        if (!(await updateOffer(trx, offer.id, 'open', { status: 'accepted' }))) throw new PollyError('OFFER_CLOSED', `offer ${id} was taken meanwhile`);
        await insertReservation(trx, reservation);
        await this.#event(trx, 'offer.accepted', offer, { reservation: reservation.id, sizeBytes });
        await this.#reservationEvent(trx, 'reservation.created', reservation);
      });
    });
    this.#ctx.events.notify();
    return reservation;
  }

  async decline(identity: Identity, id: string): Promise<Offer> {
    const offer = await this.#load(identity, id);
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await updateOffer(trx, id, 'open', { status: 'declined' }))) throw new PollyError('OFFER_CLOSED', `offer ${id} is ${offer.status}`);
      await this.#event(trx, 'offer.declined', offer, {});
    });
    this.#ctx.events.notify();
    return { ...offer, status: 'declined' };
  }

  /** The admin withdraws an offer; reservations made from it are released. */
  async revoke(identity: Identity, id: string): Promise<Offer> {
    requireAdmin(identity, 'revoking offers');
    const offer = await this.#load(identity, id);
    await this.#ctx.store.transaction(async (trx) => {
      const ok = (await updateOffer(trx, id, 'open', { status: 'revoked' })) || (await updateOffer(trx, id, 'accepted', { status: 'revoked' }));
      if (!ok) throw new PollyError('OFFER_CLOSED', `offer ${id} is ${offer.status}`);
      for (const r of await listReservations(trx, { offerId: id, status: 'active' })) {
        if (await closeReservation(trx, r, 'released')) await this.#reservationEvent(trx, 'reservation.released', r);
      }
      await this.#event(trx, 'offer.revoked', offer, {});
    });
    this.#ctx.events.notify();
    return { ...offer, status: 'revoked' };
  }

  async getReservation(identity: Identity, id: string): Promise<Reservation> {
    const r = await findReservation(this.#ctx.store.db, id);
    if (!r || (identity.kind === 'service' && identity.service !== r.service)) throw new PollyError('RESERVATION_NOT_FOUND', `reservation ${id} not found`);
    return r;
  }

  async listReservations(identity: Identity, filter: { service?: string | undefined; status?: ReservationStatus | undefined }): Promise<Reservation[]> {
    return listReservations(this.#ctx.store.db, { service: listScope(identity, filter.service), status: filter.status });
  }

  /** Gives a reservation's capacity and quota back before it lapses. */
  async release(identity: Identity, id: string): Promise<void> {
    const r = await this.getReservation(identity, id);
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await closeReservation(trx, r, 'released'))) throw new PollyError('RESERVATION_CLOSED', `reservation ${id} is ${r.status}`);
      await this.#reservationEvent(trx, 'reservation.released', r);
    });
    this.#ctx.events.notify();
  }

  /** Lapses reservations and offers past their time (the background loop; uses the injectable clock). */
  async expire(): Promise<{ reservations: number; offers: number }> {
    const now = this.#now();
    const result = await this.#ctx.store.transaction(async (trx) => {
      let reservations = 0;
      for (const r of await listExpiredReservations(trx, now)) {
        if (await closeReservation(trx, r, 'expired')) {
          await this.#reservationEvent(trx, 'reservation.expired', r);
          reservations++;
        }
      }
      let offers = 0;
      const stale = await trx.selectFrom('offers').select('id').where('status', '=', 'open').where('expires_at', '<=', now).execute();
      for (const { id } of stale) {
        const offer = await findOffer(trx, id);
        if (offer && (await updateOffer(trx, id, 'open', { status: 'expired' }))) {
          await this.#event(trx, 'offer.expired', offer, {});
          offers++;
        }
      }
      return { reservations, offers };
    });
    if (result.reservations + result.offers > 0) this.#ctx.events.notify();
    return result;
  }

  async #reservationEvent(ex: Executor, type: string, r: Reservation): Promise<void> {
    await this.#ctx.events.record(ex, { type, service: r.service, objectId: r.id, data: { offerId: r.offerId, pool: r.pool, profile: r.profile, sizeBytes: r.sizeBytes, expiresAt: r.expiresAt } }, nowIso());
  }
}
