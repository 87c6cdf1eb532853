import { createHash } from 'node:crypto';
import { ERROR_CATALOG, PollyError, type ErrorCode } from '../core/errors.js';
import type { Identity, NodeIdentity, Volume } from '../core/types.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  expireIdempotencyKeys,
  findIdempotencyKey,
  linkIdempotencyKey,
  releaseIdempotencyKey,
  takeOverIdempotencyKey,
  type IdempotencyRecord,
} from '../store/repos/idempotency.js';
import { findVolume, findVolumeState, type VolumeState } from '../store/repos/volumes.js';
import { isUniqueViolation, nowIso } from '../store/store.js';
import type { AppContext } from './context.js';
import { willRetry } from './recovery.js';
import type { VolumeRecovery } from './volume-recovery.js';
import type { IntentLink, IntentOptions } from './volumes.js';

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

export interface IdempotentCall {
  /** The request itself; it passes `intent` to the use case so that the intent is linked to the key. */
  run(intent: IntentOptions): Promise<StoredResponse>;
  /** The reply status on success (a reply rebuilt from a linked volume uses it). */
  status: number;
  /** A volume as the route shows it, for replies rebuilt from the volume the request made. */
  volumeView?: ((v: Volume) => unknown) | undefined;
}

/** How long a client is asked to wait before retrying a request that is still running. */
const RETRY_AFTER_SECONDS = 1;

