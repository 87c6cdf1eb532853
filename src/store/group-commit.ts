import { sql, type Kysely, type Transaction } from 'kysely';
import { precompile } from './precompiled.js';
import type { Database } from './schema.js';
import type { Durability, SqliteDurability } from './sqlite-durability.js';

/** Each transaction of a batch runs under this savepoint (released or rolled back before the next). */
const SAVEPOINT = precompile((ex) => ({ compile: () => sql`savepoint polly_item`.compile(ex) }));
const RELEASE = precompile((ex) => ({ compile: () => sql`release polly_item`.compile(ex) }));
const ROLLBACK_TO = precompile((ex) => ({ compile: () => sql`rollback to polly_item`.compile(ex) }));

interface Pending {
  fn: (trx: Transaction<Database>) => Promise<unknown>;
  durability: Durability;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite. A durable COMMIT costs an fsync, and SQLite runs one writer at a time, so at
 * load most of a request's time is spent waiting for other requests' fsyncs. Transactions asked for in
 * the same turn of the event loop therefore run one after another inside one SQLite transaction, each
 * under its own savepoint (one that fails is rolled back alone and its caller gets its error), and share
 * one COMMIT. Every caller resolves only after that COMMIT: durability is unchanged. The shared COMMIT is
 * deferred (see Durability) only when every transaction of the batch asked for that.
 */
export class GroupCommitter {
  readonly #db: Kysely<Database>;
  readonly #durability: SqliteDurability;
  #queue: Pending[] = [];
  #scheduled = false;
  #running = false;

  constructor(db: Kysely<Database>, durability: SqliteDurability) {
    this.#db = db;
    this.#durability = durability;
  }

  run<T>(fn: (trx: Transaction<Database>) => Promise<T>, durability: Durability = 'full'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, durability, resolve: resolve as (value: unknown) => void, reject });
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
        if (only.durability === 'deferred') this.#durability.deferNextTransaction();
        try {
          await this.#db.transaction().execute(only.fn).then(only.resolve, only.reject);
        } finally {
          this.#durability.withdraw();
        }
        return;
      }
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      if (batch.every((item) => item.durability === 'deferred')) this.#durability.deferNextTransaction();
      let trx;
      try {
        trx = await this.#db.startTransaction().execute();
      } catch (err) {
        for (const item of batch) item.reject(err);
        return;
      } finally {
        this.#durability.withdraw();
      }
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
