import type * as UndiciModule from 'undici';
import type { Agent } from 'undici';
import { FailoverTransport, splitUrls } from '../client/failover.js';
import { ERROR_CATALOG, PollyError, type ErrorCode } from '../core/errors.js';

// undici loads on the first call, not at import: the agent's Docker plugin socket listens sooner.
type Undici = typeof UndiciModule;
let undici: Promise<Undici> | undefined;
const loadUndici = (): Promise<Undici> => (undici ??= import('undici'));

/** How long one agent call keeps trying the servers it knows (ms): well inside a lease's renewal margin. */
export const AGENT_DEADLINE_MS = 15_000;
/** How long one attempt waits for a server to connect and answer (ms), unless `--timeout` says otherwise. */
export const AGENT_ATTEMPT_TIMEOUT_MS = 15_000;

/**
 * The agent's REST v1 client: JSON in and out, a bearer token, server errors re-raised as PollyErrors.
 * Several server URLs (`a,b,c`) are failed over between (see client/failover.ts).
 */
export class ServerClient {
  readonly #urls: string[];
  readonly #token: string;
  readonly #ca: string | undefined;
  /** Its own connection pool, closed with the agent (so a stopping server is not kept waiting by idle sockets); made on the first call. */
  #dispatcher: Agent | undefined;
  #transport: FailoverTransport | undefined;
  readonly #deadlineMs: number;
  readonly #attemptTimeoutMs: number;

  /** `ca`: PEM of the CA certificates to trust for an https server (else the system's). */
  constructor(url: string | readonly string[], token: string, opts: { ca?: string | undefined; deadlineMs?: number | undefined; attemptTimeoutMs?: number | undefined } = {}) {
    this.#urls = splitUrls(url);
    if (this.#urls.length === 0) throw new Error('ServerClient needs a server URL');
    this.#deadlineMs = opts.deadlineMs ?? AGENT_DEADLINE_MS;
    this.#attemptTimeoutMs = opts.attemptTimeoutMs ?? AGENT_ATTEMPT_TIMEOUT_MS;
    this.#token = token;
    this.#ca = opts.ca;
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const { Agent } = await loadUndici();
    const timeout = this.#attemptTimeoutMs;
    this.#dispatcher ??= new Agent({ keepAliveTimeout: 10_000, connect: { timeout, ...(this.#ca !== undefined ? { ca: this.#ca } : {}) } });
    this.#transport ??= new FailoverTransport({ urls: this.#urls, deadlineMs: this.#deadlineMs, dispatcher: this.#dispatcher, attemptTimeoutMs: timeout });
    let res;
    try {
      res = await this.#transport.request({
        method,
        path,
        headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        bodyTimeoutMs: this.#attemptTimeoutMs,
      });
    } catch (err) {
      throw new PollyError('UNAVAILABLE', `polly server ${this.#urls.join(', ')}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    const parsed: unknown = text === '' ? null : JSON.parse(text);
    if (res.statusCode >= 400) {
      const e = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
      const code = (e?.code && Object.hasOwn(ERROR_CATALOG, e.code) ? e.code : 'INTERNAL') as ErrorCode;
      throw new PollyError(code, e?.message ?? `polly server answered ${res.statusCode}`, e?.details);
    }
    return parsed as T;
  }
}
