import { EventEmitter } from 'node:events';
import type { PollyEvent } from '../core/types.js';
import { eventValues, insertEvent, listEvents, type EventValues } from '../store/repos/events.js';
import type { Executor, Store } from '../store/store.js';
import { currentScope } from './request-scope.js';

export type NewEvent = Omit<PollyEvent, 'seq' | 'at' | 'actor' | 'requestId'>;

/**
 * Events are rows written in the same transaction as the change they describe, so the audit trail never
 * disagrees with the state. Subscribers are woken after commit and read the rows themselves from their
 * last sequence number; a subscriber that falls behind or reconnects (SSE `Last-Event-ID`) loses nothing.
 */
export class EventBus {
  readonly #store: Store;
  readonly #wake = new EventEmitter();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store) {
    this.#store = store;
    this.#wake.setMaxListeners(0);
  }

  /**
   * Records an event inside the caller's transaction. Call `notify()` after the commit. The actor and
   * request id come from the request scope of the work under way (set by the REST layer for requests and
   * by `asSystem` for background jobs), so no call site has to pass them.
   */
  async record(ex: Executor, event: NewEvent, at: string): Promise<number> {
    return insertEvent(ex, this.#stamped(event, at));
  }

  /**
   * The row `record` would insert, for a statement that inserts it together with the change it describes
   * (one round trip on PostgreSQL). The caller must insert it in the same statement or transaction.
   */
  values(event: NewEvent, at: string): EventValues {
    return eventValues(this.#stamped(event, at));
  }

  #stamped(event: NewEvent, at: string) {
    const scope = currentScope();
    return { ...event, at, actor: scope?.actor ?? { kind: 'system' as const, component: 'server' }, requestId: scope?.requestId ?? null };
  }

  /** Wakes subscribers; cheap, and safe to call when nothing changed. */
  notify(): void {
    this.#wake.emit('wake');
  }

  /**
   * Polls the store now and then as well, so that events written by another replica sharing the same
   * PostgreSQL reach this replica's subscribers too.
   */
  startPolling(intervalMs: number): void {
    this.#timer ??= setInterval(() => this.notify(), intervalMs);
    this.#timer.unref();
  }

  subscribe(listener: () => void): () => void {
    this.#wake.on('wake', listener);
    return () => this.#wake.off('wake', listener);
  }

  list(filter: Parameters<typeof listEvents>[1], limit: number): Promise<PollyEvent[]> {
    return listEvents(this.#store.db, filter, limit);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#wake.removeAllListeners();
  }
}
