import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, LabelMap, Name, NameParams, ServiceSchema } from '../schemas.js';

export function serviceRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/services',
      {
        schema: {
          tags: ['services'],
          summary: 'Create a service (tenant). Admin only.',
          body: Type.Object({ name: Name, labels: Type.Optional(LabelMap) }, { additionalProperties: false }),
          response: { 201: ServiceSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 201, () => app.services.create(identityOf(req), req.body)),
    );
    r.get(
      '/v1/services',
      { schema: { tags: ['services'], summary: 'List services (a service token sees itself)', response: { 200: Type.Object({ items: Type.Array(ServiceSchema) }), ...errorResponses } } },
      async (req) => ({ items: await app.services.list(identityOf(req)) }),
    );
    r.get(
      '/v1/services/:name',
      { schema: { tags: ['services'], params: NameParams, response: { 200: ServiceSchema, ...errorResponses } } },
      async (req) => app.services.get(identityOf(req), req.params.name),
    );
    r.delete(
      '/v1/services/:name',
      { schema: { tags: ['services'], summary: 'Delete a service that owns no volumes. Admin only.', params: NameParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.services.remove(identityOf(req), req.params.name)),
    );
    r.post(
      '/v1/services/:name/tokens',
      {
        schema: {
          tags: ['services'],
          summary: 'Issue a bearer token for a service; shown once. Admin only.',
          params: NameParams,
          body: Type.Optional(Type.Object({ description: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
          response: { 201: Type.Object({ id: Type.String(), token: Type.String(), service: Type.String() }, { title: 'IssuedToken' }), ...errorResponses },
        },
      },
      // Honours Idempotency-Key like every mutation: a retry of a request whose answer was lost gets the
      // same token instead of minting a second one nobody knows. The replay goes to the admin scope only
      // (keys are per caller), which may issue tokens anyway.
      async (req, reply) =>
        idempotent(app, req, reply, 201, () => app.services.issueToken(identityOf(req), req.params.name, req.body?.description ?? '')),
    );
  };
}
