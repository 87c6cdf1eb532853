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
import { type ControlPlaneRun, controlPlaneRows, FAKE_POOL, interleave, measureAgainstReference, type SlicedLoad, slicedWorkers, VOLUME_BYTES } from './control-plane.js';
import { type BenchContext, type BenchRow, type Benchmark, ratioOf, skippedRow } from './harness.js';
import { BENCH_SERVICE } from './server-process.js';
import { CONCURRENCY, FULL_RUN, QUICK_RUN } from './throughput.js';

const INSERT_VOLUME = `insert into volumes (id, name, service, pool, profile, size_bytes, status, status_reason, labels, fields,
  backend_id, source_kind, source_id, created_at, updated_at) values ($1, $2, $3, $4, 'default', $5, 'available', null, '{}', '{}', $1, null, null, $6, $6)`;

/**
 * `concurrency` connections to a fresh database with Polly's schema (migrated by Store.open), the bench
 * service and the fake pool: what the raw references run on. `close` releases them and drops it.
 */
async function rawConnections(concurrency: number): Promise<{ clients: pg.PoolClient[]; close: () => Promise<void> }> {
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
  return { clients, close };
}

/** The raw limit: insert+delete transactions from `concurrency` connections on a fresh database with Polly's schema. */
export async function openRawPg(concurrency: number): Promise<SlicedLoad> {
  const { clients, close } = await rawConnections(concurrency);
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

const EVENT = `insert into events (at, type, service, object_id, data, actor, request_id) values ($1, $2, $3, $4, '{}', null, null)`;
const CHARGE = `with p as (update pools set allocated_bytes = allocated_bytes + $1, volume_count = volume_count + $2 where name = $3 returning name)
  insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes) select $4, 'default', $2, $1, 0, 0 from p
  on conflict (service, profile) do update set volumes = service_usage.volumes + excluded.volumes, bytes = service_usage.bytes + excluded.bytes returning 1`;
const DELETE_REFUND = `with gone as (delete from volumes where id = $1 returning pool, service, profile, size_bytes),
  p as (update pools set allocated_bytes = pools.allocated_bytes - gone.size_bytes, volume_count = pools.volume_count - 1 from gone where pools.name = gone.pool returning pools.name)
  insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes) select gone.service, gone.profile, -1, -gone.size_bytes, 0, 0 from gone, p
  on conflict (service, profile) do update set volumes = service_usage.volumes + excluded.volumes, bytes = service_usage.bytes + excluded.bytes`;

/**
 * Which of the shared counter rows (the pool's and the service's usage) the ceiling's transactions update:
 * `both` is Polly's design (the create charges them, the delete refunds them); `charge` leaves the refund
 * out (what a delete that queued its refund for a later batch would cost); `none` leaves both out (the
 * same transactions with no hot row at all). Only `both` keeps the counters true; the others measure
 * what the counters cost.
 */
export type CounterRows = 'both' | 'charge' | 'none';

/**
 * The ceiling of Polly's design on this database: exactly the transactions a create+delete pair must
 * commit (create intent with its event and the pool + usage charge, confirm, delete intent, delete with
 * the refund), with no HTTP, no reads before them and no server CPU, from `concurrency` connections. Two
 * of the four transactions update the pool's and the service's counter rows, which every pair shares:
 * those rows stay locked until the commit is on disk, so those commits go one at a time. `counters`
 * leaves some of those updates out (see CounterRows). `asyncSettle` commits the two transactions that
 * settle an intent (the create's confirm, the delete's removal with its refund) with `synchronous_commit =
 * off`: they return, and release their row locks, before their WAL is flushed (the next flush of any
 * later commit, or the WAL writer within a fraction of a second, makes them durable). Polly does not do
 * this; the row measures what it would gain.
 */
export async function openDesignPg(concurrency: number, counters: CounterRows = 'both', opts: { asyncSettle?: boolean } = {}): Promise<SlicedLoad> {
  const { clients, close } = await rawConnections(concurrency);
  const prefix = randomBytes(4).toString('hex');
  const trx = async (client: pg.PoolClient, steps: pg.QueryConfig[], settle = false) => {
    await client.query('begin');
    if (settle && opts.asyncSettle === true) await client.query('set local synchronous_commit = off');
    try {
      for (const q of steps) await client.query(q);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  };
  return slicedWorkers(
    concurrency,
    async (w, seq) => {
      const client = clients[w]!;
      const id = `vol-${Date.now().toString(16).padStart(12, '0')}${prefix}${w.toString(16).padStart(2, '0')}${(seq % 2 ** 24).toString(16).padStart(6, '0')}`;
      const now = new Date().toISOString();
      const ev = (type: string): pg.QueryConfig => ({ name: 'ev', text: EVENT, values: [now, type, BENCH_SERVICE, id] });
      const setStatus = (status: string): pg.QueryConfig => ({ name: 'st', text: 'update volumes set status = $1, updated_at = $2 where id = $3', values: [status, now, id] });
      const insert: pg.QueryConfig = { name: 'ins', text: INSERT_VOLUME, values: [id, `raw-${w}-${seq}`, BENCH_SERVICE, FAKE_POOL, VOLUME_BYTES, now] };
      const charge: pg.QueryConfig = { name: 'charge', text: CHARGE, values: [VOLUME_BYTES, 1, FAKE_POOL, BENCH_SERVICE] };
      await trx(client, counters === 'none' ? [insert, ev('volume.creating')] : [insert, ev('volume.creating'), charge]);
      await trx(client, [setStatus('available'), ev('volume.created')], true);
      await trx(client, [{ name: 'get', text: 'select * from volumes where id = $1', values: [id] }, setStatus('deleting'), ev('volume.deleting')]);
      const del: pg.QueryConfig =
        counters === 'both' ? { name: 'del', text: DELETE_REFUND, values: [id] } : { name: 'delonly', text: 'delete from volumes where id = $1', values: [id] };
      await trx(client, [ev('volume.deleted'), del], true);
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
  // What bounds Polly here, measured the same way: its transactions alone, against the same raw reference;
  // then the same without the refund, and without any counter update, to show what the hot rows cost.
  const ceilingOf = async (counters: CounterRows, asyncSettle = false) => {
    ctx.progress(`ceiling: Polly's four transactions per pair, raw (counter rows: ${counters}${asyncSettle ? '; settling commits asynchronous' : ''}), against the raw reference`);
    const design = await openDesignPg(CONCURRENCY, counters, { asyncSettle });
    try {
      const raw = await openRawPg(CONCURRENCY);
      try {
        return await interleave(ctx, design, raw, { rounds: run.rounds, pollyMs: run.referenceMs, referenceMs: run.referenceMs, warmupMs: 500 });
      } finally {
        await raw.close();
      }
    } finally {
      await design.close();
    }
  };
  const ceiling = await ceilingOf('both');
  const chargeOnly = await ceilingOf('charge');
  const noCounters = await ceilingOf('none');
  const asyncSettle = await ceilingOf('both', true);
  const rows = controlPlaneRows({
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
  const ceilingRatio = ratioOf(ceiling.pollyRate, ceiling.referenceRate);
  rows.splice(1, 0, {
    name: "P8 ceiling: Polly's 4 transactions per pair, raw, ÷ raw commit rate",
    polly: ceiling.pollyRate,
    reference: ceiling.referenceRate,
    ratio: ceilingRatio,
    goal: 'informational',
    unit: 'pairs/s',
    pass: null,
    params: {
      concurrency: CONCURRENCY,
      load: 'node-postgres, prepared: create intent (insert volume, event, pool+usage charge in one statement), confirm (update, event), delete intent (select, update, event), delete (event, delete+refund in one statement)',
      hotRows: 'the pool row and the service usage row, updated by 2 of the 4 transactions and locked until their commit is durable',
      pollyShareOfCeiling: ratioOf(result.pollyRate, ceiling.pollyRate),
      errors: ceiling.polly.errors,
      ...(ceiling.polly.firstError ? { firstError: ceiling.polly.firstError } : {}),
    },
  });
  const variant = (name: string, m: typeof ceiling, load: string): BenchRow => ({
    name,
    polly: m.pollyRate,
    reference: m.referenceRate,
    ratio: ratioOf(m.pollyRate, m.referenceRate),
    goal: 'informational',
    unit: 'pairs/s',
    pass: null,
    params: {
      concurrency: CONCURRENCY,
      load,
      counters: 'NOT kept true: this row only measures what the counter updates cost',
      timesTheCeiling: ratioOf(m.pollyRate, ceiling.pollyRate),
      errors: m.polly.errors,
      ...(m.polly.firstError ? { firstError: m.polly.firstError } : {}),
    },
  });
  rows.splice(
    2,
    0,
    variant('P8 ceiling without the refund (charge only), ÷ raw commit rate', chargeOnly, 'as the ceiling, but the delete does not refund the pool and usage rows'),
    variant('P8 ceiling without counter rows, ÷ raw commit rate', noCounters, 'as the ceiling, with no update of the pool or usage rows at all'),
    {
      ...variant(
        'P8 ceiling with asynchronous settling commits, ÷ raw commit rate',
        asyncSettle,
        'as the ceiling (counters kept), but the confirm and the final delete+refund commit with synchronous_commit = off',
      ),
      params: {
        concurrency: CONCURRENCY,
        load: 'as the ceiling (counters kept), but the confirm and the final delete+refund commit with synchronous_commit = off',
        durability: 'NOT what Polly does: an acknowledged confirm or delete may be lost in a crash and is then redone by the reconciler from its durable intent',
        timesTheCeiling: ratioOf(asyncSettle.pollyRate, ceiling.pollyRate),
        errors: asyncSettle.polly.errors,
      },
    },
  );
  return rows;
}

export const postgresBenchmark: Benchmark = {
  id: 'P8',
  name: 'postgres',
  title: 'control-plane throughput (PostgreSQL)',
  run: (ctx) => runPostgresBench(ctx, { quick: ctx.quick }),
};
