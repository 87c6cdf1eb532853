import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PollyError } from '../../core/errors.js';

/** Deepest nesting of arrays and objects a request body may have: Polly's own bodies need 3. */
export const MAX_BODY_DEPTH = 32;

/** Largest request body, checked while it is read (Content-Length first): Polly's bodies are small. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * How deep a JSON text nests, counted over its characters without parsing (so without recursion): strings
 * are skipped, escapes included. Stops as soon as `limit` is passed.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return media === '' || media === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

/**
 * The only body parser of the REST API: JSON (`application/json`, `…+json`, or no content type, as some
 * tools send), bounded in depth before it is parsed, parsed with fastify's prototype-poisoning guard.
 * Any other media type with a body is 415; an empty body is no body.
 *
 * A POST, PUT or PATCH without a body (`curl -X POST …/tokens` sends neither a body nor a content type)
 * reaches a route whose schema takes an object body as `{}`: an action with only optional fields needs
 * none, and a route with required fields names them instead of answering "body must be object".
 */
export function installBodyParser(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (req: FastifyRequest, body: string | Buffer, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    const contentType = req.headers['content-type'];
    if (!isJsonMediaType(contentType)) {
      return done(new PollyError('UNSUPPORTED_MEDIA_TYPE', `content type ${JSON.stringify(contentType)} is not supported; send application/json`), undefined);
    }
    if (jsonDepthExceeds(text, MAX_BODY_DEPTH)) {
      return done(new PollyError('VALIDATION_FAILED', `body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
    }
    parseJson(req, text, (err: Error | null, value?: unknown) => {
      if (err) return done(new PollyError('INVALID_JSON', 'request body is not valid JSON'), undefined);
      done(null, value);
    });
  });
  fastify.addHook('preValidation', async (req) => {
    if (req.body === undefined && BODY_METHODS.has(req.method) && takesObjectBody(req.routeOptions.schema?.body)) req.body = {};
  });
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Whether a route's body schema is an object (or optional object), so `{}` is the empty body. */
function takesObjectBody(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'object';
}
