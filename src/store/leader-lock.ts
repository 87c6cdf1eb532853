import type pg from 'pg';
import type { StoreDialect } from './store.js';

/** Key of the PostgreSQL advisory lock that elects the replica running Polly's background loops. */
const LEADER_LOCK_KEY = 0x706f6c6c; // "poll"

/**
 * Leader election for replicas sharing one PostgreSQL: the replica holding a session-level advisory lock
 * on a dedicated connection is the leader; if it dies, its connection drops, the lock is freed and another
 * replica takes it at its next try. With SQLite there is one server per database file: it always leads.
 */
export class LeaderLock {
  readonly #url: string;
  readonly #dialect: StoreDialect;
  #client: pg.Client | undefined;
  #held = false;

  constructor(url: string, dialect: StoreDialect) {
    this.#url = url;
    this.#dialect = dialect;
  }

  #pending: Promise<boolean> | undefined;

  /**
   * Whether this replica leads now; tries to take the lock when it does not. Never throws. Concurrent
   * callers share one check: two checks racing would each open a connection, and the one overwritten
   * could hold the lock unseen, for as long as the process lives.
   */
  isLeader(): Promise<boolean> {
    if (this.#dialect === 'sqlite') return Promise.resolve(true);
    this.#pending ??= this.#check().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #check(): Promise<boolean> {
    try {
      if (!this.#client) {
        const { default: pgModule } = await import('pg');
        const client = new pgModule.Client({ connectionString: this.#url });
        client.on('error', () => this.#drop());
        await client.connect();
        this.#client = client;
      }
      if (!this.#held) {
        const res = await this.#client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [LEADER_LOCK_KEY]);
        this.#held = res.rows[0]?.ok === true;
      } else {
        await this.#client.query('select 1');
      }
      return this.#held;
    } catch {
      this.#drop();
      return false;
    }
  }

  #drop(): void {
    this.#held = false;
    const client = this.#client;
    this.#client = undefined;
    void client?.end().catch(() => undefined);
  }

  /** Gives the lock up (closing the connection frees it). */
  async close(): Promise<void> {
    await this.#pending;
    const client = this.#client;
    this.#client = undefined;
    this.#held = false;
    await client?.end().catch(() => undefined);
  }
}
