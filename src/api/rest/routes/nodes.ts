import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { idempotent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, IdParams, LabelMap } from '../schemas.js';
import { AttachmentSchema } from './attachments.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);

const ConnectorSchema = Type.Object(
  {
    addresses: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32, description: "the node's IP addresses (storage networks included)" })),
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the storage client identity the node uses, where it has its own' })),
  },
  { additionalProperties: false, title: 'NodeConnector', description: 'what the controller half of a networked driver receives for this node (and fences by)' },
);

const NodeSchema = Type.Object(
  {
    id: Type.String(),
    hostname: Type.String(),
    topology: LabelMap,
    lastHeartbeatAt: NullableString,
    createdAt: Type.String(),
    fence: Type.Union([Type.Object({ at: Type.String(), by: Type.String(), reason: Type.String() }), Type.Null()], {
      description: 'set while an operator has confirmed the node down: nothing is attached to it until unfenced',
    }),
    selfFencedAt: Type.Union([Type.String(), Type.Null()], { description: 'the last self-fence its agent reported' }),
    connector: Type.Optional(ConnectorSchema),
    leaseSeconds: Type.Number(),
    selfFenceMarginSeconds: Type.Number(),
    clockSkewSeconds: Type.Number(),
    selfFenceDeadline: Type.Union([Type.String(), Type.Null()], { description: 'last heartbeat + lease − margin: by then its agent has fenced itself if it heard nothing' }),
    regrantAfter: Type.Union([Type.String(), Type.Null()], { description: 'last heartbeat + lease + clock-skew margin: no other node is granted its volumes before' }),
  },
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
    secrets: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: "the pool's node-scoped secrets, for this node's stage calls only (networked drivers)" }),
    ),
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
            {
              id: Type.String({ minLength: 1, maxLength: 128 }),
              hostname: Type.String({ minLength: 1, maxLength: 253 }),
              topology: Type.Optional(LabelMap),
              connector: Type.Optional(ConnectorSchema),
            },
            { additionalProperties: false },
          ),
          response: { 200: NodeSchema, ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 200, () =>
          req.nodeCaller ? app.nodeAccess.registerNode(req.nodeCaller, req.body) : app.attachments.registerNode(identityOf(req), req.body),
        ),
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
            200: Type.Object(
              { node: Type.String(), leaseSeconds: Type.Integer(), selfFenceMarginSeconds: Type.Number(), attachments: Type.Array(NodeAttachmentSchema) },
              { title: 'Heartbeat' },
            ),
            ...errorResponses,
          },
        },
      },
      // Not under Idempotency-Key: see NOT_IDEMPOTENT in ../idempotent.ts.
      async (req) => (req.nodeCaller ? app.nodeAccess.heartbeat(req.nodeCaller, req.params.id) : app.attachments.heartbeat(identityOf(req), req.params.id)),
    );
    r.post(
      '/v1/nodes/:id/fence',
      {
        schema: {
          tags: ['nodes'],
          summary: 'Confirm a node down (admin), like Kubernetes’ out-of-service taint: its attachments end at once, so its RWO volumes can move; nothing is attached to it until unfenced',
          params: IdParams,
          body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false })),
          response: { 200: Type.Object({ node: NodeSchema, ended: Type.Array(Type.String()) }, { title: 'NodeFenced' }), ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 200, async () => {
          const { node, ended } = await app.nodeFencing.fence(identityOf(req), req.params.id, req.body?.reason ?? '');
          return { node: app.attachments.nodeView(node), ended };
        }),
    );
    r.post(
      '/v1/nodes/:id/unfence',
      { schema: { tags: ['nodes'], summary: 'Lift an operator’s fence (admin)', params: IdParams, response: { 200: NodeSchema, ...errorResponses } } },
      async (req, reply) => idempotent(app, req, reply, 200, async () => app.attachments.nodeView(await app.nodeFencing.unfence(identityOf(req), req.params.id))),
    );
    r.post(
      '/v1/nodes/:id/self-fence',
      {
        schema: {
          tags: ['nodes'],
          summary: 'An agent reports that it made these attachments’ volumes unwritable on its node; they end, and the volumes may move',
          params: IdParams,
          body: Type.Object(
            { attachments: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 10000 }), fencedAt: Type.String({ format: 'date-time' }) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ ended: Type.Array(Type.String()) }, { title: 'SelfFenceResult' }), ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 200, async () => {
          if (req.nodeCaller) return app.nodeAccess.reportSelfFence(req.nodeCaller, req.params.id, req.body);
          const identity = identityOf(req);
          await app.attachments.assertActsFor(identity, req.params.id);
          return app.nodeFencing.reportSelfFence(req.params.id, identity.kind === 'service' ? identity.service : undefined, req.body);
        }),
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
      // Replays the same credential to the admin scope only, as token issuing does (services.ts).
      async (req, reply) => idempotent(app, req, reply, 201, () => app.nodeAccess.issueCredential(identityOf(req), req.params.id, req.body?.description ?? '')),
    );
  };
}
