import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { errorBody } from './errors.js';
import type { RestApp } from './rest-api.js';

/**
 * The built web dashboard (`npm run build:web` → web/dist), found by walking up from this module so it
 * works from the TypeScript sources and from a compiled build alike.
 */
export function dashboardRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'web', 'dist');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** Serves the dashboard at /ui/ (static files; it talks to REST v1 with the token the user signs in with). */
export async function registerDashboard(fastify: RestApp, root: string | undefined = dashboardRoot()): Promise<void> {
  fastify.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  if (!root) {
    fastify.get('/ui/*', { schema: { hide: true } }, async (_req, reply) =>
      reply.status(503).send(errorBody('UNAVAILABLE', 'the web dashboard is not built: run `npm run build:web`')),
    );
    return;
  }
  await fastify.register(fastifyStatic, { root, prefix: '/ui/', decorateReply: false, index: ['index.html'], cacheControl: false });
}
