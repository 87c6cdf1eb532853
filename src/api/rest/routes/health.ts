import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { Type } from 'typebox';
import { VERSION } from '../../../version.js';
import { errorBody } from '../errors.js';
import { ErrorBody } from '../schemas.js';

const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() }, { title: 'Health' });
const Readiness = Type.Object({ status: Type.Literal('ready'), store: Type.String({ description: 'sqlite or postgres' }) }, { title: 'Readiness' });

export function healthRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    /** Liveness: the process serves HTTP; also the server's version (what `polly version` shows). */
    r.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness, and the server version', security: [], response: { 200: Health } } }, async () => ({ status: 'ok' as const, version: VERSION }));
    /** Readiness: the store answers. */
    r.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: the store answers', security: [], response: { 200: Readiness, 503: ErrorBody } } }, async (_req, reply) => {
      try {
        await app.ctx.store.ping();
        return { status: 'ready' as const, store: app.ctx.store.dialect };
      } catch (err) {
        return reply.status(503).send(errorBody('UNAVAILABLE', `store not reachable: ${(err as Error).message}`));
      }
    });
  };
}
