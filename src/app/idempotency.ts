import { createHash } from 'node:crypto';
import { PollyError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  expireIdempotencyKeys,
  findIdempotencyKey,
  releaseIdempotencyKey,
} from '../store/repos/idempotency.js';
import { isUniqueViolation, nowIso } from '../store/store.js';
import type { AppContext } from './context.js';

/** Deepest nesting a fingerprinted request may have (bodies are bounded tighter before they are parsed). */
export const MAX_FINGERPRINT_DEPTH = 64;

/**
 * A hash of a request's parts that is the same for the same request: object keys are taken in sorted
 * order, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are one request. Walks the value with an explicit stack,
 * never recursion, and refuses values nested deeper than {@link MAX_FINGERPRINT_DEPTH}: no request can
 * overflow the call stack here.
 */
export function requestFingerprint(parts: unknown[]): string {
  const hash = createHash('sha256');
  // Each entry is a value to write at a depth, or a literal token (`,` `]` `}` or a key) to emit.
  const stack: ({ value: unknown; depth: number } | { token: string })[] = [{ value: parts, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number } | { token: string };
    if ('token' in item) {
      hash.update(item.token);
      continue;
    }
    const { value, depth } = item;
    if (value === null || typeof value !== 'object') {
      hash.update(value === undefined ? 'null' : (JSON.stringify(value) ?? 'null'));
      continue;
    }
    if (depth >= MAX_FINGERPRINT_DEPTH) {
      throw new PollyError('VALIDATION_FAILED', `request nests deeper than ${MAX_FINGERPRINT_DEPTH} levels`);
    }
    const entries: [string | null, unknown][] = Array.isArray(value)
      ? value.map((v) => [null, v])
      : Object.keys(value)
          .sort()
          .map((k) => [k, (value as Record<string, unknown>)[k]]);
    hash.update(Array.isArray(value) ? '[' : '{');
    stack.push({ token: Array.isArray(value) ? ']' : '}' });
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, v] = entries[i] as [string | null, unknown];
      stack.push({ value: v, depth: depth + 1 });
      const prefix = `${i > 0 ? ',' : ''}${key === null ? '' : `${JSON.stringify(key)}:`}`;
      if (prefix !== '') stack.push({ token: prefix });
    }
  }
  return hash.digest('hex');
}

export interface StoredResponse {
  status: number;
  body: unknown;
}

/**
 * `Idempotency-Key` for mutating requests: the first request with a key runs and its response is kept;
 * a repeat with the same key and the same request gets that response again and changes nothing; the same
 * key with a different request is refused. A request that failed releases its key, so a retry runs again.
 */
export class IdempotencyUseCases {
  readonly #ctx: AppContext;

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  /** See {@link requestFingerprint}. */
  static fingerprint(parts: unknown[]): string {
    return requestFingerprint(parts);
  }

  async run(identity: Identity, key: string, fingerprint: string, fn: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }> {
    if (key.length < 1 || key.length > 255) throw new PollyError('VALIDATION_FAILED', 'Idempotency-Key must be 1 to 255 characters');
    const owner = identity.kind === 'admin' ? '*admin' : identity.service;
    const db = this.#ctx.store.db;
    try {
      await claimIdempotencyKey(db, owner, key, fingerprint, nowIso());
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const prior = await findIdempotencyKey(db, owner, key);
      if (!prior) return this.run(identity, key, fingerprint, fn); // released meanwhile: claim again
      if (prior.fingerprint !== fingerprint) {
        throw new PollyError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was used for a different request`);
      }
      if (prior.state === 'pending') {
        throw new PollyError('IDEMPOTENCY_IN_PROGRESS', `a request with Idempotency-Key ${JSON.stringify(key)} is still in progress`);
      }
      return { status: prior.responseStatus ?? 200, body: JSON.parse(prior.responseBody ?? 'null'), replayed: true };
    }
    let response: StoredResponse;
    try {
      response = await fn();
    } catch (err) {
      await releaseIdempotencyKey(db, owner, key);
      throw err;
    }
    await completeIdempotencyKey(db, owner, key, response.status, JSON.stringify(response.body));
    return { ...response, replayed: false };
  }

  /** Drops keys past their TTL, and pending keys a crash left behind (older than 10 minutes). */
  async expire(): Promise<number> {
    const now = this.#ctx.clock.now().getTime();
    const db = this.#ctx.store.db;
    const done = await expireIdempotencyKeys(db, new Date(now - this.#ctx.config.idempotencyTtlSeconds * 1000).toISOString());
    const stale = await db
      .deleteFrom('idempotency_keys')
      .where('state', '=', 'pending')
      .where('created_at', '<', new Date(now - 600_000).toISOString())
      .executeTakeFirst();
    return done + Number(stale.numDeletedRows);
  }
}
