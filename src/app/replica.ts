import { randomBytes } from 'node:crypto';
import {
  heartbeatReplica,
  incarnationOf,
  liveIncarnations,
  registerReplica,
  removeReplica,
  removeSilentReplicas,
} from '../store/repos/replicas.js';
import type { Store } from '../store/store.js';
import type { Clock } from './context.js';

/**
 * This server process among the replicas sharing one store. Every intent (a `creating`/`deleting` row)
 * and every pending idempotency record names the incarnation that owns it; an owner that is not alive —
 * a previous run of this replica, or a replica that stopped heartbeating — will never finish it, so the
 * reconciler may, at once. With SQLite there is one server per database file: every other incarnation is
 * dead by construction.
 */
export class Replica {
  /** Random per process start. */
  readonly incarnation = randomBytes(12).toString('hex');
  #name: string;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #timeoutMs: number;

  constructor(store: Store, clock: Clock, name: string, timeoutSeconds: number) {
    this.#store = store;
    this.#clock = clock;
    this.#name = name;
    this.#timeoutMs = timeoutSeconds * 1000;
  }

  get name(): string {
    return this.#name;
  }

  /** Joins the replica set, replacing this name's previous incarnation (whose leftovers become orphans). */
  async register(): Promise<void> {
    await registerReplica(this.#store.db, this.#name, this.incarnation, this.#now());
  }

  /**
   * Records that this replica is alive. When its row was replaced, another process started under the same
   * name: this one re-registers under a name of its own rather than fight over it. When its row is simply
   * gone, the others forgot it as silent (the store was out of reach for longer than the timeout, e.g.
   * PostgreSQL restarting): it joins again under its own name (`rejoined`); what it had in flight was
   * taken over meanwhile.
   */
  async heartbeat(): Promise<{ renamed: boolean; rejoined: boolean }> {
    if (await heartbeatReplica(this.#store.db, this.incarnation, this.#now())) return { renamed: false, rejoined: false };
    if ((await incarnationOf(this.#store.db, this.#name)) === undefined) {
      await this.register();
      return { renamed: false, rejoined: true };
    }
    this.#name = `${this.#name}~${this.incarnation.slice(0, 8)}`;
    await this.register();
    return { renamed: true, rejoined: false };
  }

  #known = new Set<string>();

  /**
   * Forgets replicas silent longer than the timeout, and tells whether any replica left since the last
   * call (it stopped, was forgotten, or restarted as a new incarnation): the leader then reconciles.
   */
  async departures(): Promise<boolean> {
    const silent = await removeSilentReplicas(this.#store.db, new Date(this.#clock.now().getTime() - this.#timeoutMs).toISOString());
    const now = await liveIncarnations(this.#store.db, '');
    const left = [...this.#known].some((i) => !now.has(i));
    this.#known = now;
    return silent.length > 0 || left;
  }

  /**
   * A predicate: may the owner still be working on it? This incarnation always may; on SQLite no other
   * can; on PostgreSQL, replicas that heartbeated within the timeout may.
   */
  async liveOwners(): Promise<(owner: string | null) => boolean> {
    if (this.#store.dialect === 'sqlite') return (owner) => owner === this.incarnation;
    const live = await liveIncarnations(this.#store.db, new Date(this.#clock.now().getTime() - this.#timeoutMs).toISOString());
    live.add(this.incarnation);
    return (owner) => owner !== null && live.has(owner);
  }

  /** Leaves the replica set (a clean stop): nobody waits for this incarnation's timeout. */
  async leave(): Promise<void> {
    await removeReplica(this.#store.db, this.incarnation);
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }
}
