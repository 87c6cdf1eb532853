import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { PollyError } from '../../../core/errors.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { AccessModeSchema, errorResponses, IdParams, StringEnum } from '../schemas.js';

export const AttachmentSchema = Type.Object(
  {
    id: Type.String(),
    volumeId: Type.String(),
    service: Type.String(),
    node: Type.String(),
    accessMode: AccessModeSchema,
    readOnly: Type.Boolean(),
    fencingToken: Type.Integer({ description: 'grows with every grant of the volume; a mount holding an older token is stale' }),
    status: StringEnum(['live', 'ended', 'fenced'] as const, { title: 'AttachmentStatus', description: 'fenced: the holder was cut off (forced detach or failover)' }),
    leaseExpiresAt: Type.String(),
    createdAt: Type.String(),
    endedAt: Type.Union([Type.String(), Type.Null()]),
    publishContext: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: "what the pool's controller half answered for this node (networked drivers such as rbd); never a secret" }),
    ),
  },
  { title: 'Attachment' },
);

export function attachmentRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/volumes/:id/attachments',
      {
        schema: {
          tags: ['attachments'],
          summary: 'Attach a volume to a node (idempotent per volume, node and service)',
          params: IdParams,
          body: Type.Object(
            { node: Type.String({ minLength: 1, maxLength: 128 }), accessMode: AccessModeSchema, readOnly: Type.Optional(Type.Boolean()) },
            { additionalProperties: false },
          ),
          response: { 201: AttachmentSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const node = req.nodeCaller;
        return idempotent(app, req, reply, 201, async () => (node ? app.nodeAccess.attach(node, req.params.id, req.body) : app.attachments.attach(identityOf(req), req.params.id, req.body)));
      },
    );
    r.get(
      '/v1/attachments',
      {
        schema: {
          tags: ['attachments'],
          summary: "Live attachments (a service sees its own)",
          querystring: Type.Object(
            { node: Type.Optional(Type.String({ maxLength: 128 })), volume: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(AttachmentSchema) }), ...errorResponses },
        },
      },
      async (req) => {
        const filter = { node: req.query.node, volumeId: req.query.volume };
        return { items: await (req.nodeCaller ? app.nodeAccess.attachmentsOf(req.nodeCaller, filter) : app.attachments.list(identityOf(req), filter)) };
      },
    );
    r.get(
      '/v1/attachments/:id',
      { schema: { tags: ['attachments'], params: IdParams, response: { 200: AttachmentSchema, ...errorResponses } } },
      async (req) => (req.nodeCaller ? app.nodeAccess.attachment(req.nodeCaller, req.params.id) : app.attachments.get(identityOf(req), req.params.id)),
    );
    r.delete(
      '/v1/attachments/:id',
      {
        schema: {
          tags: ['attachments'],
          summary: 'Detach; `force=true` (admin) fences the holder whatever the volume state',
          params: IdParams,
          querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
          response: { 204: Type.Null(), ...errorResponses },
        },
      },
      async (req, reply) => {
        const node = req.nodeCaller;
        if (node && req.query.force) throw new PollyError('FORBIDDEN', 'force detach needs the admin token');
        return idempotentNoContent(app, req, reply, () =>
          node ? app.nodeAccess.detach(node, req.params.id) : app.attachments.detach(identityOf(req), req.params.id, { force: req.query.force }),
        );
      },
    );
  };
}
