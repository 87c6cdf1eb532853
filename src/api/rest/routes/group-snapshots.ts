import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { MAX_GROUP_MEMBERS } from '../../../app/group-snapshots.js';
import type { GroupSnapshot } from '../../../core/types.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, GroupSnapshotSchema, IdParams, Name, pageOf, PageQuery } from '../schemas.js';
import { snapshotView } from './snapshots.js';

export function groupSnapshotView(g: GroupSnapshot) {
  return { ...g, snapshots: g.snapshots.map(snapshotView) };
}

export function groupSnapshotRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/group-snapshots',
      {
        schema: {
          tags: ['group-snapshots'],
          summary: 'Snapshot several volumes of one service together',
          description:
            'Idempotent by name: the same name over the same volumes returns the group made first (201), over other volumes 409 GROUP_SNAPSHOT_NAME_TAKEN.',
          body: Type.Object(
            {
              name: Name,
              volumes: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: MAX_GROUP_MEMBERS, description: 'volume ids' }),
            },
            { additionalProperties: false },
          ),
          response: { 201: GroupSnapshotSchema, ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 201, async () =>
          groupSnapshotView(await app.groupSnapshots.create(identityOf(req), { name: req.body.name, volumeIds: req.body.volumes })),
        ),
    );
    r.get(
      '/v1/group-snapshots',
      {
        schema: {
          tags: ['group-snapshots'],
          querystring: Type.Object({ service: Type.Optional(Name), ...PageQuery }, { additionalProperties: false }),
          response: { 200: pageOf(GroupSnapshotSchema), ...errorResponses },
        },
      },
      async (req) => {
        const page = await app.groupSnapshots.list(identityOf(req), { service: req.query.service, limit: req.query.limit, cursor: req.query.cursor });
        return { items: page.items.map(groupSnapshotView), nextCursor: page.nextCursor };
      },
    );
    r.get(
      '/v1/group-snapshots/:id',
      { schema: { tags: ['group-snapshots'], params: IdParams, response: { 200: GroupSnapshotSchema, ...errorResponses } } },
      async (req) => groupSnapshotView(await app.groupSnapshots.get(identityOf(req), req.params.id)),
    );
    r.delete(
      '/v1/group-snapshots/:id',
      { schema: { tags: ['group-snapshots'], summary: 'Delete a group snapshot and all its member snapshots', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, () => app.groupSnapshots.remove(identityOf(req), req.params.id)),
    );
  };
}
