import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { PollyError } from '../../../core/errors.js';
import type { Labels, Volume, VolumeStatus } from '../../../core/types.js';
import { idempotent, idempotentNoContent } from '../idempotent.js';
import { identityOf } from '../rest-api.js';
import { Bytes, CreateVolumeBody, errorResponses, IdParams, LabelMap, Name, pageOf, PageQuery, VolumeSchema, VolumeStatusSchema } from '../schemas.js';

/** `?label=k=v&label=k2=v2` → {k: v, k2: v2}. */
export function parseSelectors(kind: string, values: string[] | undefined): Labels | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Labels = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 1) throw new PollyError('VALIDATION_FAILED', `${kind} selector ${JSON.stringify(v)} must look like key=value`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** What the API shows of a volume: the backend id is an implementation detail of the pool. */
export function volumeView(v: Volume): Omit<Volume, 'backendId'> {
  const { backendId: _backendId, ...view } = v;
  return view;
}

export function volumeRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.post(
      '/v1/volumes',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Create a volume (placed by profile and capacity). Honours Idempotency-Key.',
          body: CreateVolumeBody,
          response: { 201: VolumeSchema, ...errorResponses },
        },
      },
      async (req, reply) =>
        idempotent(app, req, reply, 201, async (intent) => volumeView(await app.volumes.create(identityOf(req), req.body, intent)), { volumeView }),
    );
    r.get(
      '/v1/volumes',
      {
        schema: {
          tags: ['volumes'],
          summary: 'List volumes, filtered and paged by cursor',
          querystring: Type.Object(
            {
              label: Type.Optional(Type.Array(Type.String(), { description: 'key=value, repeatable' })),
              field: Type.Optional(Type.Array(Type.String(), { description: 'key=value, repeatable' })),
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'exactly this volume name (unique per service; the admin may find one in several services)' })),
              status: Type.Optional(VolumeStatusSchema),
              pool: Type.Optional(Name),
              service: Type.Optional(Name),
              shared: Type.Optional(Type.Boolean({ description: 'volumes other services shared with the caller, instead of its own' })),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: { 200: pageOf(VolumeSchema), ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query;
        // A node credential sees exactly the volumes it may mount (few: no paging).
        if (req.nodeCaller) return { items: (await app.nodeAccess.volumes(req.nodeCaller)).map(volumeView), nextCursor: null };
        const page = await app.volumes.list(identityOf(req), {
          labels: parseSelectors('label', q.label),
          fields: parseSelectors('field', q.field),
          name: q.name,
          status: q.status as VolumeStatus | undefined,
          pool: q.pool,
          service: q.service,
          shared: q.shared,
          limit: q.limit,
          cursor: q.cursor,
        });
        return { items: page.items.map(volumeView), nextCursor: page.nextCursor };
      },
    );
    r.get(
      '/v1/volumes/:id',
      { schema: { tags: ['volumes'], params: IdParams, response: { 200: VolumeSchema, ...errorResponses } } },
      async (req) => volumeView(await (req.nodeCaller ? app.nodeAccess.volume(req.nodeCaller, req.params.id) : app.volumes.get(identityOf(req), req.params.id))),
    );
    r.patch(
      '/v1/volumes/:id',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Replace labels and/or fields',
          params: IdParams,
          body: Type.Object({ labels: Type.Optional(LabelMap), fields: Type.Optional(LabelMap) }, { additionalProperties: false }),
          response: { 200: VolumeSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, async () => volumeView(await app.volumes.update(identityOf(req), req.params.id, req.body))),
    );
    r.post(
      '/v1/volumes/:id/expand',
      {
        schema: {
          tags: ['volumes'],
          summary: 'Grow a volume',
          params: IdParams,
          body: Type.Object({ sizeBytes: Bytes }, { additionalProperties: false }),
          response: { 200: VolumeSchema, ...errorResponses },
        },
      },
      async (req, reply) => idempotent(app, req, reply, 200, async () => volumeView(await app.volumes.expand(identityOf(req), req.params.id, req.body.sizeBytes))),
    );
    r.delete(
      '/v1/volumes/:id',
      { schema: { tags: ['volumes'], summary: 'Delete a volume and its data', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
      async (req, reply) => idempotentNoContent(app, req, reply, (intent) => app.volumes.remove(identityOf(req), req.params.id, intent)),
    );
  };
}
