/**
 * How much the store is asked to do: statements run, transactions begun, and round trips to the
 * database server (PostgreSQL: every statement plus each transaction's BEGIN and COMMIT; SQLite runs
 * in-process and makes none). Exposed on /metrics and used by the P1/P8 benchmarks to report the cost of
 * one create+delete pair.
 */
export class StoreStats {
  statements = 0;
  transactions = 0;
  readonly #remote: boolean;

  constructor(remote: boolean) {
    this.#remote = remote;
  }

  get roundTrips(): number {
    return this.#remote ? this.statements + 2 * this.transactions : 0;
  }
}
