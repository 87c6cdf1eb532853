import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOG, type ErrorCode } from '../../core/errors.js';
import { errorBody } from './errors.js';

/** Longest path parameter the router takes; the route schemas bound ids and names tighter (400). */
export const MAX_PARAM_LENGTH = 1024;

/**
 * Requests Node's HTTP parser refuses before fastify sees them (a NUL in the request line, a bad
 * Content-Length, headers over the limit, a client too slow to send its headers) are answered here, on
 * the raw socket, in the same `{"error":{"code","message"}}` shape as every other reply.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  let code: ErrorCode = 'BAD_REQUEST';
  let message = `malformed HTTP request (${err.code ?? 'parse error'})`;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    code = 'HEADERS_TOO_LARGE';
    message = 'request headers are larger than the server accepts';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    code = 'REQUEST_TIMEOUT';
    message = 'the request was not received in time';
  }
  const status = ERROR_CATALOG[code].httpStatus;
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Router-level rejections (bad percent-encoding, an over-long parameter) in the error shape. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
      : err.code === 'FST_ERR_BAD_URL'
        ? `the path ${JSON.stringify(request.raw.url?.split('?')[0] ?? '')} is not valid percent-encoding`
        : err.message;
  void reply.status(400).send(errorBody('VALIDATION_FAILED', message));
}

interface RoutePattern {
  methods: Set<string>;
  regex: RegExp;
}

/**
 * Remembers every route's path pattern so an unknown method on a known path is 405 with `Allow`, not 404.
 * Must be installed before the routes are registered.
 */
export function trackRoutes(fastify: FastifyInstance): (path: string) => string[] {
  const patterns = new Map<string, RoutePattern>();
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let p = patterns.get(route.url);
    if (!p) {
      const source = route.url
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      p = { methods: new Set(), regex: new RegExp(`^${source}$`) };
      patterns.set(route.url, p);
    }
    for (const m of methods) p.methods.add(m);
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const p of patterns.values()) if (p.regex.test(path)) for (const m of p.methods) allowed.add(m);
    return [...allowed].sort();
  };
}
