import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { PollyApp } from '../../app/polly-app.js';
import { PollyError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { Identity, NodeIdentity } from '../../core/types.js';
import { currentScope, formatActor, runInScope } from '../../app/request-scope.js';
import { installBodyParser, MAX_BODY_BYTES } from './body-parser.js';
import { installErrorHandling } from './errors.js';
import { clientErrorHandler, frameworkErrors, MAX_PARAM_LENGTH, trackRoutes } from './framework-errors.js';
import { registerMetrics } from './metrics.js';
import { finishOpenApiDocument } from './openapi.js';
import { registerDashboard } from './dashboard.js';
import { identityRoutes } from './routes/identity.js';
import { validatorCompiler } from './validation.js';
import { adminObjectRoutes } from './routes/admin-objects.js';
import { attachmentRoutes } from './routes/attachments.js';
import { mesosProfileRoutes } from './routes/mesos-profiles.js';
import { nodeRoutes } from './routes/nodes.js';
import { eventRoutes } from './routes/events.js';
import { ownershipRoutes } from './routes/ownership.js';
import { schedulingRoutes } from './routes/scheduling.js';
import { healthRoutes } from './routes/health.js';
import { poolRoutes } from './routes/pools.js';
import { serviceRoutes } from './routes/services.js';
import { groupSnapshotRoutes } from './routes/group-snapshots.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { lazySerializerFactory } from './lazy-serializer.js';
import { volumeRoutes } from './routes/volumes.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null;
    /** Set instead of `identity` for a node credential; only the routes a node agent uses accept it. */
    nodeCaller: NodeIdentity | null;
  }
}

export type RestApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface RestOptions {
  logger: Logger;
  version: string;
  https?: { cert: Buffer; key: Buffer } | undefined;
}

/** The identity of an authenticated request (every /v1 route is authenticated by the hook below). */
export function identityOf(request: FastifyRequest): Identity {
  if (request.nodeCaller) {
    throw new PollyError('FORBIDDEN', `a node credential (node ${request.nodeCaller.node}) may only register, heartbeat and mount for its node`);
  }
  if (!request.identity) throw new PollyError('UNAUTHENTICATED', 'missing bearer token');
  return request.identity;
}

/**
 * One JSON line per request: method, route (the pattern, not the URL with ids), status, ms, request id
 * (`reqId`, from the request's child logger) and actor. A client error (4xx) or a refusal for capacity
 * (507) is `info`; a server fault (5xx) is `error`. Health probes and scrapes are `debug`, as they come
 * every few seconds and say nothing.
 */
function accessLog(request: FastifyRequest, status: number, elapsedMs: number): void {
  const route = request.routeOptions.url ?? 'unmatched';
  const line = { method: request.method, route, status, ms: Math.round(elapsedMs * 10) / 10, actor: formatActor(currentScope()?.actor) };
  if (status >= 500 && status !== 507) request.log.error(line, 'request');
  else if (route === '/healthz' || route === '/readyz' || route === '/metrics') request.log.debug(line, 'request');
  else request.log.info(line, 'request');
}

/** Builds the REST v1 API (not listening yet). Each surface is one plugin, registered explicitly. */
export async function buildRestApi(app: PollyApp, opts: RestOptions): Promise<RestApp> {
  const fastify = Fastify({
    loggerInstance: opts.logger,
    // Fastify's two lines per request are replaced by one access-log line (see accessLog below).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // A caller's own x-request-id (a proxy's, a CLI's) is kept, so one id follows a change end to end.
    requestIdHeader: 'x-request-id',
    genReqId: () => newId('req'),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler,
    frameworkErrors,
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory() } },
    ...(opts.https ? { https: opts.https } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as RestApp;
  fastify.setValidatorCompiler(validatorCompiler());

  installBodyParser(fastify);
  installErrorHandling(fastify, trackRoutes(fastify));
  fastify.decorateRequest('identity', null);
  fastify.decorateRequest('nodeCaller', null);
  // Everything a request does runs in its scope, so the events it writes carry its actor and request id.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    runInScope({ requestId: request.id, actor: null }, done);
  });
  fastify.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const { caller, tokenId } = await app.services.authenticateToken(token);
    if (caller.kind === 'node') request.nodeCaller = caller;
    else request.identity = caller;
    const scope = currentScope();
    if (scope) {
      scope.actor =
        caller.kind === 'node'
          ? { kind: 'node', node: caller.node, tokenId }
          : caller.kind === 'service'
            ? { kind: 'service', service: caller.service, tokenId }
            : { kind: 'admin', tokenId };
    }
  });

  fastify.addHook('onResponse', async (request, reply) => accessLog(request, reply.statusCode, reply.elapsedTime));

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Polly REST API',
        version: opts.version,
        description: 'Polymorphic volume scheduler: REST v1. Every error is `{"error": {"code", "message"}}` with a stable code.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: 'http://127.0.0.1:7978', description: 'the default listen address' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'the admin token, or a service token from POST /v1/services/{name}/tokens' },
        },
      },
      security: [{ bearer: [] }],
    },
    transformObject: (doc) => ('openapiObject' in doc ? finishOpenApiDocument(doc.openapiObject) : doc.swaggerObject),
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());

  registerMetrics(fastify, app);
  await fastify.register(healthRoutes(app));
  await fastify.register(serviceRoutes(app));
  await fastify.register(poolRoutes(app));
  await fastify.register(volumeRoutes(app));
  await fastify.register(snapshotRoutes(app));
  await fastify.register(groupSnapshotRoutes(app));
  await fastify.register(eventRoutes(app));
  await fastify.register(adminObjectRoutes(app));
  await fastify.register(schedulingRoutes(app));
  await fastify.register(ownershipRoutes(app));
  await fastify.register(attachmentRoutes(app));
  await fastify.register(nodeRoutes(app));
  await fastify.register(identityRoutes());
  await registerDashboard(fastify);
  await fastify.register(mesosProfileRoutes(app));
  return fastify;
}
