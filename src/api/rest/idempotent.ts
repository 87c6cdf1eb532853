import type { FastifyReply, FastifyRequest } from 'fastify';
import { IdempotencyUseCases } from '../../app/idempotency.js';
import type { PollyApp } from '../../app/polly-app.js';
import type { IntentOptions } from '../../app/volumes.js';
import type { Volume } from '../../core/types.js';
import { identityOf } from './rest-api.js';

/**
 * Runs a mutating handler under the request's `Idempotency-Key` header, when it has one: a repeat gets
 * the first response again (with `Idempotent-Replayed: true`) and changes nothing.
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
  const fingerprint = IdempotencyUseCases.fingerprint([request.method, request.routeOptions.url, request.params, request.body ?? null]);
  const result = await app.idempotency.run(identityOf(request), key, fingerprint, {
    status,
    volumeView: opts.volumeView,
    run: async (intent) => ({ status, body: await handler(intent) }),
  });
  reply.status(result.status);
  if (result.replayed) reply.header('idempotent-replayed', 'true');
  // The stored body is what this same handler returned the first time.
  return result.body as T;
}
