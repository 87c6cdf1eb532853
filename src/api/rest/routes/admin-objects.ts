import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { PoolConfigSchema, ProfileConfigSchema, ProfilePatchSchema, TopologySchema } from '../../../config/schema.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, LabelMap, NameParams, PoolSchema, ProfileSchema } from '../schemas.js';

const ProfileWriteQuery = Type.Object(
  { force: Type.Optional(Type.Boolean({ description: 'accept a profile no current pool can serve (pools added later)' })) },
  { additionalProperties: false },
);
const PoolState = Type.Union([Type.Literal('enabled'), Type.Literal('draining'), Type.Literal('disabled')]);

/** Profiles and pools managed at run time (admin), beside those declared in the configuration. */
export function adminObjectRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/profiles',
      {
        schema: {
          tags: ['profiles'],
          summary: 'Create a profile (storage class). Admin only. Refused (PROFILE_UNSATISFIABLE) when no pool could serve it, unless ?force=true.',
          body: ProfileConfigSchema,
          querystring: ProfileWriteQuery,
          response: { 201: ProfileSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 201, () => app.profiles.create(identityOf(req), req.body, { force: req.query.force === true })),
    );
    r.get(
      '/v1/profiles/:name',
      { schema: { tags: ['profiles'], params: NameParams, response: { 200: ProfileSchema, ...errorResponses } } },
      async (req) => app.profiles.get(identityOf(req), req.params.name),
    );
    r.patch(
      '/v1/profiles/:name',
      {
        schema: {
          tags: ['profiles'],
          summary: 'Change a profile (the given keys). Admin only.',
          params: NameParams,
          body: ProfilePatchSchema,
          querystring: ProfileWriteQuery,
          response: { 200: ProfileSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, () => app.profiles.update(identityOf(req), req.params.name, req.body, { force: req.query.force === true })),
    );
    r.delete(
      '/v1/profiles/:name',
      { schema: { tags: ['profiles'], summary: 'Delete a profile no volume uses. Admin only.', params: NameParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.profiles.remove(identityOf(req), req.params.name)),
    );

    r.post(
      '/v1/pools',
      { schema: { tags: ['pools'], summary: 'Add a pool; its backend is checked first. Admin only.', body: PoolConfigSchema, response: { 201: PoolSchema, ...errorResponses } } },
      async (req, reply) => idempotent(app, req, reply, 201, () => app.poolAdmin.create(identityOf(req), req.body)),
    );
    r.patch(
      '/v1/pools/:name',
      {
        schema: {
          tags: ['pools'],
          summary: 'Change labels, topology, state (enabled, draining, disabled) or provisioning. Admin only.',
          params: NameParams,
          body: Type.Object(
            {
              labels: Type.Optional(LabelMap),
              topology: Type.Optional(TopologySchema),
              state: Type.Optional(PoolState),
              overSubscriptionRatio: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
              reservedPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 99 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: PoolSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, () => app.poolAdmin.update(identityOf(req), req.params.name, req.body)),
    );
    r.delete(
      '/v1/pools/:name',
      { schema: { tags: ['pools'], summary: 'Remove an empty pool (its backend data is not touched). Admin only.', params: NameParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.poolAdmin.remove(identityOf(req), req.params.name)),
    );
    r.get(
      '/v1/pools/:name/unmanaged',
      {
        schema: {
          tags: ['pools'],
          summary: 'Backend objects of the pool that no volume or snapshot owns (for import). Admin only.',
          params: NameParams,
          response: {
            200: Type.Object({
              items: Type.Array(Type.Object({ backendId: Type.String(), kind: Type.String(), sizeBytes: Type.Number(), usedBytes: Type.Optional(Type.Number()) }, { title: 'UnmanagedObject' })),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => ({ items: await app.ownership.unmanaged(identityOf(req), req.params.name) }),
    );
  };
}
