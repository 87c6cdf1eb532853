import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { PollyError } from '../../../core/errors.js';
import { actingService } from '../../../app/scope.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { Bytes, CreateVolumeBody, errorResponses, IdParams, Name, NameParams, StringEnum } from '../schemas.js';

const OFFER_STATUSES = ['open', 'accepted', 'declined', 'revoked', 'expired'] as const;
const RESERVATION_STATUSES = ['active', 'consumed', 'released', 'expired'] as const;

const Nullable = (t: ReturnType<typeof Type.Integer>) => Type.Union([t, Type.Null()]);
const QuotaBody = Type.Object(
  {
    maxVolumes: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 2 ** 53 }))),
    maxBytes: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 2 ** 53 }))),
    maxSnapshots: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 2 ** 53 }))),
    profileBytes: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0, maximum: 2 ** 53 }), { maxProperties: 256 })),
  },
  { additionalProperties: false },
);
const UsageSchema = Type.Object(
  { volumes: Type.Number(), bytes: Type.Number(), snapshots: Type.Number(), reservedBytes: Type.Number(), profileBytes: Type.Record(Type.String(), Type.Number()) },
  { title: 'QuotaUsage' },
);
const QuotaSchema = Type.Object({
  service: Type.String(),
  maxVolumes: Type.Union([Type.Number(), Type.Null()]),
  maxBytes: Type.Union([Type.Number(), Type.Null()]),
  maxSnapshots: Type.Union([Type.Number(), Type.Null()]),
  profileBytes: Type.Record(Type.String(), Type.Number()),
  usage: UsageSchema,
}, { title: 'Quota' });
const OfferSchema = Type.Object(
  {
    id: Type.String(),
    service: Type.String(),
    pool: Type.String(),
    profile: Type.String(),
    zone: Type.Union([Type.String(), Type.Null()]),
    maxBytes: Type.Number(),
    status: StringEnum(OFFER_STATUSES, { title: 'OfferStatus' }),
    createdAt: Type.String(),
    expiresAt: Type.String(),
  },
  { title: 'Offer' },
);
const ReservationSchema = Type.Object(
  {
    id: Type.String(),
    offerId: Type.String(),
    service: Type.String(),
    pool: Type.String(),
    profile: Type.String(),
    sizeBytes: Type.Number(),
    status: StringEnum(RESERVATION_STATUSES, { title: 'ReservationStatus' }),
    volumeId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    expiresAt: Type.String(),
  },
  { title: 'Reservation' },
);

