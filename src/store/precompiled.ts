import type BetterSqlite3 from 'better-sqlite3';
import { createQueryId, PostgresAdapter, type Compilable, type CompiledQuery, type DialectAdapter, type QueryResult, type RootOperationNode } from 'kysely';
import type { Executor } from './store.js';

/** One parameter of a compiled statement: a named input of the call, or a value the builder fixed. */
type Slot = { readonly param: string } | { readonly value: unknown };

interface Shape {
  readonly sql: string;
  readonly query: RootOperationNode;
  readonly slots: readonly Slot[];
}

/** Marks a parameter in the SQL a builder compiles to; never sent to a database. */
const MARKER = '\u0000polly-param:';

/**
 * A statement of fixed shape, built with Kysely and compiled once per dialect; each call only fills in
 * its parameters. Building and compiling a query with Kysely costs far more CPU than running a simple
 * statement on SQLite, and the hot paths (create, delete, get) run the same few statements thousands of
 * times a second.
 *
 * `build` receives placeholders for the named parameters and must return the same SQL whatever their
 * values: use each placeholder as a whole value (`where('id', '=', p.id)`, `sql\`x + ${p.n}\``), never in
 * a list whose length varies, in `sql.lit`, or inside a string it builds. A statement whose shape varies
 * (optional columns, `in` lists) is one Precompiled per shape. The store uses no Kysely plugins; a
 * precompiled statement would skip their query transforms.
 */
export class Precompiled<P extends object, O> {
  readonly #build: (ex: Executor, p: P) => Compilable<O>;
  #sqlite: Shape | undefined;
  #postgres: Shape | undefined;

  constructor(build: (ex: Executor, p: P) => Compilable<O>) {
    this.#build = build;
  }

  /** The compiled statement with `params` filled in; every named parameter must be given (null, not undefined). */
  compile(ex: Executor, params: P): CompiledQuery<O> {
    const postgres = ex.getExecutor().adapter instanceof PostgresAdapter;
    let shape = postgres ? this.#postgres : this.#sqlite;
    if (shape === undefined) {
      shape = this.#shape(ex);
      if (postgres) this.#postgres = shape;
      else this.#sqlite = shape;
    }
    const parameters: unknown[] = new Array(shape.slots.length);
    for (let i = 0; i < shape.slots.length; i++) {
      const slot = shape.slots[i]!;
      if ('param' in slot) {
        const value = (params as Record<string, unknown>)[slot.param];
        if (value === undefined) throw new Error(`precompiled statement: parameter ${slot.param} is missing`);
        parameters[i] = value;
      } else parameters[i] = slot.value;
    }
    return { sql: shape.sql, query: shape.query, queryId: createQueryId(), parameters };
  }

  /** Runs the statement. */
  execute(ex: Executor, params: P): Promise<QueryResult<O>> {
    const compiled = this.compile(ex, params);
    const direct = DIRECT.get(ex.getExecutor().adapter);
    return direct !== undefined && (ex.isTransaction || direct.idle()) ? direct.run(compiled) : ex.executeQuery(compiled);
  }

  /** The rows it returns. */
  async rows(ex: Executor, params: P): Promise<O[]> {
    return (await this.execute(ex, params)).rows;
  }

  /** The first row it returns, or undefined. */
  async first(ex: Executor, params: P): Promise<O | undefined> {
    return (await this.execute(ex, params)).rows[0];
  }

  /** How many rows it inserted, updated or deleted. */
  async affected(ex: Executor, params: P): Promise<number> {
    return Number((await this.execute(ex, params)).numAffectedRows ?? 0n);
  }

  #shape(ex: Executor): Shape {
    const placeholders = new Proxy({} as P, {
      get: (_target, name) => {
        if (typeof name !== 'string') return undefined;
        return `${MARKER}${name}`;
      },
    });
    const compiled = this.#build(ex, placeholders).compile();
    if (compiled.sql.includes(MARKER)) throw new Error(`precompiled statement: a placeholder was inlined into its SQL: ${compiled.sql}`);
    const slots = compiled.parameters.map((value): Slot => (typeof value === 'string' && value.startsWith(MARKER) ? { param: value.slice(MARKER.length) } : { value }));
    return { sql: compiled.sql, query: compiled.query, slots };
  }
}

/** A precompiled statement (see Precompiled). */
export function precompile<P extends object, O>(build: (ex: Executor, p: P) => Compilable<O>): Precompiled<P, O> {
  return new Precompiled(build);
}

interface Direct {
  run<O>(compiled: CompiledQuery<O>): Promise<QueryResult<O>>;
  /** No transaction is open on the connection (a statement run now commits on its own). */
  idle(): boolean;
}

/** Per SQLite store (by its Kysely adapter, which its transactions share): how a statement runs directly. */
const DIRECT = new WeakMap<DialectAdapter, Direct>();

/**
 * Lets precompiled statements run straight on better-sqlite3, as Kysely's own SQLite driver would run
 * them, without the layers of promises Kysely's executor wraps around every statement. Inside a
 * transaction: it holds SQLite's one connection (Kysely's connection mutex) until it ends, so nothing
 * else runs on it meanwhile. Outside any transaction only while no transaction is open on the connection
 * (better-sqlite3's `inTransaction`): the statement then runs in autocommit, synchronously, so it can
 * neither join another caller's transaction nor read its uncommitted rows; while one is open it queues
 * for the connection through Kysely. `onStatement` counts it as Kysely's log would.
 */
export function runDirectlyInTransactions(adapter: DialectAdapter, db: BetterSqlite3.Database, onStatement: (sql: string, ms: number) => void): void {
  DIRECT.set(adapter, {
    idle: () => !db.inTransaction,
    run<O>(compiled: CompiledQuery<O>): Promise<QueryResult<O>> {
      const started = performance.now();
      try {
        const stmt = db.prepare(compiled.sql);
        if (stmt.reader) return Promise.resolve({ rows: stmt.all(compiled.parameters) as O[] });
        const { changes, lastInsertRowid } = stmt.run(compiled.parameters);
        return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
      } catch (err) {
        return Promise.reject(err as Error);
      } finally {
        onStatement(compiled.sql, performance.now() - started);
      }
    },
  });
}
