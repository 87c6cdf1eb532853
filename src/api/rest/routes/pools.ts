import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, NameParams, PoolSchema, ProfileSchema } from '../schemas.js';

export function poolRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.get(
      '/v1/pools',
      { schema: { tags: ['pools'], summary: 'List pools with real capacity', response: { 200: Type.Object({ items: Type.Array(PoolSchema) }), ...errorResponses } } },
      async (req) => ({ items: await (req.nodeCaller ? app.nodeAccess.pools(req.nodeCaller) : app.pools.list(identityOf(req))) }),
    );
    r.get(
      '/v1/pools/:name',
      { schema: { tags: ['pools'], params: NameParams, response: { 200: PoolSchema, ...errorResponses } } },
      async (req) => app.pools.get(identityOf(req), req.params.name),
    );
    r.get(
      '/v1/profiles',
      { schema: { tags: ['profiles'], summary: 'Profiles the caller may use', response: { 200: Type.Object({ items: Type.Array(ProfileSchema) }), ...errorResponses } } },
      async (req) => ({ items: await app.profiles.list(identityOf(req)) }),
    );
  };
}