/** Quotas, offers and reservations, and placement explain. */
export function schedulingRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.get(
      '/v1/services/:name/quota',
      { schema: { tags: ['quotas'], summary: 'A service’s quota and usage (null = unlimited)', params: NameParams, response: { 200: QuotaSchema, ...errorResponses } } },
      async (req) => app.quotas.get(identityOf(req), req.params.name),
    );
    r.put(
      '/v1/services/:name/quota',
      { schema: { tags: ['quotas'], summary: 'Replace a service’s quota. Admin only.', params: NameParams, body: QuotaBody, response: { 200: QuotaSchema, ...errorResponses } } },
      async (req, reply) =>
        idempotent(app, req, reply, 200, () =>
          app.quotas.set(identityOf(req), req.params.name, {
            maxVolumes: req.body.maxVolumes ?? null,
            maxBytes: req.body.maxBytes ?? null,
            maxSnapshots: req.body.maxSnapshots ?? null,
            profileBytes: req.body.profileBytes ?? {},
          }),
        ),
    );

    r.get(
      '/v1/offers',
      {
        schema: {
          tags: ['offers'],
          summary: 'Open offers for the caller’s service (refreshed on read); admin: ?service= or all',
          querystring: Type.Object(
            { profile: Type.Optional(Name), zone: Type.Optional(Type.String()), minBytes: Type.Optional(Type.Integer({ minimum: 0 })), service: Type.Optional(Name) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(OfferSchema) }), ...errorResponses },
        },
      },
      async (req) => ({ items: await app.offers.list(identityOf(req), req.query) }),
    );
    r.post(
      '/v1/offers/:id/accept',
      {
        schema: {
          tags: ['offers'],
          summary: 'Accept an offer: a reservation that holds capacity and quota until a volume consumes it',
          params: IdParams,
          body: Type.Object({ sizeBytes: Bytes }, { additionalProperties: false }),
          response: { 201: ReservationSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 201, () => app.offers.accept(identityOf(req), req.params.id, req.body.sizeBytes)),
    );
    r.post(
      '/v1/offers/:id/decline',
      { schema: { tags: ['offers'], params: IdParams, response: { 200: OfferSchema, ...errorResponses } } },
      async (req, reply) => idempotent(app, req, reply, 200, () => app.offers.decline(identityOf(req), req.params.id)),
    );
    r.post(
      '/v1/offers/:id/revoke',
      { schema: { tags: ['offers'], summary: 'Withdraw an offer and release its reservations. Admin only.', params: IdParams, response: { 200: OfferSchema, ...errorResponses } } },
      async (req, reply) => idempotent(app, req, reply, 200, () => app.offers.revoke(identityOf(req), req.params.id)),
    );
    r.get(
      '/v1/reservations',
      {
        schema: {
          tags: ['offers'],
          querystring: Type.Object(
            {
              service: Type.Optional(Name),
              status: Type.Optional(StringEnum(RESERVATION_STATUSES, { title: 'ReservationStatus' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(ReservationSchema) }), ...errorResponses },
        },
      },
      async (req) =>
        ({ items: await app.offers.listReservations(identityOf(req), { service: req.query.service, status: req.query.status as 'active' | undefined }) }),
    );
    r.get(
      '/v1/reservations/:id',
      { schema: { tags: ['offers'], params: IdParams, response: { 200: ReservationSchema, ...errorResponses } } },
      async (req) => app.offers.getReservation(identityOf(req), req.params.id),
    );
    r.delete(
      '/v1/reservations/:id',
      { schema: { tags: ['offers'], summary: 'Release a reservation before it lapses', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.offers.release(identityOf(req), req.params.id)),
    );

    r.post(
      '/v1/placement/explain',
      {
        schema: {
          tags: ['placement'],
          summary: 'Why a volume would land where it would: every pool, the filter that rejected it or its weights and score',
          body: CreateVolumeBody,
          response: {
            200: Type.Object(
              {
                chosen: Type.Union([Type.String(), Type.Null()]),
                summary: Type.String(),
                filters: Type.Array(Type.Object({ name: Type.String(), active: Type.Boolean(), rejected: Type.Number() }, { title: 'FilterSummary' })),
                pools: Type.Array(
                  Type.Object({
                    pool: Type.String(),
                    passed: Type.Boolean(),
                    rejectedBy: Type.Optional(Type.Object({ filter: Type.String(), reason: Type.String() })),
                    weights: Type.Optional(
                      Type.Record(Type.String(), Type.Object({ raw: Type.Number(), normalized: Type.Number(), multiplier: Type.Number(), weighted: Type.Number() }, { title: 'Weight' })),
                    ),
                    score: Type.Optional(Type.Number()),
                    rank: Type.Optional(Type.Number()),
                  }, { title: 'PoolVerdict' }),
                ),
              },
              { title: 'Explanation' },
            ),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const identity = identityOf(req);
        const body = req.body;
        const service = actingService(identity, body.service);
        const profile = await app.pools.profileFor(identity, service, body.profile ?? 'default');
        if (body.reservation !== undefined) throw new PollyError('VALIDATION_FAILED', 'a reservation fixes the pool; there is nothing to explain');
        const { chosen, summary, filters, pools } = await app.placement.explainFor(service, {
          sizeBytes: body.sizeBytes,
          profile,
          accessMode: body.accessMode,
          pinnedPool: body.pool,
          topology: body.topology,
          affinity: body.affinity,
          antiAffinity: body.antiAffinity,
        });
        return { chosen, summary, filters, pools };
      },
    );
  };
}
