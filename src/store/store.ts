import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, type LogEvent, type Transaction } from 'kysely';
import { PollyError } from '../core/errors.js';
import { GroupCommitter } from './group-commit.js';
import { InCodeMigrationProvider } from './migrations.js';
import { DefinitionCache } from './definition-cache.js';
import { StoreStats } from './store-stats.js';
import { runDirectlyInTransactions } from './precompiled.js';
import { type Durability, SqliteDurability } from './sqlite-durability.js';
import type { Database, PoolRow } from './schema.js';

export type StoreDialect = 'sqlite' | 'postgres';

/** Anything queries can run on: the database itself or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

export interface StoreOptions {
  /** `sqlite:/path/file.db`, a plain file path, `:memory:`, or `postgres://…` / `postgresql://…`. */
  url: string;
  /** PostgreSQL pool size (default 10). */
  maxConnections?: number;
}

/**
 * The store: a Kysely instance over SQLite (embedded default) or PostgreSQL (HA), with the schema migrated.
 * Every multi-row change runs in `transaction()`; uniqueness is enforced by the database.
 */
export class Store {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  readonly url: string;
  /** Statements, transactions and round trips so far (see StoreStats). */
  readonly stats: StoreStats;
  /** Definitions read on hot paths, reused briefly (see DefinitionCache). */
  readonly definitions = new DefinitionCache();

  /** SQLite only: transactions of one event-loop turn share a COMMIT (see GroupCommitter). */
  readonly #group: GroupCommitter | undefined;

  private constructor(db: Kysely<Database>, dialect: StoreDialect, url: string, stats: StoreStats, durability?: SqliteDurability) {
    this.db = db;
    this.stats = stats;
    this.dialect = dialect;
    this.url = url;
    this.#group = durability ? new GroupCommitter(db, durability) : undefined;
  }

