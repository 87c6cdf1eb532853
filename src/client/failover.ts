import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';

/**
 * Several Polly server URLs (replicas on one PostgreSQL) behind one request function. The rules:
 *
 * - a connection that could not be made (refused, no route, name not found, connect timeout) never reached
 *   a server: the next URL is tried at once, for every method;
 * - a connection lost after the request went out (reset, closed, no answer in time) and an HTTP 502, 503
 *   or 504 from a proxy or a replica that lost its store are retried on the next URL only when a retry is
 *   safe: GET and HEAD, or a request carrying an `Idempotency-Key`;
 * - every mutating request gets `Idempotency-Key: polly-<uuid>` when it has none, so all of them are safe
 *   to retry: the server answers a repeat with the first reply, whichever replica served it;
 * - a `409 IDEMPOTENCY_IN_PROGRESS` after a retry means the first attempt still runs (or a new leader is
 *   finishing it): it is asked again, after the backoff or `Retry-After`, whichever is shorter;
 * - each attempt waits at most `attemptTimeoutMs` for the connection and for the answer's headers (a
 *   replica that hangs, e.g. SIGSTOPped, accepts connections in the kernel but never answers): then it
 *   counts as lost, and the next URL is tried;
 * - between rounds over the URLs the wait doubles from 100 ms to 1 s, and no attempt starts after the
 *   deadline — except the first one on a URL this call has not tried yet, so that one hung replica cannot
 *   use up the deadline of a call that another replica would answer;
 * - a request a server says is still running (409 IDEMPOTENCY_IN_PROGRESS: a slow create, whose first
 *   attempt timed out) is asked again until `progressDeadlineMs`: it finishes on the server either way,
 *   and the answer is its reply;
 * - with a single URL, a refused connection is reported at once (nothing else to try; a mistyped URL
 *   should not take the whole deadline to say so).
 *
 * The URL that answered last is tried first next time.
 */

export interface FailoverOptions {
  /** Base URLs, tried in this order from the one that answered last. */
  urls: readonly string[];
  /** No new attempt starts this long after the call began (ms). */
  deadlineMs: number;
  /** The undici dispatcher (TLS settings, pool); undici's global one when absent. */
  dispatcher?: Dispatcher | undefined;
  /**
   * Connect and headers timeout of each attempt (ms); undici's defaults (10 s connect, 300 s headers) when
   * absent. The connect part applies to the transport's own dispatcher; a caller that passes
   * `dispatcher` sets its connect timeout there.
   */
  attemptTimeoutMs?: number | undefined;
  /** How long after the call began a request still running on the server is asked again (ms; default `deadlineMs`). */
  progressDeadlineMs?: number | undefined;
  /** First wait after a failed round, doubled up to `maxBackoffMs`. */
  initialBackoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
  /** Add `Idempotency-Key: polly-<uuid>` to mutating requests without one (default true). */
  idempotencyKeys?: boolean | undefined;
}

export interface FailoverRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string> | undefined;
  /** A string, so that it can be sent again. */
  body?: string | undefined;
  /** Body timeout (ms; 0: none, for streams). */
  bodyTimeoutMs?: number | undefined;
}

export interface FailoverResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The base URL that answered. */
  url: string;
  /** Attempts made, this one included. */
  attempts: number;
}

