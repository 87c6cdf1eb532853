import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import type { Identity } from '../../../core/types.js';
import { identityOf } from '../rest-api.js';
import { errorResponses, EventSchema } from '../schemas.js';

const HEARTBEAT_MS = 15_000;
const BATCH = 500;

/** A tenant sees its own events only; the admin sees everything (or one service). */
function eventScope(identity: Identity, requested: string | undefined): string | undefined {
  return identity.kind === 'service' ? identity.service : requested;
}

function splitTypes(types: string[] | undefined): string[] | undefined {
  const out = (types ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  return out.length > 0 ? out : undefined;
}

export function eventRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.get(
      '/v1/events',
      {
        schema: {
          tags: ['events'],
          summary: 'Every state change. With `Accept: text/event-stream` a live Server-Sent Events stream (resumes from Last-Event-ID); otherwise a JSON page.',
          querystring: Type.Object(
            {
              type: Type.Optional(Type.Array(Type.String(), { description: 'event type or prefix (volume, offer, volume.created), repeatable or comma-separated' })),
              after: Type.Optional(Type.Integer({ minimum: 0, description: 'only events with a larger seq' })),
              object: Type.Optional(Type.String({ maxLength: 200 })),
              service: Type.Optional(Type.String({ maxLength: 128 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(EventSchema) }), ...errorResponses },
        },
      },
      async (req, reply) => {
        const identity = identityOf(req);
        const lastId = Number(req.headers['last-event-id']);
        const filter = {
          service: eventScope(identity, req.query.service),
          types: splitTypes(req.query.type),
          objectId: req.query.object,
          afterSeq: Number.isSafeInteger(lastId) && lastId >= 0 ? lastId : req.query.after,
        };
        if (!(req.headers.accept ?? '').includes('text/event-stream')) {
          return { items: await app.events.list(filter, req.query.limit ?? 100) };
        }

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        // Without a starting point a new subscriber gets only what happens from now on.
        let seq = filter.afterSeq ?? (await latestSeq(app));
        let pumping = false;
        let again = false;
        let closed = false;
        const pump = async () => {
          if (pumping) {
            again = true;
            return;
          }
          pumping = true;
          try {
            do {
              again = false;
              for (;;) {
                const batch = await app.events.list({ ...filter, afterSeq: seq }, BATCH);
                for (const e of batch) {
                  if (closed) return;
                  res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
                  seq = e.seq;
                }
                if (batch.length < BATCH) break;
              }
            } while (again && !closed);
          } catch (err) {
            req.log.warn({ err }, 'event stream read failed');
          } finally {
            pumping = false;
          }
        };
        res.write(`: polly event stream\nretry: 2000\n\n`);
        const unsubscribe = app.events.subscribe(() => void pump());
        const heartbeat = setInterval(() => res.write(`: keep-alive\n\n`), HEARTBEAT_MS);
        heartbeat.unref();
        const close = () => {
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
        };
        req.raw.on('close', close);
        res.on('close', close);
        await pump();
      },
    );
  };
}

async function latestSeq(app: PollyApp): Promise<number> {
  const row = await app.ctx.store.db
    .selectFrom('events')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}
