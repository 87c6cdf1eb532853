import type { Readable } from 'node:stream';
import type { Dispatcher, request } from 'undici';
import { ApiError, ConnectionError } from './errors.js';
import type { Page } from './types.js';

export type Query = Record<string, string | number | boolean | string[] | undefined>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface CallOptions {
  query?: Query | undefined;
  body?: unknown;
  headers?: Record<string, string> | undefined;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response (timed out)',
  UND_ERR_SOCKET: 'connection closed by the server',
};

/** A small typed client for REST v1: bearer token, JSON bodies, errors as ApiError/ConnectionError. */
export class PollyClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  /** PEM of the CA certificates to trust for an https server (`--ca` / POLLY_CA_FILE); else the system's. */
  readonly #ca: string | undefined;
  #dispatcher: Promise<Dispatcher> | undefined;

  constructor(baseUrl: string, token?: string, opts: { ca?: string | undefined } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#ca = opts.ca;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.call<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown = {}, headers?: Record<string, string>): Promise<T> {
    return this.call<T>('POST', path, { body, headers });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, { body });
  }

  async delete(path: string): Promise<void> {
    await this.call<unknown>('DELETE', path);
  }

  /** One page, or every page when `all` (following `nextCursor`). */
  async list<T>(path: string, query: Query = {}, all = false): Promise<Page<T>> {
    const items: T[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.get<Page<T>>(path, { ...query, cursor });
      items.push(...page.items);
      if (!all || !page.nextCursor) return { items, nextCursor: page.nextCursor ?? null };
      cursor = page.nextCursor;
    }
  }

  async call<T>(method: Method, path: string, opts: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#auth(), ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await this.#send(this.url(path, opts.query), { method, headers, body });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw toApiError(res.statusCode, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.statusCode, 'BAD_RESPONSE', `the server at ${this.baseUrl} did not answer JSON`);
    }
  }

  /** Opens a Server-Sent Events stream; the caller reads and destroys the body. */
  async stream(path: string, query: Query = {}, lastEventId?: number): Promise<Readable> {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...this.#auth() };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    const res = await this.#send(this.url(path, query), { method: 'GET', headers, bodyTimeout: 0 });
    if (res.statusCode >= 400) throw toApiError(res.statusCode, await res.body.text());
    return res.body;
  }

  url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
    }
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  #auth(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}` } : {};
  }

  async #send(url: string, opts: Parameters<typeof request>[1]) {
    try {
      // undici is loaded on the first request, not at start (see the start-up rows of `npm run bench`).
      const { request: send, Agent } = await import('undici');
      if (this.#ca === undefined) return await send(url, opts);
      const ca = this.#ca;
      this.#dispatcher ??= Promise.resolve(new Agent({ connect: { ca } }));
      return await send(url, { ...opts, dispatcher: await this.#dispatcher });
    } catch (err) {
      throw toConnectionError(this.baseUrl, err);
    }
  }
}

/** `encodeURIComponent` for ids and names in paths. */
export const seg = (s: string): string => encodeURIComponent(s);

function toApiError(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error.code === 'string') {
      return new ApiError(status, parsed.error.code, String(parsed.error.message ?? ''));
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return new ApiError(status, `HTTP_${status}`, snippet || 'unexpected response');
}

function toConnectionError(baseUrl: string, err: unknown): Error {
  const e = err as { code?: string; message?: string; errors?: Array<{ code?: string }>; cause?: { code?: string } };
  const code = e.code ?? e.errors?.[0]?.code ?? e.cause?.code;
  if (code && REASONS[code]) return new ConnectionError(baseUrl, REASONS[code]);
  if (code && /CERT|SSL|TLS/.test(code)) return new ConnectionError(baseUrl, `TLS: ${e.message ?? code}`);
  if (code) return new ConnectionError(baseUrl, e.message ?? code);
  return err instanceof Error ? err : new Error(String(err));
}
