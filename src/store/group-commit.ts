import { sql, type Kysely, type Transaction } from 'kysely';
import { precompile } from './precompiled.js';
import type { Database } from './schema.js';

/** Each transaction of a batch runs under this savepoint (released or rolled back before the next). */
const SAVEPOINT = precompile((ex) => ({ compile: () => sql`savepoint polly_item`.compile(ex) }));
const RELEASE = precompile((ex) => ({ compile: () => sql`release polly_item`.compile(ex) }));
const ROLLBACK_TO = precompile((ex) => ({ compile: () => sql`rollback to polly_item`.compile(ex) }));

interface Pending {
  fn: (trx: Transaction<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite. A durable COMMIT costs an fsync, and SQLite runs one writer at a time, so at
 * load most of a request's time is spent waiting for other requests' fsyncs. Transactions asked for in
 * the same turn of the event loop therefore run one after another inside one SQLite transaction, each
 * under its own savepoint (one that fails is rolled back alone and its caller gets its error), and share
 * one COMMIT. Every caller resolves only after that COMMIT: durability is unchanged.
 */
export class GroupCommitter {
  readonly #db: Kysely<Database>;
  #queue: Pending[] = [];
  #scheduled = false;
  #running = false;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  run<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#runBatch();
    });
  }

  async #runBatch(): Promise<void> {
    this.#running = true;
    const batch = this.#queue.splice(0);
    try {
      if (batch.length === 1) {
        const only = batch[0] as Pending;
        await this.#db.transaction().execute(only.fn).then(only.resolve, only.reject);
        return;
      }
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      const trx = await this.#db.startTransaction().execute();
      try {
        for (const item of batch) {
          await SAVEPOINT.execute(trx, {});
          try {
            const value = await item.fn(trx);
            await RELEASE.execute(trx, {});
            outcomes.push({ ok: true, value });
          } catch (error) {
            await ROLLBACK_TO.execute(trx, {});
            await RELEASE.execute(trx, {});
            outcomes.push({ ok: false, error });
          }
        }
        await trx.commit().execute();
      } catch (err) {
        await trx.rollback().execute().catch(() => undefined);
        for (const item of batch) item.reject(err);
        return;
      }
      batch.forEach((item, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) item.resolve(outcome.value);
        else item.reject(outcome?.error);
      });
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }
}
