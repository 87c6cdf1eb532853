import { setTimeout as sleep } from 'node:timers/promises';
import { PollyError } from '../../core/errors.js';

/** Every call of the fake that can be delayed, counted and made to fail. Node calls are prefixed `node.`. */
export type FakeMethod =
  | 'init'
  | 'capacity'
  | 'create'
  | 'delete'
  | 'expand'
  | 'snapshot'
  | 'deleteSnapshot'
  | 'usage'
  | 'list'
  | 'node.stage'
  | 'node.unstage'
  | 'node.publish'
  | 'node.unpublish'
  | 'node.stats'
  | 'node.expand'
  | 'node.listNodeResources'
  | 'node.selfFence'
  | 'storageFence'
  | 'attach'
  | 'detach'
  | 'node.releaseNodeResources';

export interface FaultOptions {
  /** How many consecutive calls fail (default 1). */
  times?: number | undefined;
  /**
   * `before` (default): the call fails and changes nothing. `after`: the call does its work, then
   * fails — a lost reply, what a crash between the backend's action and the caller's confirmation
   * looks like.
   */
  phase?: 'before' | 'after' | undefined;
}

interface Fault {
  error: Error;
  phase: 'before' | 'after';
}

/**
 * Latency, call counts and queued failures for the fake driver. Kept apart from the fake's state so that
 * the hot path stays one map update when nothing is injected: no timer at all when latency is 0.
 */
export class FaultInjector {
  latencyMs: number;
  readonly #faults = new Map<FakeMethod, Fault[]>();
  readonly #calls = new Map<FakeMethod, number>();
  readonly #holds = new Map<FakeMethod, Array<Promise<unknown>>>();

  constructor(latencyMs: number) {
    this.latencyMs = latencyMs;
  }

  failNext(method: FakeMethod, error: Error | undefined, opts: FaultOptions): void {
    const times = opts.times ?? 1;
    if (!Number.isSafeInteger(times) || times < 1) throw new PollyError('VALIDATION_FAILED', `fake: times must be a positive integer, not ${times}`);
    const queue = this.#faults.get(method) ?? [];
    const fault: Fault = { error: error ?? new PollyError('BACKEND_FAILED', `fake: injected failure in ${method}`), phase: opts.phase ?? 'before' };
    for (let i = 0; i < times; i++) queue.push(fault);
    this.#faults.set(method, queue);
  }

  /** The next call of `method` waits for `until` before it does anything (a slow backend, held by the test). */
  holdNext(method: FakeMethod, until: Promise<unknown>): void {
    const queue = this.#holds.get(method) ?? [];
    queue.push(until);
    this.#holds.set(method, queue);
  }

  clear(): void {
    this.#faults.clear();
    this.#holds.clear();
  }

  calls(method: FakeMethod): number {
    return this.#calls.get(method) ?? 0;
  }

  /**
   * Wraps one call: counts it, waits the configured latency, and raises the next queued fault for it
   * (before or after `work`, per the fault's phase).
   */
  async around<T>(method: FakeMethod, work: () => T | Promise<T>): Promise<T> {
    this.#calls.set(method, (this.#calls.get(method) ?? 0) + 1);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const hold = this.#holds.get(method)?.shift();
    if (hold) await hold;
    const fault = this.#faults.get(method)?.shift();
    if (fault?.phase === 'before') throw fault.error;
    const result = await work();
    if (fault) throw fault.error;
    return result;
  }
}
