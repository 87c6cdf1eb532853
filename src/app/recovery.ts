import { isPollyError } from '../core/errors.js';
import type { Recovery } from '../store/repos/volumes.js';

/**
 * How Polly recovers an operation a backend failure left in `error`: a failure whose cause may pass (the
 * backend refused or was unreachable) is retried by the reconciler, with a doubling wait and a bounded
 * count; any other failure (the backend cannot do it at all) is final at once. The status reason says
 * what happened, what was tried and what comes next.
 */
export interface RetryPolicy {
  /** Retries before giving up. */
  limit: number;
  /** Wait before the first retry; each further retry waits twice as long. */
  baseSeconds: number;
}

/** Codes of failures that may pass on their own. */
const TRANSIENT = new Set(['BACKEND_FAILED', 'UNAVAILABLE', 'INTERNAL']);

export function failureOf(err: unknown): { code: string; message: string } {
  if (isPollyError(err)) return { code: err.code, message: err.message };
  return { code: 'BACKEND_FAILED', message: (err as Error)?.message ?? String(err) };
}

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}

/**
 * The recovery state after `op` failed with `err`. `prior` is the row's recovery before this attempt: a
 * retry of the same operation keeps the first failure (and the count the retry's claim made), anything
 * else starts afresh.
 */
export function nextRecovery(prior: Recovery | null, op: 'create' | 'delete', err: unknown, policy: RetryPolicy, now: Date): { recovery: Recovery; reason: string } {
  const latest = failureOf(err);
  const same = prior !== null && prior.failedOp === op;
  const retries = same ? prior.retries : 0;
  const first = same ? { code: prior.failureCode, message: prior.failureMessage } : latest;
  const retryable = isTransient(latest.code) && retries < policy.limit;
  const retryAt = retryable ? new Date(now.getTime() + policy.baseSeconds * 1000 * 2 ** retries).toISOString() : null;
  const recovery: Recovery = { failedOp: op, failureCode: latest.code, failureMessage: first.message, retries, retryAt };
  let reason = `${op} failed: ${first.message}`;
  if (retries > 0) reason += `; retried ${retries} of ${policy.limit} times (last: ${latest.message})`;
  if (retryAt !== null) reason += `; retry ${retries + 1} of ${policy.limit} after ${retryAt}`;
  else if (!isTransient(latest.code)) reason += `; not retried (${latest.code} is not transient)`;
  else reason += `; giving up after ${retries} retr${retries === 1 ? 'y' : 'ies'}`;
  return { recovery, reason };
}

/** Whether Polly will still retry this failure (by the reconciler, or at once for an idempotent retry). */
export function willRetry(r: Recovery | null): boolean {
  return r !== null && r.retryAt !== null;
}
