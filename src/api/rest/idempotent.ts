import type { FastifyReply, FastifyRequest } from 'fastify';
import { IdempotencyUseCases } from '../../app/idempotency.js';
import type { PollyApp } from '../../app/polly-app.js';
import type { IntentOptions } from '../../app/volumes.js';
import type { Volume } from '../../core/types.js';
import { identityOf } from './rest-api.js';

/**
 * Runs a mutating handler under the request's `Idempotency-Key` header, when it has one: a repeat (same
 * caller, key, method, route, path parameters, query and body) gets the first response again, with
 * `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused with
 * IDEMPOTENCY_KEY_REUSED. Keys are scoped per caller (admin, service, node credential): a reply that
 * carries a secret (an issued token) is replayed only to the caller that got it first.
 */
export async function idempotent<T>(
  app: PollyApp,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  handler: (intent: IntentOptions) => Promise<T>,
  opts: { volumeView?: (v: Volume) => unknown } = {},
): Promise<T> {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '') {
    const body = await handler({});
    reply.status(status);
    return body;
  }
  const caller = request.nodeCaller ?? identityOf(request);
  const fingerprint = IdempotencyUseCases.fingerprint([request.method, request.routeOptions.url, request.params, request.query ?? null, request.body ?? null]);
  const result = await app.idempotency.run(caller, key, fingerprint, {
    status,
    volumeView: opts.volumeView,
    run: async (intent) => ({ status, body: await handler(intent) }),
  });
  reply.status(result.status);
  if (result.replayed) reply.header('idempotent-replayed', 'true');
  // The stored body is what this same handler returned the first time.
  return result.body as T;
}

/**
 * {@link idempotent} for a route that answers 204 and no body. A replayed failure (a delete that failed
 * for good) keeps its own status and error body.
 */
export async function idempotentNoContent(
  app: PollyApp,
  request: FastifyRequest,
  reply: FastifyReply,
  handler: (intent: IntentOptions) => Promise<unknown>,
): Promise<void> {
  const body = await idempotent<unknown>(app, request, reply, 204, async (intent) => {
    await handler(intent);
    return null;
  });
  void reply.send(reply.statusCode === 204 ? null : body);
}
