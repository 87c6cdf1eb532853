import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { BrokerCaller, OsbBinding, OsbInstance } from '../../app/broker.js';
import type { PollyApp } from '../../app/polly-app.js';
import { parseSize } from '../../cli/sizes.js';
import { parseListen } from '../../config/config.js';
import type { OsbConfig } from '../../config/schema.js';
import { PollyError } from '../../core/errors.js';
import { BrokerCredentials } from './auth.js';
import { buildCatalog, defaultServiceId } from './catalog.js';
import { osbError, type StatusOverrides } from './errors.js';

/** The oldest Open Service Broker API this broker speaks (async polling, bind_resource, retrievable objects). */
export const MIN_API_VERSION = { major: 2, minor: 13 };

type Json = Record<string, unknown>;
type Handler = (req: FastifyRequest, caller: BrokerCaller) => Promise<{ status: number; body: unknown }>;

declare module 'fastify' {
  interface FastifyRequest {
    brokerCaller: BrokerCaller | null;
  }
}

export interface OsbOptions {
  logger: Logger;
  https?: { cert: Buffer; key: Buffer } | undefined;
}

export interface OsbServerHandle {
  url: string;
  /** Whether the broker serves https. */
  secure: boolean;
  /** Swaps the https certificate for new connections (no-op on plain http). */
  setSecureContext?(pair: { cert: Buffer; key: Buffer }): void;
  stop(): Promise<void>;
}

function object(value: unknown, what: string): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new PollyError('VALIDATION_FAILED', `${what} must be an object`);
  return value as Json;
}

function requiredString(body: Json, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw new PollyError('VALIDATION_FAILED', `${key} is required`);
  return v;
}

function queryOf(req: FastifyRequest): Record<string, string | undefined> {
  return req.query as Record<string, string | undefined>;
}

function acceptsIncomplete(req: FastifyRequest): boolean {
  return queryOf(req).accepts_incomplete === 'true';
}

/** Reads `parameters.size` (bytes or a human size); every other key is refused, as the plan's schema says. */
function sizeParameter(parameters: Json, allowed: string[]): number | undefined {
  const unknown = Object.keys(parameters).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new PollyError('VALIDATION_FAILED', `unknown parameter(s) ${unknown.join(', ')} (known: ${allowed.join(', ')})`);
  const size = parameters.size;
  if (size === undefined) return undefined;
  if (typeof size === 'number') {
    if (!Number.isSafeInteger(size) || size < 1) throw new PollyError('VALIDATION_FAILED', 'parameters.size must be a whole number of bytes ≥ 1');
    return size;
  }
  if (typeof size !== 'string') throw new PollyError('VALIDATION_FAILED', 'parameters.size must be a number of bytes or a size such as 10GiB');
  try {
    return parseSize(size);
  } catch (err) {
    throw new PollyError('VALIDATION_FAILED', `parameters.size: ${(err as Error).message}`);
  }
}

/** Decodes `X-Broker-API-Originating-Identity: <platform> <base64 JSON>`; a malformed one is a 400. */
function originatingIdentity(header: string | string[] | undefined): BrokerCaller['originatingIdentity'] {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? (header[0] ?? '') : header;
  const m = /^(\S+)\s+(\S+)$/.exec(text.trim());
  try {
    if (!m) throw new Error('not "<platform> <base64 JSON>"');
    const value: unknown = JSON.parse(Buffer.from(m[2] ?? '', 'base64').toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the value is not a JSON object');
    return { platform: m[1] ?? '', value: value as Json };
  } catch (err) {
    throw new PollyError('VALIDATION_FAILED', `X-Broker-API-Originating-Identity: ${(err as Error).message}`);
  }
}

function checkVersion(header: string | string[] | undefined): void {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || text === '') throw new PollyError('VALIDATION_FAILED', `X-Broker-API-Version is required (${MIN_API_VERSION.major}.${MIN_API_VERSION.minor} or later)`);
  const m = /^(\d+)\.(\d+)$/.exec(text.trim());
  const major = m ? Number(m[1]) : NaN;
  const minor = m ? Number(m[2]) : NaN;
  if (major !== MIN_API_VERSION.major || minor < MIN_API_VERSION.minor) {
    throw new PollyError('UNSUPPORTED', `X-Broker-API-Version ${text} is not supported: this broker needs ${MIN_API_VERSION.major}.${MIN_API_VERSION.minor} or a later 2.x`, {
      status: 412,
    });
  }
}

