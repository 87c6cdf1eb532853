import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { StringEnum, errorResponses, IdParams, Name, VolumeSchema } from '../schemas.js';
import { volumeView } from './volumes.js';

const SharesSchema = Type.Object({
  items: Type.Array(Type.Object({ volumeId: Type.String(), service: Type.String(), access: StringEnum(['ro', 'rw'] as const), createdAt: Type.String() }, { title: 'Share' })),
});
const Services = Type.Array(Name, { minItems: 1, maxItems: 100 });

/** Sharing a volume with other services, transferring it, importing and releasing backend volumes. */
export function ownershipRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/volumes/:id/offer',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Let other services see and attach this volume (read-only by default). Admin only.',
          params: IdParams,
          body: Type.Object({ services: Services, access: Type.Optional(Type.Union([Type.Literal('ro'), Type.Literal('rw')])) }, { additionalProperties: false }),
          response: { 200: SharesSchema, ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 200, async () => ({ items: await app.ownership.share(identityOf(req), req.params.id, req.body.services, req.body.access ?? 'ro') })),
    );
    r.post(
      '/v1/volumes/:id/revoke',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Take a share back (refused while attached). Admin only.',
          params: IdParams,
          body: Type.Object({ services: Services }, { additionalProperties: false }),
          response: { 200: SharesSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, async () => ({ items: await app.ownership.unshare(identityOf(req), req.params.id, req.body.services) })),
    );
    r.get(
      '/v1/volumes/:id/shares',
      { schema: { tags: ['volumes'], params: IdParams, response: { 200: SharesSchema, ...errorResponses } } },
      async (req) => ({ items: await app.ownership.shares(identityOf(req), req.params.id) }),
    );
    r.post(
      '/v1/volumes/:id/transfer',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Give the volume (and its snapshots) to another service; the quota of the service that receives it is checked',
          params: IdParams,
          body: Type.Object({ toService: Name }, { additionalProperties: false }),
          response: { 200: VolumeSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, async () => volumeView(await app.ownership.transfer(identityOf(req), req.params.id, req.body.toService))),
    );
    r.post(
      '/v1/volumes/import',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Take an unmanaged backend volume under management (data untouched). Admin only.',
          body: Type.Object({ pool: Name, backendId: Type.String({ minLength: 1, maxLength: 500 }), service: Name, name: Name, profile: Type.Optional(Name) }, { additionalProperties: false }),
          response: { 201: VolumeSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 201, async () => volumeView(await app.ownership.import(identityOf(req), req.body))),
    );
    r.post(
      '/v1/volumes/:id/release',
      { schema: { tags: ['volumes'], summary: 'Forget a volume without deleting its data. Admin only.', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.ownership.release(identityOf(req), req.params.id)),
    );
  };
}