function inProgress(key: string, why: string): PollyError {
  return new PollyError('IDEMPOTENCY_IN_PROGRESS', `a request with Idempotency-Key ${JSON.stringify(key)} is still in progress (${why}); retry shortly`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}

/**
 * `Idempotency-Key` for mutating requests. The first request with a key claims it (a record naming this
 * replica); a repeat with the same key and request gets the first outcome, the same key with another
 * request is refused. The record survives crashes with enough to answer a retry:
 *
 * - A request that committed an intent (a volume create or delete) links the record to that volume in
 *   the same transaction. A retry is answered from the volume: finished → the reply the request would
 *   have given (201 with the volume, 204), still running → 409 IDEMPOTENCY_IN_PROGRESS with Retry-After,
 *   failed but retryable → the operation is retried now on the caller's behalf, failed for good → the
 *   first error, rolled back → the request runs again.
 * - A request that committed nothing yet and whose replica is gone (a crash, a restart) runs again; while
 *   its replica lives it is in progress.
 * - Any other failure gives the key back, so a corrected or later retry runs.
 */
export class IdempotencyUseCases {
  readonly #ctx: AppContext;
  readonly #recovery: VolumeRecovery;

  constructor(ctx: AppContext, recovery: VolumeRecovery) {
    this.#ctx = ctx;
    this.#recovery = recovery;
  }

  /** See {@link requestFingerprint}. */
  static fingerprint(parts: unknown[]): string {
    return requestFingerprint(parts);
  }

  /**
   * Keys are scoped per caller: the admin, each service, each node credential's node. A repeat with the
   * same key by another caller is a request of its own and never sees this caller's stored reply (which
   * may hold a secret, such as an issued token).
   */
  static ownerOf(caller: Identity | NodeIdentity): string {
    // Service names cannot start with `*` (NAME_PATTERN), so the admin's and nodes' scopes are apart.
    if (caller.kind === 'admin') return '*admin';
    if (caller.kind === 'node') return `*node:${caller.node}`;
    return caller.service;
  }

  async run(caller: Identity | NodeIdentity, key: string, fingerprint: string, call: IdempotentCall): Promise<StoredResponse & { replayed: boolean }> {
    if (key.length < 1 || key.length > 255) throw new PollyError('VALIDATION_FAILED', 'Idempotency-Key must be 1 to 255 characters');
    const owner = IdempotencyUseCases.ownerOf(caller);
    const db = this.#ctx.store.db;
    const me = this.#ctx.replica.incarnation;
    for (let round = 0; round < 5; round++) {
      try {
        await claimIdempotencyKey(db, owner, key, fingerprint, me, nowIso());
        return await this.#execute(owner, key, call);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const prior = await findIdempotencyKey(db, owner, key);
      if (!prior) continue; // released meanwhile: claim again
      if (prior.fingerprint !== fingerprint) {
        throw new PollyError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was used for a different request`);
      }
      if (prior.state === 'done') {
        return { status: prior.responseStatus ?? 200, body: JSON.parse(prior.responseBody ?? 'null'), replayed: true };
      }
      if (prior.resourceId !== null) {
        const answer = await this.#answerFromIntent(owner, key, prior, call);
        if (answer) return answer;
      } else if ((await this.#ctx.replica.liveOwners())(prior.replica)) {
        throw inProgress(key, 'its request is running');
      }
      // Nothing of the first request remains that a retry could be answered from: run it again, if this
      // retry is the one that takes the record over.
      if (await takeOverIdempotencyKey(db, owner, key, prior, me)) return this.#execute(owner, key, call);
    }
    throw inProgress(key, 'other retries are racing for it');
  }

  async #execute(owner: string, key: string, call: IdempotentCall): Promise<StoredResponse & { replayed: boolean }> {
    const db = this.#ctx.store.db;
    const link: IntentLink = (trx, intent) => linkIdempotencyKey(trx, owner, key, intent);
    let response: StoredResponse;
    try {
      response = await call.run({ link });
    } catch (err) {
      await this.#afterFailure(owner, key);
      throw err;
    }
    await completeIdempotencyKey(db, owner, key, response.status, JSON.stringify(response.body));
    return { ...response, replayed: false };
  }

  /** A failed request keeps its key only while the volume it committed is still there to answer from. */
  async #afterFailure(owner: string, key: string): Promise<void> {
    const db = this.#ctx.store.db;
    const record = await findIdempotencyKey(db, owner, key);
    if (record?.resourceId && (await findVolume(db, record.resourceId))) return;
    await releaseIdempotencyKey(db, owner, key);
  }

  async #done(owner: string, key: string, response: StoredResponse): Promise<StoredResponse & { replayed: boolean }> {
    await completeIdempotencyKey(this.#ctx.store.db, owner, key, response.status, JSON.stringify(response.body));
    return { ...response, replayed: true };
  }

  /**
   * The answer a retry gets from the volume its first request committed; undefined when the request must
   * run again (its intent was rolled back).
   */
  async #answerFromIntent(owner: string, key: string, prior: IdempotencyRecord, call: IdempotentCall): Promise<(StoredResponse & { replayed: boolean }) | undefined> {
    const state = await findVolumeState(this.#ctx.store.db, prior.resourceId ?? '');
    const view = (v: Volume) => (call.volumeView ? call.volumeView(v) : v);
    if (prior.resourceOp === 'create') {
      if (!state) return undefined;
      const v = state.volume;
      if (v.status === 'creating') throw inProgress(key, `volume ${v.id} is being created`);
      if (v.status === 'error' && state.recovery?.failedOp === 'create') {
        return this.#retryOrReplay(owner, key, state, async () => ({ status: call.status, body: view((await this.#recovery.retryFailed(state)) as Volume) }));
      }
      return this.#done(owner, key, { status: call.status, body: view(v) });
    }
    // A delete.
    if (!state) return this.#done(owner, key, { status: call.status, body: null });
    const v = state.volume;
    if (v.status === 'deleting') throw inProgress(key, `volume ${v.id} is being deleted`);
    if (v.status === 'error' && state.recovery?.failedOp === 'delete') {
      return this.#retryOrReplay(owner, key, state, async () => {
        await this.#recovery.retryFailed(state);
        return { status: call.status, body: null };
      });
    }
    return undefined;
  }

  /**
   * A failed operation the client retries: while Polly would still retry it, the retry happens now (the
   * volume's retry count goes up as for the reconciler's); once the failure is final, its error is the
   * answer, for good.
   */
  async #retryOrReplay(owner: string, key: string, state: VolumeState, retry: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }> {
    const recovery = state.recovery;
    if (willRetry(recovery)) {
      let response: StoredResponse;
      try {
        response = await retry();
      } catch (err) {
        if (err instanceof PollyError && err.code === 'INVALID_STATE') throw inProgress(key, `volume ${state.volume.id} is being retried`);
        await this.#afterFailure(owner, key);
        throw err;
      }
      await completeIdempotencyKey(this.#ctx.store.db, owner, key, response.status, JSON.stringify(response.body));
      return { ...response, replayed: false };
    }
    const code = (recovery && recovery.failureCode in ERROR_CATALOG ? recovery.failureCode : 'BACKEND_FAILED') as ErrorCode;
    return this.#done(owner, key, {
      status: ERROR_CATALOG[code].httpStatus,
      body: { error: { code, message: state.volume.statusReason ?? `volume ${state.volume.id} failed` } },
    });
  }

  /** Drops keys past their TTL. A pending key is never dropped sooner: it is what answers a retry. */
  async expire(): Promise<number> {
    const now = this.#ctx.clock.now().getTime();
    return expireIdempotencyKeys(this.#ctx.store.db, new Date(now - this.#ctx.config.idempotencyTtlSeconds * 1000).toISOString());
  }
}
