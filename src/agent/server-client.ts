import type * as UndiciModule from 'undici';
import type { Agent } from 'undici';
import { ERROR_CATALOG, PollyError, type ErrorCode } from '../core/errors.js';

// undici loads on the first call, not at import: the agent's Docker plugin socket listens sooner.
type Undici = typeof UndiciModule;
let undici: Promise<Undici> | undefined;
const loadUndici = (): Promise<Undici> => (undici ??= import('undici'));

/** The agent's REST v1 client: JSON in and out, a bearer token, server errors re-raised as PollyErrors. */
export class ServerClient {
  readonly #url: string;
  readonly #token: string;
  readonly #ca: string | undefined;
  /** Its own connection pool, closed with the agent (so a stopping server is not kept waiting by idle sockets); made on the first call. */
  #dispatcher: Agent | undefined;

  /** `ca`: PEM of the CA certificates to trust for an https server (else the system's). */
  constructor(url: string, token: string, opts: { ca?: string | undefined } = {}) {
    this.#url = url.replace(/\/+$/, '');
    this.#token = token;
    this.#ca = opts.ca;
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const { Agent, request } = await loadUndici();
    this.#dispatcher ??= new Agent({ keepAliveTimeout: 10_000, ...(this.#ca !== undefined ? { connect: { ca: this.#ca } } : {}) });
    let res;
    try {
      res = await request(`${this.#url}${path}`, {
        method,
        dispatcher: this.#dispatcher,
        headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
    } catch (err) {
      throw new PollyError('UNAVAILABLE', `polly server ${this.#url}: ${(err as Error).message}`);
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
