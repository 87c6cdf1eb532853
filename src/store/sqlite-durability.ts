import type BetterSqlite3 from 'better-sqlite3';

/**
 * How durable a transaction's COMMIT must be.
 *
 * - `full` (the default): the COMMIT returns once the write-ahead log is on disk (`synchronous = FULL`):
 *   it survives a crash of Polly, of the operating system and a power loss.
 * - `deferred`: on SQLite the COMMIT writes the log without waiting for the disk (`synchronous = NORMAL`
 *   for that one COMMIT): it survives a crash or kill of Polly (the write has reached the operating
 *   system), and the next full COMMIT makes it durable too, since the log is written in order. Only an
 *   operating-system crash or power loss before that can lose it. Use it only for a record that can be
 *   rebuilt from a durable one, such as the outcome of an operation whose intent was committed in full
 *   and whose backend call is idempotent: the reconciler replays it after a restart. PostgreSQL commits
 *   every transaction in full.
 */
export type Durability = 'full' | 'deferred';

/**
 * Lets one SQLite transaction commit with `synchronous = NORMAL` while every other keeps `FULL`.
 *
 * SQLite refuses to change the mode inside a transaction, so it is lowered in the same synchronous call
 * that runs the transaction's BEGIN, and put back to FULL in the same call that runs the COMMIT or
 * ROLLBACK ending it. Nothing can run on the one connection in between but that transaction (Kysely holds
 * the connection, and statements run directly on better-sqlite3 wait while a transaction is open), so no
 * other COMMIT ever runs lowered. Only the group committer begins transactions on SQLite; it asks for the
 * next BEGIN to be lowered just before it begins, and withdraws the request should that BEGIN not run.
 */
export class SqliteDurability {
  readonly #normal: BetterSqlite3.Statement;
  readonly #full: BetterSqlite3.Statement;
  readonly #onDeferredCommit: () => void;
  #pending = false;
  #lowered = false;

  /** `onDeferredCommit` counts the COMMITs that ran with the mode lowered. */
  constructor(db: BetterSqlite3.Database, onDeferredCommit: () => void = () => undefined) {
    this.#normal = db.prepare('PRAGMA synchronous = NORMAL');
    this.#full = db.prepare('PRAGMA synchronous = FULL');
    this.#onDeferredCommit = onDeferredCommit;
  }

  /** The next BEGIN starts a transaction whose COMMIT is deferred. */
  deferNextTransaction(): void {
    this.#pending = true;
  }

  /** Withdraws a request whose BEGIN did not run (the transaction failed before it). */
  withdraw(): void {
    this.#pending = false;
  }

  /**
   * Wraps the prepared BEGIN, COMMIT and ROLLBACK statements (as `prepare` hands them to Kysely) so that
   * the mode changes with them, in the same call.
   */
  wrap(source: string, stmt: BetterSqlite3.Statement): BetterSqlite3.Statement {
    const kind = source.trim().toLowerCase();
    if (kind !== 'begin' && kind !== 'commit' && kind !== 'rollback') return stmt;
    const run = (args: unknown[]): BetterSqlite3.RunResult => (kind === 'begin' ? this.#begin(stmt, args) : this.#end(kind, stmt, args));
    return new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'run') return (...args: unknown[]) => run(args);
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  #begin(stmt: BetterSqlite3.Statement, args: unknown[]): BetterSqlite3.RunResult {
    if (!this.#pending) return stmt.run(...(args as []));
    this.#pending = false;
    this.#normal.run();
    this.#lowered = true;
    try {
      return stmt.run(...(args as []));
    } catch (err) {
      this.#restore();
      throw err;
    }
  }

  #end(kind: 'commit' | 'rollback', stmt: BetterSqlite3.Statement, args: unknown[]): BetterSqlite3.RunResult {
    if (!this.#lowered) return stmt.run(...(args as []));
    try {
      const result = stmt.run(...(args as []));
      if (kind === 'commit') this.#onDeferredCommit();
      return result;
    } finally {
      // A COMMIT that failed (SQLITE_BUSY) leaves the transaction open and is rolled back next; FULL is
      // back already, which only makes that rollback as careful as any other.
      this.#restore();
    }
  }

  #restore(): void {
    this.#full.run();
    this.#lowered = false;
  }
}
