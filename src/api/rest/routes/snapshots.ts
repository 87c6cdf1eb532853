import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import type { Snapshot } from '../../../core/types.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, IdParams, Name, pageOf, PageQuery, SnapshotSchema } from '../schemas.js';

export function snapshotView(s: Snapshot): Omit<Snapshot, 'backendId'> {
  const { backendId: _backendId, ...view } = s;
  return view;
}

export function snapshotRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/volumes/:id/snapshots',
      {
        schema: {
          tags: ['snapshots'],
          summary: 'Snapshot a volume',
          params: IdParams,
          body: Type.Object({ name: Name }, { additionalProperties: false }),
          response: { 201: SnapshotSchema, ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 201, async () => snapshotView(await app.snapshots.create(identityOf(req), req.params.id, req.body))),
    );
    r.get(
      '/v1/snapshots',
      {
        schema: {
          tags: ['snapshots'],
          querystring: Type.Object(
            {
              volume: Type.Optional(Type.String({ maxLength: 200 })),
              service: Type.Optional(Name),
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'exactly this snapshot name (unique per service)' })),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: { 200: pageOf(SnapshotSchema), ...errorResponses },
        },
      },
      async (req) => {
        const page = await app.snapshots.list(identityOf(req), {
          volumeId: req.query.volume,
          service: req.query.service,
          name: req.query.name,
          limit: req.query.limit,
          cursor: req.query.cursor,
        });
        return { items: page.items.map(snapshotView), nextCursor: page.nextCursor };
      },
    );
    r.get(
      '/v1/snapshots/:id',
      { schema: { tags: ['snapshots'], params: IdParams, response: { 200: SnapshotSchema, ...errorResponses } } },
      async (req) => snapshotView(await app.snapshots.get(identityOf(req), req.params.id)),
    );
    r.delete(
      '/v1/snapshots/:id',
      { schema: { tags: ['snapshots'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.snapshots.remove(identityOf(req), req.params.id)),
    );
  };
}
