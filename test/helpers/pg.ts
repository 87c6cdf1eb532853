import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactUrl } from '../../src/store/store.js';

/**
 * The PostgreSQL the tests use. `scripts/pretest.sh` (run by `npm test`) starts PostgreSQL 15 and creates
 * this role and database; the role has CREATEDB so each test gets a database of its own.
 */
export const PG_TEST_URL = process.env.POLLY_TEST_PG_URL ?? 'postgres://polly_test:polly_test@127.0.0.1:5432/polly_test';

const CONNECT_TIMEOUT_MS = 5_000;

/** True under CI, where PostgreSQL tests must fail rather than skip when the database is missing. */
export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // A connection that dies while idle must not crash the test process; the query in flight reports it.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

let availability: Promise<string | null> | undefined;

/** Why PostgreSQL cannot be used (null when it can); probed once per test file. */
function unavailableReason(): Promise<string | null> {
  availability ??= withClient(PG_TEST_URL, async (client) => {
    await client.query('select 1');
    return null;
  }).catch((err: unknown) => `PostgreSQL at ${redactUrl(PG_TEST_URL)} is unreachable (${(err as Error).message})`);
  return availability;
}

export async function pgAvailable(): Promise<boolean> {
  return (await unavailableReason()) === null;
}

/**
 * Null when PostgreSQL tests should run; otherwise why they are skipped. Under CI they always run, so an
 * unreachable database fails them instead of silently skipping them.
 */
export async function pgSkipReason(): Promise<string | null> {
  const reason = await unavailableReason();
  if (reason === null || inCi()) return null;
  return `${reason}; run \`bash scripts/pretest.sh\` or set POLLY_TEST_PG_URL`;
}

export interface FreshPgDatabase {
  url: string;
  /** Terminates the database's connections and drops it; calling it again does nothing. */
  drop(): Promise<void>;
}

/** Creates an empty, uniquely named database owned by the test role and returns its URL. */
export async function freshPgDatabase(): Promise<FreshPgDatabase> {
  const reason = await unavailableReason();
  if (reason !== null) throw new Error(`${reason}; run \`bash scripts/pretest.sh\` or set POLLY_TEST_PG_URL`);
  // Lower-case letters and digits only: a valid identifier without quoting.
  const name = `polly_t_${randomBytes(8).toString('hex')}`;
  await withClient(PG_TEST_URL, (client) => client.query(`create database ${name}`));
  const url = new URL(PG_TEST_URL);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      dropped ??= withClient(PG_TEST_URL, async (client) => {
        // Only our own sessions: an autovacuum worker on the database is a superuser process that the
        // test role may not terminate, and `drop … with (force)` makes it exit anyway.
        await client.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and usename = current_user and pid <> pg_backend_pid()',
          [name],
        );
        // A background worker that starts on the database meanwhile can make one attempt fail: retry.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.query(`drop database if exists ${name} with (force)`);
            return;
          } catch (err) {
            if (attempt >= 5) throw err;
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
      });
      return dropped;
    },
  };
}

/** The store a test runs on: the embedded SQLite (no URL) or a fresh PostgreSQL database. */
export interface StoreUnderTest {
  /** For startPolly's `databaseUrl`; undefined for the embedded SQLite store. */
  databaseUrl: string | undefined;
  /** Drops the PostgreSQL database; nothing for SQLite. */
  drop(): Promise<void>;
}

/**
 * A store of `kind` for a test file that runs once per store. PostgreSQL that is unavailable fails the
 * file (these tests prove races on it, so skipping would hide them), naming how to provide it.
 */
export async function storeUnderTest(kind: 'sqlite' | 'postgres'): Promise<StoreUnderTest> {
  if (kind === 'sqlite') return { databaseUrl: undefined, drop: async () => undefined };
  const reason = await pgSkipReason();
  if (reason) throw new Error(reason);
  const db = await freshPgDatabase();
  return { databaseUrl: db.url, drop: () => db.drop() };
}
