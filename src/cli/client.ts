import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { FailoverError, FailoverTransport, networkCode, splitUrls, type FailoverRequest } from '../client/failover.js';
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

/** How long the CLI keeps trying the servers it knows before it gives up (ms). */
export const CLI_DEADLINE_MS = 20_000;
/**
 * How long one attempt waits for a server to connect and answer (ms; `--timeout` / POLLY_TIMEOUT): a
 * hung replica costs this much before the next URL is tried. A request that legitimately takes longer (a
 * create on a slow backend: Cinder waits up to 10 minutes for a volume) is not cut off by it: it carries
 * an Idempotency-Key, so the CLI asks again, hears that it still runs, and waits for its reply until
 * {@link CLI_PROGRESS_DEADLINE_MS}.
 */
export const CLI_ATTEMPT_TIMEOUT_MS = 30_000;
/** How long the CLI waits for a request a server says is still running (ms). */
export const CLI_PROGRESS_DEADLINE_MS = 15 * 60_000;

/**
 * A small typed client for REST v1: bearer token, JSON bodies, errors as ApiError/ConnectionError. Given
 * several server URLs (`a,b,c` or a list), it fails over between them (see client/failover.ts).
 */
export class PollyClient {
  readonly urls: readonly string[];
  readonly #token: string | undefined;
  /** PEM of the CA certificates to trust for an https server (`--ca` / POLLY_CA_FILE); else the system's. */
  readonly #ca: string | undefined;
  readonly #deadlineMs: number;
  readonly #attemptTimeoutMs: number;
  #transport: FailoverTransport | undefined;

  constructor(
    baseUrl: string | readonly string[],
    token?: string,
    opts: { ca?: string | undefined; deadlineMs?: number | undefined; attemptTimeoutMs?: number | undefined } = {},
  ) {
    this.urls = splitUrls(baseUrl);
    if (this.urls.length === 0) throw new Error('PollyClient needs a server URL');
    this.#token = token;
    this.#ca = opts.ca;
    this.#deadlineMs = opts.deadlineMs ?? CLI_DEADLINE_MS;
    this.#attemptTimeoutMs = opts.attemptTimeoutMs ?? CLI_ATTEMPT_TIMEOUT_MS;
  }

  /** The server URL in use: the one that answered last (the first one before any request). */
  get baseUrl(): string {
    return this.#transport?.current ?? (this.urls[0] as string);
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
    const res = await this.#send({ method, path: this.path(path, opts.query), headers, body });
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
    const res = await this.#send({ method: 'GET', path: this.path(path, query), headers, bodyTimeoutMs: 0 });
    if (res.statusCode >= 400) throw toApiError(res.statusCode, await res.body.text());
    return res.body;
  }

  url(path: string, query: Query = {}): string {
    return `${this.baseUrl}${this.path(path, query)}`;
  }

  /** The path with its query string. */
  path(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
    }
    const qs = params.toString();
    return `${path}${qs ? `?${qs}` : ''}`;
  }

  #auth(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}` } : {};
  }

  async #send(req: FailoverRequest) {
    try {
      this.#transport ??= await this.#makeTransport();
      return await this.#transport.request(req);
    } catch (err) {
      if (err instanceof FailoverError) throw toConnectionError(this.urls.length > 1 ? err.tried.join(', ') : err.url, err.cause);
      throw toConnectionError(this.baseUrl, err);
    }
  }

  async #makeTransport(): Promise<FailoverTransport> {
    let dispatcher: Dispatcher | undefined;
    if (this.#ca !== undefined) {
      // undici is loaded on the first request, not at start (see the start-up rows of `npm run bench`).
      const { Agent } = await import('undici');
      dispatcher = new Agent({ connect: { ca: this.#ca, timeout: this.#attemptTimeoutMs } });
    }
    return new FailoverTransport({
      urls: this.urls,
      deadlineMs: this.#deadlineMs,
      dispatcher,
      attemptTimeoutMs: this.#attemptTimeoutMs,
      progressDeadlineMs: CLI_PROGRESS_DEADLINE_MS,
    });
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
  const e = err as { message?: string };
  const code = networkCode(err);
  if (code && REASONS[code]) return new ConnectionError(baseUrl, REASONS[code]);
  if (code && /CERT|SSL|TLS/.test(code)) return new ConnectionError(baseUrl, `TLS: ${e.message ?? code}`);
  if (code) return new ConnectionError(baseUrl, e.message ?? code);
  return err instanceof Error ? err : new Error(String(err));
}
