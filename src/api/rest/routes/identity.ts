import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { identityOf } from '../rest-api.js';
import { errorResponses, StringEnum } from '../schemas.js';

const IdentitySchema = Type.Object(
  {
    kind: StringEnum(['admin', 'service'] as const, { title: 'IdentityKind' }),
    service: Type.Union([Type.String(), Type.Null()], { description: 'the service a service token belongs to; null for the admin' }),
  },
  { title: 'Identity' },
);

/** Who the bearer token is: what the dashboard and the CLI ask first to pick the admin or the service view. */
export function identityRoutes(): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.get(
      '/v1/identity',
      { schema: { tags: ['services'], summary: 'The identity of the bearer token (admin or a service)', response: { 200: IdentitySchema, ...errorResponses } } },
      async (req) => {
        const identity = identityOf(req);
        return identity.kind === 'admin' ? { kind: 'admin' as const, service: null } : { kind: 'service' as const, service: identity.service };
      },
    );
  };
}
