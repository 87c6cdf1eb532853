import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, IdParams, LabelMap } from '../schemas.js';
import { AttachmentSchema } from './attachments.js';

const NodeSchema = Type.Object(
  { id: Type.String(), hostname: Type.String(), topology: LabelMap, lastHeartbeatAt: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String() },
  { title: 'Node' },
);

const NodeAttachmentSchema = Type.Intersect([
  AttachmentSchema,
  Type.Object({
    volume: Type.Object({
      name: Type.String(),
      service: Type.String(),
      pool: Type.String(),
      backendId: Type.String(),
      sizeBytes: Type.Number(),
      volumeMode: Type.String(),
      fsType: Type.String(),
    }),
  }),
], { title: 'NodeAttachment' });

export function nodeRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/nodes',
      {
        schema: {
          tags: ['nodes'],
          summary: 'Register (or update) a node; agents call this at start',
          body: Type.Object(
            { id: Type.String({ minLength: 1, maxLength: 128 }), hostname: Type.String({ minLength: 1, maxLength: 253 }), topology: Type.Optional(LabelMap) },
            { additionalProperties: false },
          ),
          response: { 200: NodeSchema, ...errorResponses },
        },
      },
      async (req) => (req.nodeCaller ? app.nodeAccess.registerNode(req.nodeCaller, req.body) : app.attachments.registerNode(identityOf(req), req.body)),
    );
    r.get(
      '/v1/nodes',
      { schema: { tags: ['nodes'], response: { 200: Type.Object({ items: Type.Array(NodeSchema) }), ...errorResponses } } },
      async (req) => ({ items: await app.attachments.listNodes(identityOf(req)) }),
    );
    r.get(
      '/v1/nodes/:id',
      { schema: { tags: ['nodes'], params: IdParams, response: { 200: NodeSchema, ...errorResponses } } },
      async (req) => app.attachments.getNode(identityOf(req), req.params.id),
    );
    r.post(
      '/v1/nodes/:id/heartbeat',
      {
        schema: {
          tags: ['nodes'],
          summary: "Renew the node's leases; answers the attachments it should hold with their fencing tokens",
          params: IdParams,
          response: {
            200: Type.Object({ node: Type.String(), leaseSeconds: Type.Integer(), attachments: Type.Array(NodeAttachmentSchema) }, { title: 'Heartbeat' }),
            ...errorResponses,
          },
        },
      },
      async (req) => (req.nodeCaller ? app.nodeAccess.heartbeat(req.nodeCaller, req.params.id) : app.attachments.heartbeat(identityOf(req), req.params.id)),
    );
    r.post(
      '/v1/nodes/:id/credentials',
      {
        schema: {
          tags: ['nodes'],
          summary: 'Issue a node credential (admin): a token that may mount only volumes bound or attached to this node, of any service',
          params: IdParams,
          body: Type.Optional(Type.Object({ description: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
          response: { 201: Type.Object({ id: Type.String(), token: Type.String(), node: Type.String() }), ...errorResponses },
        },
      },
      async (req, reply) => {
        reply.status(201);
        return app.nodeAccess.issueCredential(identityOf(req), req.params.id, req.body?.description ?? '');
      },
    );
  };
}
