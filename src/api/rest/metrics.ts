import { hostname } from 'node:os';
import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { PollyApp } from '../../app/polly-app.js';
import { ADMIN } from '../../core/types.js';
import { VERSION } from '../../version.js';
import type { RestApp } from './rest-api.js';

/**
 * Prometheus metrics at /metrics. Counters and histograms are fed as work runs (app/telemetry.ts and the
 * request hook below); every gauge is computed at scrape time from the store with one aggregate query
 * each, so none is maintained by hand and none can drift from the state.
 */
export function registerMetrics(fastify: RestApp, app: PollyApp): void {
  const registry = app.ctx.telemetry.registry;
  const db = app.ctx.store.db;
  collectDefaultMetrics({ register: registry, prefix: 'polly_' });
  const requests = new Counter({
    name: 'polly_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'polly_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'polly_build_info',
    help: 'Always 1; the labels say which build runs where',
    labelNames: ['version', 'node', 'replica', 'store', 'nodejs'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const c = app.ctx.config;
      this.set({ version: VERSION, node: hostname(), replica: c.replicaId, store: app.ctx.store.dialect, nodejs: process.version }, 1);
    },
  });
  const poolGauge = (name: string, help: string, pick: (p: Awaited<ReturnType<typeof app.pools.list>>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'driver'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of await app.pools.list(ADMIN)) this.set({ pool: p.name, driver: p.driver }, pick(p));
      },
    });
  poolGauge('polly_pool_total_bytes', 'Backend capacity of the pool (statfs or the platform’s answer)', (p) => p.capacity.totalBytes);
  poolGauge('polly_pool_free_bytes', 'Backend free bytes of the pool', (p) => p.capacity.freeBytes);
  poolGauge('polly_pool_allocated_bytes', 'Bytes provisioned to volumes, per pool', (p) => p.capacity.allocatedBytes);
  poolGauge('polly_pool_over_subscription_ratio', 'Configured over-subscription ratio of the pool', (p) => p.overSubscriptionRatio);
  poolGauge('polly_pool_volumes', 'Volumes per pool', (p) => p.capacity.volumeCount);
  // Volumes and snapshots are counted the same way: rows by pool and status, deleted ones left out.
  const byPoolAndStatus = (table: 'volumes' | 'snapshots', name: string, help: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'status'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await db
          .selectFrom(table)
          .select(['pool', 'status', (eb) => eb.fn.countAll<string | number>().as('n')])
          .where('status', '!=', 'deleted')
          .groupBy(['pool', 'status'])
          .execute();
        for (const r of rows) this.set({ pool: r.pool, status: r.status }, Number(r.n));
      },
    });
  byPoolAndStatus('volumes', 'polly_volumes', 'Volumes by pool and status (deleted ones are not counted)');
  byPoolAndStatus('snapshots', 'polly_snapshots', 'Snapshots by pool and status (deleted ones are not counted)');
  new Gauge({
    name: 'polly_attachments',
    help: 'Live attachments by node',
    labelNames: ['node'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db
        .selectFrom('attachments')
        .select(['node', (eb) => eb.fn.countAll<string | number>().as('n')])
        .where('status', '=', 'live')
        .groupBy('node')
        .execute();
      for (const r of rows) this.set({ node: r.node }, Number(r.n));
    },
  });

  const stats = app.ctx.store.stats;
  for (const [name, help, read] of [
    ['polly_store_statements_total', 'SQL statements the store ran (BEGIN, COMMIT and ROLLBACK not counted)', () => stats.statements],
    ['polly_store_transactions_total', 'Store transactions begun', () => stats.transactions],
    ['polly_store_round_trips_total', 'Round trips to the database server (PostgreSQL: statements + the BEGINs, COMMITs and ROLLBACKs sent; SQLite: 0)', () => stats.roundTrips],
    ['polly_store_commits_total', 'COMMITs the store ran (a group commit counts once)', () => stats.commits],
    ['polly_store_deferred_commits_total', 'Of those COMMITs, the ones that did not wait for the disk (SQLite: the confirmation of a create, the removal of a deleted volume)', () => stats.deferredCommits],
    ['polly_store_commit_seconds_total', 'Time the database driver took for COMMITs (SQLite: including the fsync)', () => stats.commitSeconds],
    ['polly_store_statement_seconds_total', 'Time the database driver took for every statement but COMMIT', () => stats.statementSeconds],
  ] as const) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    requests.inc({ method: request.method, route, status });
    latency.observe({ method: request.method, route, status }, reply.elapsedTime / 1000);
  });
  fastify.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
