/**
 * P8 PostgreSQL: the P1 workload (create+delete pairs over real HTTP, 32 concurrent connections, a `fake`
 * pool) against a server whose store is PostgreSQL, ÷ the raw commit rate of an equivalent transaction
 * (BEGIN; insert a volumes row; delete it; COMMIT) from 32 concurrent connections on a database with
 * Polly's schema. Each side has a fresh database; they run in alternating slices. Needs the test
 * PostgreSQL (`bash scripts/pretest.sh`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Store } from '../src/store/store.js';
import { freshPgDatabase, PG_TEST_URL, pgAvailable } from '../test/helpers/pg.js';
import { type ControlPlaneRun, controlPlaneRows, FAKE_POOL, measureAgainstReference, type SlicedLoad, slicedWorkers, VOLUME_BYTES } from './control-plane.js';
import { type BenchContext, type BenchRow, type Benchmark, skippedRow } from './harness.js';
import { BENCH_SERVICE } from './server-process.js';
import { CONCURRENCY, FULL_RUN, QUICK_RUN } from './throughput.js';

const INSERT_VOLUME = `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields,
  backend_id, source_kind, source_id, created_at, updated_at) values ($1, $2, $3, $4, 'default', $5, 'available', null, '{}', '{}', $1, null, null, $6, $6)`;

/** The raw limit: insert+delete transactions from `concurrency` connections on a fresh database with Polly's schema. */
export async function openRawPg(concurrency: number): Promise<SlicedLoad> {
  const database = await freshPgDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: concurrency });
  pool.on('error', () => undefined);
  const clients: pg.PoolClient[] = [];
  const close = async () => {
    for (const c of clients) c.release();
    await pool.end();
    await database.drop();
  };
  try {
    const store = await Store.open({ url: database.url });
    await store.close();
    const at = new Date().toISOString();
    await pool.query(`insert into services (name, labels, created_at) values ($1, '{}', $2)`, [BENCH_SERVICE, at]);
    await pool.query(
      `insert into pools (name, driver, parameters, labels, topology, state, over_subscription_ratio, reserved_percent, allocated_bytes, volume_count, created_at)
       values ($1, 'fake', '{}', '{}', '{}', 'enabled', 1, 0, 0, 0, $2)`,
      [FAKE_POOL, at],
    );
    for (let i = 0; i < concurrency; i++) clients.push(await pool.connect());
  } catch (err) {
    await close();
    throw err;
  }
  const prefix = randomBytes(4).toString('hex');
  return slicedWorkers(
    concurrency,
    async (w, seq) => {
      const client = clients[w]!;
      const id = `vol-${Date.now().toString(16).padStart(12, '0')}${prefix}${w.toString(16).padStart(2, '0')}${(seq % 2 ** 24).toString(16).padStart(6, '0')}`;
      await client.query('begin');
      try {
        await client.query({ name: 'ins', text: INSERT_VOLUME, values: [id, `raw-${w}-${seq}`, BENCH_SERVICE, FAKE_POOL, VOLUME_BYTES, new Date().toISOString()] });
        await client.query({ name: 'del', text: 'delete from volumes where id = $1', values: [id] });
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      }
    },
    close,
  );
}

export async function runPostgresBench(ctx: BenchContext, opts: { quick: boolean; run?: ControlPlaneRun }): Promise<BenchRow[]> {
  const goal = 'ratio ≥ 0.4';
  if (!(await pgAvailable())) {
    const where = PG_TEST_URL.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
    return [skippedRow('P8 PostgreSQL create+delete pairs/s ÷ raw commit rate', goal, `PostgreSQL at ${where} is unreachable; run \`bash scripts/pretest.sh\``)];
  }
  const run = opts.run ?? (opts.quick ? QUICK_RUN : FULL_RUN);
  const database = await freshPgDatabase();
  let result;
  try {
    result = await measureAgainstReference(ctx, 'P8-postgres', {
      ...run,
      databaseUrl: database.url,
      concurrency: CONCURRENCY,
      openReference: () => openRawPg(CONCURRENCY),
    });
  } finally {
    await database.drop();
  }
  return controlPlaneRows({
    prefix: 'P8 PostgreSQL',
    result,
    ratioGoal: 0.4,
    opsGoal: undefined,
    params: {
      concurrency: CONCURRENCY,
      store: 'PostgreSQL 15 (fresh database; the store uses its default pool of 10 connections)',
      driver: 'fake latencyMs=0',
      server: 'child process: node bin/polly.js server',
      ...run,
      reference: `node-postgres, ${CONCURRENCY} connections, BEGIN; insert a volumes row; delete it; COMMIT (prepared statements)`,
    },
  });
}

export const postgresBenchmark: Benchmark = {
  id: 'P8',
  name: 'postgres',
  title: 'control-plane throughput (PostgreSQL)',
  run: (ctx) => runPostgresBench(ctx, { quick: ctx.quick }),
};
