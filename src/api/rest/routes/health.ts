import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { VERSION } from '../../../version.js';
import { errorBody } from '../errors.js';

export function healthRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    /** Liveness: the process serves HTTP; also the server's version (what `polly version` shows). */
    r.get('/healthz', { schema: { tags: ['health'], security: [] } }, async () => ({ status: 'ok', version: VERSION }));
    /** Readiness: the store answers. */
    r.get('/readyz', { schema: { tags: ['health'], security: [] } }, async (_req, reply) => {
      try {
        await app.ctx.store.ping();
        return { status: 'ready', store: app.ctx.store.dialect };
      } catch (err) {
        return reply.status(503).send(errorBody('UNAVAILABLE', `store not reachable: ${(err as Error).message}`));
      }
    });
  };
}
