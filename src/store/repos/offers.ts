import type { Executor } from '../store.js';
import { chargePool } from './volumes.js';
import { chargeUsage } from './usage.js';

export type OfferStatus = 'open' | 'accepted' | 'declined' | 'revoked' | 'expired';
export type ReservationStatus = 'active' | 'consumed' | 'released' | 'expired';

export interface Offer {
  id: string;
  service: string;
  pool: string;
  profile: string;
  zone: string | null;
  maxBytes: number;
  status: OfferStatus;
  createdAt: string;
  expiresAt: string;
}

export interface Reservation {
  id: string;
  offerId: string;
  service: string;
  pool: string;
  profile: string;
  sizeBytes: number;
  status: ReservationStatus;
  volumeId: string | null;
  createdAt: string;
  expiresAt: string;
}

type OfferRow = { id: string; service: string; pool: string; profile: string; zone: string | null; max_bytes: number; status: OfferStatus; created_at: string; expires_at: string };
type ReservationRow = { id: string; offer_id: string; service: string; pool: string; profile: string; size_bytes: number; status: ReservationStatus; volume_id: string | null; created_at: string; expires_at: string };

const toOffer = (r: OfferRow): Offer => ({
  id: r.id,
  service: r.service,
  pool: r.pool,
  profile: r.profile,
  zone: r.zone,
  maxBytes: Number(r.max_bytes),
  status: r.status,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const toReservation = (r: ReservationRow): Reservation => ({
  id: r.id,
  offerId: r.offer_id,
  service: r.service,
  pool: r.pool,
  profile: r.profile,
  sizeBytes: Number(r.size_bytes),
  status: r.status,
  volumeId: r.volume_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export async function insertOffer(ex: Executor, o: Offer): Promise<void> {
  await ex
    .insertInto('offers')
    .values({ id: o.id, service: o.service, pool: o.pool, profile: o.profile, zone: o.zone, max_bytes: o.maxBytes, status: o.status, created_at: o.createdAt, expires_at: o.expiresAt })
    .execute();
}

export async function findOffer(ex: Executor, id: string): Promise<Offer | undefined> {
  const row = await ex.selectFrom('offers').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toOffer(row) : undefined;
}

export async function listOpenOffers(ex: Executor, service: string | undefined): Promise<Offer[]> {
  let q = ex.selectFrom('offers').selectAll().where('status', '=', 'open');
  if (service !== undefined) q = q.where('service', '=', service);
  return (await q.orderBy('id').execute()).map(toOffer);
}

export async function updateOffer(ex: Executor, id: string, from: OfferStatus, set: { status?: OfferStatus; maxBytes?: number; expiresAt?: string }): Promise<boolean> {
  const res = await ex
    .updateTable('offers')
    .set({
      ...(set.status !== undefined ? { status: set.status } : {}),
      ...(set.maxBytes !== undefined ? { max_bytes: set.maxBytes } : {}),
      ...(set.expiresAt !== undefined ? { expires_at: set.expiresAt } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Inserts an active reservation; the caller holds its bytes through the admission step (app/admission.ts). */
export async function insertReservation(ex: Executor, r: Reservation): Promise<void> {
  await ex
    .insertInto('reservations')
    .values({ id: r.id, offer_id: r.offerId, service: r.service, pool: r.pool, profile: r.profile, size_bytes: r.sizeBytes, status: r.status, volume_id: r.volumeId, created_at: r.createdAt, expires_at: r.expiresAt })
    .execute();
}

export async function findReservation(ex: Executor, id: string): Promise<Reservation | undefined> {
  const row = await ex.selectFrom('reservations').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toReservation(row) : undefined;
}

export async function listReservations(ex: Executor, filter: { service?: string | undefined; status?: ReservationStatus | undefined; offerId?: string | undefined }): Promise<Reservation[]> {
  let q = ex.selectFrom('reservations').selectAll();
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.offerId !== undefined) q = q.where('offer_id', '=', filter.offerId);
  return (await q.orderBy('id').execute()).map(toReservation);
}

export async function listExpiredReservations(ex: Executor, now: string): Promise<Reservation[]> {
  const rows = await ex.selectFrom('reservations').selectAll().where('status', '=', 'active').where('expires_at', '<=', now).execute();
  return rows.map(toReservation);
}

/**
 * Ends an active reservation (consumed by a volume, released, or expired) and gives back what it held.
 * Returns false when it was no longer active (someone else ended it first).
 */
export async function closeReservation(ex: Executor, r: Reservation, status: Exclude<ReservationStatus, 'active'>, volumeId: string | null = null): Promise<boolean> {
  const res = await ex
    .updateTable('reservations')
    .set({ status, volume_id: volumeId })
    .where('id', '=', r.id)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  await chargePool(ex, r.pool, -r.sizeBytes, 0);
  await chargeUsage(ex, r.service, r.profile, { reservedBytes: -r.sizeBytes });
  return true;
}