/** No URL gave an answer before the deadline (or a failure that is not safe to retry): `cause` is the last error. */
export class FailoverError extends Error {
  constructor(
    /** The base URL of the last attempt. */
    readonly url: string,
    readonly tried: readonly string[],
    override readonly cause: unknown,
  ) {
    super(`no Polly server answered (${tried.join(', ')}): ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'FailoverError';
  }
}

/** Errors where the connection was never made: nothing reached a server. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);
/** Errors after the request may have gone out: a retry is safe only for safe or keyed requests. */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

/** The error code of an undici/Node network error (also inside AggregateError and `cause`). */
export function networkCode(err: unknown): string | undefined {
  const e = err as { code?: string; errors?: Array<{ code?: string }>; cause?: { code?: string } } | undefined;
  return e?.code ?? e?.errors?.[0]?.code ?? e?.cause?.code;
}

/** `a,b` and repeated values alike: trimmed, without trailing slashes, without empties and repeats. */
export function splitUrls(values: string | readonly string[]): string[] {
  const list = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(','));
  const out: string[] = [];
  for (const raw of list) {
    const url = raw.trim().replace(/\/+$/, '');
    if (url !== '' && !out.includes(url)) out.push(url);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FailoverTransport {
  readonly urls: readonly string[];
  readonly #opts: FailoverOptions;
  /** Index of the URL that answered last. */
  #current = 0;
  /** The dispatcher made for `attemptTimeoutMs` when none was given. */
  #dispatcher: Dispatcher | undefined;

  constructor(opts: FailoverOptions) {
    if (opts.urls.length === 0) throw new Error('FailoverTransport needs at least one URL');
    this.urls = opts.urls.map((u) => u.replace(/\/+$/, ''));
    this.#opts = opts;
  }

  /** The URL tried first by the next request. */
  get current(): string {
    return this.urls[this.#current] as string;
  }

  async request(req: FailoverRequest): Promise<FailoverResponse> {
    const { request: send, Agent } = await import('undici');
    const started = Date.now();
    const deadline = started + this.#opts.deadlineMs;
    const progressDeadline = started + Math.max(this.#opts.deadlineMs, this.#opts.progressDeadlineMs ?? 0);
    const attemptTimeout = this.#opts.attemptTimeoutMs;
    if (!this.#opts.dispatcher && attemptTimeout !== undefined) this.#dispatcher ??= new Agent({ connect: { timeout: attemptTimeout } });
    const dispatcher = this.#opts.dispatcher ?? this.#dispatcher;
    const headers: Record<string, string> = { ...req.headers };
    const safeMethod = req.method === 'GET' || req.method === 'HEAD';
    let autoKey = false;
    let keyed = Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
    if (!safeMethod && !keyed && this.#opts.idempotencyKeys !== false) {
      headers['idempotency-key'] = `polly-${randomUUID()}`;
      autoKey = true;
      keyed = true;
    }
    const retrySafe = safeMethod || keyed;
    let backoff = this.#opts.initialBackoffMs ?? 100;
    const maxBackoff = this.#opts.maxBackoffMs ?? 1_000;
    const tried: string[] = [];
    let lastError: unknown;
    /** The last 502/503/504 (its body kept readable): the answer when the deadline passes. */
    let lastResponse: FailoverResponse | undefined;
    let attempts = 0;
    // Failures since the last wait: a full round of them (every URL) waits before the next round.
    let failuresInRound = 0;
    const wait = async (ms: number, until = deadline) => {
      const left = until - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(ms, left));
      return Date.now() < until;
    };
    /** URLs where this (keyed) request timed out, and those of them asked again since. */
    const timedOut = new Set<string>();
    const reasked = new Set<string>();
    /**
     * Past the deadline, an attempt still starts on a URL this call has not tried yet, and once more on
     * one where a keyed request timed out: a slow request (a create on a slow backend) answers that it
     * still runs, and is then waited for until the progress deadline; a hung server times out again.
     */
    const mayStartLate = (u: string) => !tried.includes(u) || (timedOut.has(u) && !reasked.has(u));
    const giveUp = (url: string): FailoverResponse => {
      if (lastResponse) return lastResponse;
      throw new FailoverError(url, tried, lastError);
    };
    for (;;) {
      const index = this.#current;
      const url = this.urls[index] as string;
      attempts++;
      if (!tried.includes(url)) tried.push(url);
      let waitMs = 0;
      try {
        const res = await send(`${url}${req.path}`, {
          method: req.method,
          headers,
          body: req.body,
          ...(dispatcher ? { dispatcher } : {}),
          ...(attemptTimeout !== undefined ? { headersTimeout: attemptTimeout } : {}),
          // A body stalled half-way is bounded alike (0 for a stream that is meant to stay open).
          ...(req.bodyTimeoutMs !== undefined ? { bodyTimeout: req.bodyTimeoutMs } : attemptTimeout !== undefined ? { bodyTimeout: attemptTimeout } : {}),
        });
        const status = res.statusCode;
        const answer: FailoverResponse = { statusCode: status, headers: res.headers, body: res.body, url, attempts };
        const gateway = (status === 502 || status === 503 || status === 504) && retrySafe;
        const conflict = status === 409 && keyed && (autoKey || attempts > 1);
        if (!gateway && !conflict) return answer;
        const code = await peekCode(res);
        answer.body = res.body;
        if (gateway && code === 'BACKEND_FAILED') return answer;
        if (conflict && code !== 'IDEMPOTENCY_IN_PROGRESS') return answer;
        lastResponse = answer;
        lastError = new Error(`HTTP ${status} from ${url}`);
        // Still running (on some replica, or being finished by the leader): ask again, after Retry-After at
        // the most — sooner while the backoff is still short, since a takeover by the leader is quick.
        if (conflict) {
          waitMs = Math.min(backoff, 1_000 * retryAfterSeconds(res.headers['retry-after']));
          backoff = Math.min(maxBackoff, backoff * 2);
        }
      } catch (err) {
        lastError = err;
        const code = networkCode(err);
        // One URL that refuses has no server behind it and no other to go to: said at once (a mistyped URL
        // should not take the whole deadline to report).
        const notConnected = code !== undefined && NOT_CONNECTED.has(code) && this.urls.length > 1;
        const retryable = notConnected || (code !== undefined && LOST.has(code) && retrySafe);
        if (!retryable) throw new FailoverError(url, tried, err);
        if (keyed && code === 'UND_ERR_HEADERS_TIMEOUT') timedOut.add(url);
      }
      if (waitMs > 0) {
        if (!(await wait(waitMs, progressDeadline))) return giveUp(url);
        continue;
      }
      // Next URL; after a whole round of failures, wait before the next round.
      this.#current = (index + 1) % this.urls.length;
      failuresInRound++;
      const next = this.urls[this.#current] as string;
      if (Date.now() >= deadline && !mayStartLate(next)) return giveUp(url);
      if (failuresInRound >= this.urls.length) {
        failuresInRound = 0;
        if (!(await wait(backoff)) && !mayStartLate(next)) return giveUp(url);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
      if (Date.now() >= deadline && tried.includes(next)) reasked.add(next);
    }
  }
}

/**
 * The error code of a JSON error body, read once and kept so that the body can still be read by the
 * caller (the stream is replaced by one over the same bytes).
 */
async function peekCode(res: Dispatcher.ResponseData): Promise<string | undefined> {
  const text = await res.body.text();
  const { Readable } = await import('node:stream');
  const replay = Readable.from([Buffer.from(text)]) as unknown as Dispatcher.ResponseData['body'];
  // The body mixin the callers use (text, json, dump) over the kept bytes.
  Object.assign(replay, {
    text: async () => text,
    json: async () => JSON.parse(text) as unknown,
    dump: async () => undefined,
  });
  (res as { body: Dispatcher.ResponseData['body'] }).body = replay;
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

function retryAfterSeconds(value: string | string[] | undefined): number {
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isFinite(n) && n > 0 ? n : 1;
}