function instanceBody(i: OsbInstance) {
  const { '@target': _t, ...parameters } = i.parameters;
  return {
    service_id: i.serviceId,
    plan_id: i.planId,
    parameters,
    metadata: { labels: { 'polly-volume': i.volumeId ?? '' }, attributes: { profile: i.profile, sizeBytes: i.sizeBytes } },
  };
}

function bindingBody(b: OsbBinding) {
  return { credentials: {}, volume_mounts: b.volumeMounts, parameters: b.parameters };
}

/**
 * The Open Service Broker API v2 (2.13 to 2.17) for Cloud Foundry, a thin adapter over the broker use
 * cases: basic auth per credential (each mapped to a Polly service), the version header, the
 * originating identity recorded in events, and the spec's status codes per endpoint.
 */
export async function buildOsbApi(app: PollyApp, config: OsbConfig, opts: OsbOptions): Promise<FastifyInstance> {
  const credentials = new BrokerCredentials(config.credentials);
  for (const service of credentials.services) await app.services.ensure(service, { 'polly.io/osb': 'true' });
  const serviceName = config.serviceName ?? 'polly';
  const serviceIdOf = (caller: BrokerCaller) => config.serviceId ?? defaultServiceId(serviceName, caller.service);
  if (config.driver !== undefined) app.broker.driverName = config.driver;
  const broker = app.broker;

  const fastify = Fastify({
    loggerInstance: opts.logger.child({ frontend: 'osb' }),
    bodyLimit: 256 * 1024,
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  fastify.decorateRequest('brokerCaller', null);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new PollyError('VALIDATION_FAILED', 'request body is not valid JSON'), undefined);
    }
  });
  fastify.addHook('onRequest', async (req, reply) => {
    const requestIdentity = req.headers['x-broker-api-request-identity'];
    if (typeof requestIdentity === 'string' && requestIdentity !== '') void reply.header('X-Broker-API-Request-Identity', requestIdentity);
    const service = credentials.authenticate(req.headers.authorization);
    checkVersion(req.headers['x-broker-api-version']);
    req.brokerCaller = { service, originatingIdentity: originatingIdentity(req.headers['x-broker-api-originating-identity']) };
  });
  fastify.setErrorHandler((err, _req, reply) => {
    if (err instanceof PollyError && err.code === 'UNAUTHENTICATED') {
      return reply.status(401).header('WWW-Authenticate', 'Basic realm="polly-broker"').send({ description: err.message });
    }
    if (err instanceof PollyError && err.details?.status === 412) return reply.status(412).send({ description: err.message });
    const statusCode = (err as { statusCode?: number }).statusCode;
    if (!(err instanceof PollyError) && statusCode !== undefined && statusCode < 500) {
      return reply.status(statusCode).send({ error: 'BadRequest', description: (err as Error).message });
    }
    if (!(err instanceof PollyError)) opts.logger.error({ err }, 'broker request failed');
    const { status, body } = osbError(err);
    return reply.status(status).send(body);
  });
  fastify.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'NotFound', description: `no route ${req.method} ${req.url.split('?')[0]}` }));

  /** One route: errors are translated with the endpoint's own status overrides. */
  const route = (method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', url: string, overrides: StatusOverrides, handler: Handler) => {
    fastify.route({
      method,
      url,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        try {
          const { status, body } = await handler(req, req.brokerCaller as BrokerCaller);
          return reply.status(status).send(body);
        } catch (err) {
          if (err instanceof PollyError && err.code === 'UNAUTHENTICATED') throw err;
          if (!(err instanceof PollyError)) opts.logger.error({ err, url: req.url }, 'broker request failed');
          const { status, body } = osbError(err, overrides);
          return reply.status(status).send(body);
        }
      },
    });
  };
  const checkServiceId = (caller: BrokerCaller, id: string) => {
    const ours = serviceIdOf(caller);
    if (id !== ours) throw new PollyError('VALIDATION_FAILED', `service_id ${id} is not this broker's service (${ours})`);
  };
  const params = (req: FastifyRequest) => req.params as { instance_id: string; binding_id?: string };
  // Unknown plans and profiles are the caller's mistake here, not a missing resource.
  const badInput: StatusOverrides = { PROFILE_NOT_FOUND: 400, SERVICE_NOT_FOUND: 400 };

  route('GET', '/v2/catalog', {}, async (_req, caller) => ({ status: 200, body: buildCatalog(await broker.plans(caller), { serviceName, serviceId: serviceIdOf(caller), service: caller.service }) }));

  route('PUT', '/v2/service_instances/:instance_id', { ...badInput, INSTANCE_EXISTS: 409 }, async (req, caller) => {
    const body = object(req.body, 'the request body');
    const sid = requiredString(body, 'service_id');
    checkServiceId(caller, sid);
    const parameters = object(body.parameters, 'parameters');
    const answer = await broker.provision(caller, params(req).instance_id, {
      serviceId: sid,
      planId: requiredString(body, 'plan_id'),
      sizeBytes: sizeParameter(parameters, ['size']),
      parameters,
      context: { ...object(body.context, 'context'), ...(typeof body.space_guid === 'string' ? { space_guid: body.space_guid } : {}), ...(typeof body.organization_guid === 'string' ? { organization_guid: body.organization_guid } : {}) },
      acceptsIncomplete: acceptsIncomplete(req),
    });
    return answer.kind === 'accepted' ? { status: 202, body: { operation: answer.operation } } : { status: answer.created ? 201 : 200, body: {} };
  });

  route('GET', '/v2/service_instances/:instance_id', {}, async (req, caller) => ({ status: 200, body: instanceBody(await broker.get(caller, params(req).instance_id)) }));

  route('GET', '/v2/service_instances/:instance_id/last_operation', {}, async (req, caller) => {
    const op = await broker.lastOperation(caller, params(req).instance_id, queryOf(req).operation);
    // A finished delete may also be answered 410; 200 "succeeded" tells the platform the same thing.
    return { status: 200, body: { state: op.state, description: op.description } };
  });

  route('PATCH', '/v2/service_instances/:instance_id', { ...badInput, INSTANCE_NOT_FOUND: 404, VOLUME_BUSY: 422, NO_CAPACITY: 422, QUOTA_EXCEEDED: 422 }, async (req, caller) => {
    const body = object(req.body, 'the request body');
    const sid = requiredString(body, 'service_id');
    checkServiceId(caller, sid);
    const parameters = body.parameters === undefined ? undefined : object(body.parameters, 'parameters');
    const answer = await broker.update(caller, params(req).instance_id, {
      serviceId: sid,
      planId: typeof body.plan_id === 'string' && body.plan_id !== '' ? body.plan_id : undefined,
      sizeBytes: parameters ? sizeParameter(parameters, ['size']) : undefined,
      parameters,
      acceptsIncomplete: acceptsIncomplete(req),
    });
    return answer.kind === 'accepted' ? { status: 202, body: { operation: answer.operation } } : { status: 200, body: {} };
  });

  route('DELETE', '/v2/service_instances/:instance_id', { INSTANCE_NOT_FOUND: 410, VOLUME_BUSY: 422 }, async (req, caller) => {
    const q = queryOf(req);
    if (!q.service_id || !q.plan_id) throw new PollyError('VALIDATION_FAILED', 'service_id and plan_id query parameters are required');
    checkServiceId(caller, q.service_id);
    const answer = await broker.deprovision(caller, params(req).instance_id, { serviceId: q.service_id, planId: q.plan_id, acceptsIncomplete: acceptsIncomplete(req) });
    return answer.kind === 'accepted' ? { status: 202, body: { operation: answer.operation } } : { status: 200, body: {} };
  });

  route('PUT', '/v2/service_instances/:instance_id/service_bindings/:binding_id', { ...badInput, BINDING_EXISTS: 409 }, async (req, caller) => {
    const body = object(req.body, 'the request body');
    const sid = requiredString(body, 'service_id');
    checkServiceId(caller, sid);
    const parameters = object(body.parameters, 'parameters');
    const unknown = Object.keys(parameters).filter((k) => k !== 'mount' && k !== 'readonly');
    if (unknown.length > 0) throw new PollyError('VALIDATION_FAILED', `unknown bind parameter(s) ${unknown.join(', ')} (known: mount, readonly)`);
    if (parameters.mount !== undefined && (typeof parameters.mount !== 'string' || !parameters.mount.startsWith('/') || parameters.mount.includes('..'))) {
      throw new PollyError('VALIDATION_FAILED', 'parameters.mount must be an absolute path in the container, e.g. /data');
    }
    const ro = parameters.readonly;
    if (ro !== undefined && typeof ro !== 'boolean' && ro !== 'true' && ro !== 'false') throw new PollyError('VALIDATION_FAILED', 'parameters.readonly must be true or false');
    const bindResource = object(body.bind_resource, 'bind_resource');
    const appGuid = typeof bindResource.app_guid === 'string' ? bindResource.app_guid : typeof body.app_guid === 'string' ? body.app_guid : undefined;
    const { binding, created } = await broker.bind(caller, params(req).instance_id, params(req).binding_id ?? '', {
      serviceId: sid,
      planId: requiredString(body, 'plan_id'),
      appGuid,
      containerDir: parameters.mount as string | undefined,
      readOnly: ro === true || ro === 'true',
      parameters,
    });
    return { status: created ? 201 : 200, body: bindingBody(binding) };
  });

  route('GET', '/v2/service_instances/:instance_id/service_bindings/:binding_id', {}, async (req, caller) => ({
    status: 200,
    body: bindingBody(await broker.getBinding(caller, params(req).instance_id, params(req).binding_id ?? '')),
  }));

  route('DELETE', '/v2/service_instances/:instance_id/service_bindings/:binding_id', { INSTANCE_NOT_FOUND: 410, BINDING_NOT_FOUND: 410 }, async (req, caller) => {
    const q = queryOf(req);
    if (!q.service_id || !q.plan_id) throw new PollyError('VALIDATION_FAILED', 'service_id and plan_id query parameters are required');
    checkServiceId(caller, q.service_id);
    await broker.unbind(caller, params(req).instance_id, params(req).binding_id ?? '', { serviceId: q.service_id, planId: q.plan_id });
    return { status: 200, body: {} };
  });

  return fastify;
}

/** Builds the broker and listens on its own address; operations left running by a previous process resume. */
export async function startOsbServer(app: PollyApp, config: OsbConfig, opts: OsbOptions): Promise<OsbServerHandle> {
  const fastify = await buildOsbApi(app, config, opts);
  const { host, port } = parseListen(config.listen, 'osb.listen');
  const address = await fastify.listen({ host, port });
  await app.broker.resume(app.ctx.store.dialect === 'sqlite' ? 0 : 60_000);
  opts.logger.info({ url: address }, 'open service broker listening');
  return {
    url: address.startsWith('http') ? address : `${opts.https ? 'https' : 'http'}://${address}`,
    secure: opts.https !== undefined,
    setSecureContext(pair) {
      if (opts.https === undefined) return;
      (fastify.server as unknown as { setSecureContext(p: { cert: Buffer; key: Buffer }): void }).setSecureContext(pair);
    },
    async stop() {
      await fastify.close();
      await app.broker.settle();
    },
  };
}
