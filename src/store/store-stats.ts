/**
 * How much the store is asked to do: statements run (BEGIN, COMMIT and ROLLBACK apart), transactions
 * begun, and round trips to the database server (PostgreSQL: every statement plus each BEGIN, COMMIT and
 * ROLLBACK the driver sent; SQLite runs in-process and makes none); and how long the database driver
 * took for them, COMMITs apart (on SQLite with `synchronous = FULL` a COMMIT is where the fsync is waited
 * for). Exposed on /metrics and used by
 * the P1/P8 benchmarks to report the cost of one create+delete pair, and by P10 to split a create's time.
 */
export class StoreStats {
  statements = 0;
  /** BEGINs, COMMITs and ROLLBACKs the driver ran (not counted as statements). */
  transactionControls = 0;
  transactions = 0;
  /** COMMITs run (a group commit's shared one counts once), and the seconds they took. */
  commits = 0;
  commitSeconds = 0;
  /** Of those COMMITs, the ones that did not wait for the disk (SQLite, `deferred` durability). */
  deferredCommits = 0;
  /** Seconds every other statement (BEGIN included) took in the database driver. */
  statementSeconds = 0;
  readonly #remote: boolean;

  constructor(remote: boolean) {
    this.#remote = remote;
  }

  /** Counts one statement the driver ran, by its SQL and its time (ms, as Kysely's log reports it). */
  record(sql: string, ms: number): void {
    if (sql === 'commit') {
      this.transactionControls++;
      this.commits++;
      this.commitSeconds += ms / 1000;
      return;
    }
    if (sql === 'begin' || sql === 'rollback') this.transactionControls++;
    else this.statements++;
    this.statementSeconds += ms / 1000;
  }

  /** Each statement and each BEGIN/COMMIT/ROLLBACK is one round trip (node-postgres sends one at a time). */
  get roundTrips(): number {
    return this.#remote ? this.statements + this.transactionControls : 0;
  }
}