  static async open(options: StoreOptions): Promise<Store> {
    const { url } = options;
    let store: Store;
    const remote = /^postgres(ql)?:\/\//.test(url);
    const stats = new StoreStats(remote);
    // Kysely reports every statement it runs (successful or not) here, with its time in the database
    // driver; BEGIN/COMMIT are counted in transaction(), and a COMMIT's time (SQLite: the fsync) is kept apart.
    const log = (event: LogEvent): void => stats.record(event.query.sql, event.queryDurationMillis);
    if (remote) {
      // Loaded only for PostgreSQL: an embedded (SQLite) server starts without it.
      const { default: pg } = await import('pg');
      // BIGINT (oid 20) arrives as a string by default; every bigint Polly stores is a byte count or a
      // counter far below 2^53, so parse it as a number for this pool only (no global mutation).
      const types = {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format),
      };
      const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, types });
      pool.on('error', () => {
        // An idle client lost its connection; the pool replaces it. Queries in flight report their own errors.
      });
      // A client checked out of the pool has no error listener of the pool's: when PostgreSQL goes away
      // while one is held between two statements (inside a transaction), its 'error' event would be
      // unhandled and end the process. The statement in flight or the next one fails instead, and the
      // pool drops the broken client when it comes back.
      pool.on('connect', (client) => {
        client.on('error', () => undefined);
      });
      store = new Store(new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log }), 'postgres', url, stats);
    } else {
      const file = url.replace(/^sqlite:(\/\/)?/, '');
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      const sqlite = new BetterSqlite3(file);
      sqlite.pragma('journal_mode = WAL');
      // FULL: an acknowledged commit survives power loss, not only a process crash.
      sqlite.pragma('synchronous = FULL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
      const durability = new SqliteDurability(sqlite, () => stats.deferredCommits++);
      cachePreparedStatements(sqlite, durability);
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log });
      // The statements it runs bypass Kysely's log: they are counted the same way.
      runDirectlyInTransactions(db.getExecutor().adapter, sqlite, (sql, ms) => stats.record(sql, ms));
      store = new Store(db, 'sqlite', url, stats, durability);
    }
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw new PollyError('UNAVAILABLE', `store ${redactUrl(url)}: ${(err as Error).message}`);
    }
    return store;
  }

  async migrate(): Promise<void> {
    try {
      await this.#migrateOnce();
    } catch (err) {
      // Kysely takes no migration lock on SQLite: when several processes open one new file at once, the
      // losers fail on tables the winner just made. Once the winner is done, a second pass is a no-op.
      if (this.dialect !== 'sqlite') throw err;
      await new Promise((r) => setTimeout(r, 200));
      await this.#migrateOnce();
    }
  }

  async #migrateOnce(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: new InCodeMigrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error');
      throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? String(error)}`);
    }
  }

  /**
   * Runs `fn` in one transaction; everything it wrote is committed together or not at all. The commit is
   * durable (`full`) unless `durability` is `deferred`, which SQLite honours (see Durability) and
   * PostgreSQL does not.
   */
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>, durability: Durability = 'full'): Promise<T> {
    this.stats.transactions++;
    return this.#group ? this.#group.run(fn, durability) : this.db.transaction().execute(fn);
  }

  /*
   * Row locks for read-modify-write. On PostgreSQL they hold the row until the transaction ends, so that
   * racing transactions on one service, pool or volume queue up; SQLite serialises writers anyway and has
   * no such clause.
   */

  /**
   * Locks a service's row (quota checks) until the transaction ends. `FOR NO KEY UPDATE`, not `FOR
   * UPDATE`: the latter conflicts with the `FOR KEY SHARE` lock each volume insert takes on its service
   * through the foreign key, and racing creates deadlocked on it.
   */
  async lockService(trx: Transaction<Database>, name: string): Promise<void> {
    if (this.dialect === 'postgres') await trx.selectFrom('services').select('name').where('name', '=', name).forNoKeyUpdate().execute();
  }

  /**
   * Holds a service's row `FOR KEY SHARE` until the transaction ends: what a volume insert's foreign key
   * takes anyway. It does not conflict with other creates, only with a quota change (below).
   */
  async keyShareService(trx: Transaction<Database>, name: string): Promise<void> {
    if (this.dialect === 'postgres') await trx.selectFrom('services').select('name').where('name', '=', name).forKeyShare().execute();
  }

  /**
   * Locks a service's row `FOR UPDATE` for a quota change: it waits until every admission holding the
   * row `FOR KEY SHARE` has ended, and new admissions wait for it (see Admission).
   */
  async lockServiceForQuotaChange(trx: Transaction<Database>, name: string): Promise<void> {
    if (this.dialect === 'postgres') await trx.selectFrom('services').select('name').where('name', '=', name).forUpdate().execute();
  }

  /**
   * Reads which service owns each of these volumes, holding their rows `FOR KEY SHARE` until the
   * transaction ends (snapshots, whose rows have no foreign key to their volume): a transfer, which locks
   * the volume's row `FOR UPDATE`, has then either committed and is seen here, or waits for this
   * transaction. Volumes that are gone are absent.
   */
  async keyShareVolumes(trx: Transaction<Database>, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const q = trx.selectFrom('volumes').select(['id', 'service']).where('id', 'in', [...ids]).orderBy('id');
    const rows = await (this.dialect === 'postgres' ? q.forKeyShare() : q).execute();
    return new Map(rows.map((r) => [r.id, r.service]));
  }

  /**
   * Counts a volume's snapshots, holding their rows `FOR UPDATE` until the transaction ends (a transfer
   * moves them): a snapshot delete in flight has then committed and is not counted, or waits.
   */
  async lockSnapshotsOfVolume(trx: Transaction<Database>, volumeId: string): Promise<number> {
    const q = trx.selectFrom('snapshots').select('id').where('volume_id', '=', volumeId);
    return (await (this.dialect === 'postgres' ? q.forUpdate() : q).execute()).length;
  }

  /** Locks a volume's row (attach/detach) until the transaction ends. */
  async lockVolume(trx: Transaction<Database>, id: string): Promise<void> {
    if (this.dialect === 'postgres') await trx.selectFrom('volumes').select('id').where('id', '=', id).forUpdate().execute();
  }

  /** Reads a pool's row (capacity checks), locked until the transaction ends; undefined when there is none. */
  lockPool(trx: Transaction<Database>, name: string): Promise<PoolRow | undefined> {
    const q = trx.selectFrom('pools').selectAll().where('name', '=', name);
    return (this.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('meta').select('key').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * Kysely's SQLite driver prepares every query anew; compiling the same few dozen statements thousands of
 * times a second cost about a sixth of the server's CPU under load. Statements are reused by their SQL
 * text (better-sqlite3 runs one at a time, and SQLite re-prepares a statement itself after a schema
 * change). Kysely never streams here, so a cached statement is never iterated twice at once.
 */
function cachePreparedStatements(db: BetterSqlite3.Database, durability: SqliteDurability, max = 2000): void {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = db.prepare.bind(db);
  Object.defineProperty(db, 'prepare', {
    value: (source: string) => {
      let stmt = cache.get(source);
      if (stmt === undefined) {
        if (cache.size >= max) cache.clear();
        stmt = durability.wrap(source, prepare(source));
        cache.set(source, stmt);
      }
      return stmt;
    },
  });
}

/** Hides the password of a database URL in messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** True when queries on `ex` run on PostgreSQL (where several statements can be folded into one round trip). */
export function isPostgres(ex: Executor): boolean {
  return ex.getExecutor().adapter instanceof PostgresAdapter;
}

/** True when the error is a uniqueness violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** True when the error is a foreign-key violation on either engine (a referenced row is gone). */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Now, as stored: ISO-8601 UTC with milliseconds. */
export function nowIso(): string {
  return new Date().toISOString();
}
