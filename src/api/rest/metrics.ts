import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PollyApp } from '../../app/polly-app.js';
import type { RestApp } from './rest-api.js';

/** Prometheus metrics at /metrics: request rate and latency per route, and per-pool allocation. */
export function registerMetrics(fastify: RestApp, app: PollyApp): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'polly_' });
  const requests = new Counter({
    name: 'polly_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'polly_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'polly_pool_allocated_bytes',
    help: 'Bytes provisioned to volumes, per pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of await app.ctx.store.db.selectFrom('pools').select(['name', 'allocated_bytes', 'volume_count']).execute()) {
        this.set({ pool: p.name }, Number(p.allocated_bytes));
      }
    },
  });
  new Gauge({
    name: 'polly_pool_volumes',
    help: 'Volumes per pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of await app.ctx.store.db.selectFrom('pools').select(['name', 'volume_count']).execute()) {
        this.set({ pool: p.name }, Number(p.volume_count));
      }
    },
  });

  const stats = app.ctx.store.stats;
  for (const [name, help, read] of [
    ['polly_store_statements_total', 'SQL statements the store ran', () => stats.statements],
    ['polly_store_transactions_total', 'Store transactions begun', () => stats.transactions],
    ['polly_store_round_trips_total', 'Round trips to the database server (PostgreSQL: statements + BEGIN + COMMIT; SQLite: 0)', () => stats.roundTrips],
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
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  fastify.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
