import type { FastifyError, FastifyInstance } from 'fastify';
import { isPollyError, type ErrorCode } from '../../core/errors.js';

export interface ErrorResponse {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorResponse {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** Fastify's own errors for bad requests, mapped to Polly codes (never a 500 for bad input). */
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'VALIDATION_FAILED' },
};

/** Network errors and PostgreSQL's connection SQLSTATEs (class 08; 57P01–57P03: shut down, crashed, starting). */
const STORE_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', '57P01', '57P02', '57P03']);

/**
 * Whether an unexpected error is the store being out of reach (PostgreSQL down or restarting): that is
 * `503 UNAVAILABLE`, which clients and load balancers retry elsewhere or later, not a 500.
 */
export function isStoreUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; errors?: Array<{ code?: unknown }> } | undefined;
  const code = typeof e?.code === 'string' ? e.code : e?.errors?.[0]?.code;
  if (typeof code === 'string' && (STORE_DOWN_CODES.has(code) || code.startsWith('08'))) return true;
  return typeof e?.message === 'string' && /^Connection terminated|not queryable/.test(e.message);
}

/**
 * One translation of every error into `{"error": {"code", "message"}}` with the catalog's status. A
 * retryable refusal (`details.retryAfterSeconds`) also says when to come back, in `Retry-After`.
 * `allowedMethods` names the methods a path has, so a wrong method is 405, not 404.
 */
export function installErrorHandling(app: FastifyInstance, allowedMethods: (path: string) => string[]): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isPollyError(err)) {
      // 507 (out of capacity or quota) is the caller's answer, not a fault of the server: info, not error.
      if (err.httpStatus >= 500 && err.httpStatus !== 507) request.log.error({ err }, 'request failed');
      const retryAfter = err.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
      return reply.status(err.httpStatus).send(errorBody(err.code, err.message, err.details));
    }
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      const first = err.validation[0];
      const path = first?.instancePath ? first.instancePath.replace(/^\//, '').replaceAll('/', '.') : '';
      let message = `${where}${path ? `.${path}` : ''} ${first?.message ?? 'is invalid'}`;
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      if (first?.keyword === 'additionalProperties' && extra) message = `${where}: unknown field ${JSON.stringify(extra)}`;
      return reply.status(400).send(errorBody('VALIDATION_FAILED', message));
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return reply.status(mapped.status).send(errorBody(mapped.code, err.message));
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody('VALIDATION_FAILED', err.message));
    }
    if (isStoreUnreachable(err)) {
      request.log.error({ err }, 'store not reachable');
      void reply.header('retry-after', '1');
      return reply.status(503).send(errorBody('UNAVAILABLE', `store not reachable: ${err.message}`));
    }
    request.log.error({ err }, 'unexpected error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error; see the server log'));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      void reply.header('allow', allowed.join(', '));
      return reply.status(405).send(errorBody('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`));
    }
    return reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${path}`));
  });
}
