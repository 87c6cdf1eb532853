import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import { Type } from 'typebox';
import { VERSION } from '../../../version.js';
import { errorBody } from '../errors.js';
import { ErrorBody } from '../schemas.js';

const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() }, { title: 'Health' });
/** A store that does not answer within this is not ready (a hung PostgreSQL must not hang the probe). */
const READY_TIMEOUT_MS = 2_000;

const Readiness = Type.Object({ status: Type.Literal('ready'), store: Type.String({ description: 'sqlite or postgres' }) }, { title: 'Readiness' });

export function healthRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    /** Liveness: the process serves HTTP; also the server's version (what `polly version` shows). */
    r.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness, and the server version', security: [], response: { 200: Health } } }, async () => ({ status: 'ok' as const, version: VERSION }));
    /**
     * Readiness: the store answers. On PostgreSQL every replica says 503 while the database is out of
     * reach and 200 again once it answers (the pool reconnects; nothing restarts).
     */
    r.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: the store answers', security: [], response: { 200: Readiness, 503: ErrorBody } } }, async (_req, reply) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          app.ctx.store.ping(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
          }),
        ]);
        return { status: 'ready' as const, store: app.ctx.store.dialect };
      } catch (err) {
        return reply.status(503).send(errorBody('UNAVAILABLE', `store not reachable: ${(err as Error).message}`));
      } finally {
        clearTimeout(timer);
      }
    });
  };
}
