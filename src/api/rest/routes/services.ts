import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { idempotent } from '../idempotent.js';
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
      async (req, reply) => {
        await app.services.remove(identityOf(req), req.params.name);
        return reply.status(204).send(null);
      },
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
      async (req, reply) =>
        idempotent(app, req, reply, 201, () => app.services.issueToken(identityOf(req), req.params.name, req.body?.description ?? '')),
    );
  };
}
