import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StorageDriver } from '../core/ports/driver.js';
import { isPollyError } from '../core/errors.js';

export const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Help of `polly_rpc_duration_seconds`, the same on the server's and on an agent's /metrics. */
export const RPC_HELP =
  'Protocol calls served, by frontend (csi: the server\'s Identity/Controller/GroupController; csi-node: an agent\'s Identity/Node; docker: an agent\'s VolumeDriver plugin), method and code (the gRPC status name; docker: ok or the Polly error code)';

/**
 * What a frontend needs to time its calls: a prom-client `Histogram<'frontend' | 'method' | 'code'>` is
 * one. Frontends take this shape, not prom-client, so an agent without metrics never loads it.
 */
export interface RpcTimer {
  startTimer(labels: { frontend: string; method: string }): (end: { code: string }) => unknown;
}

/** The driver calls timed by `instrumentDriver`. */
const DRIVER_OPS = ['init', 'capacity', 'create', 'delete', 'expand', 'snapshot', 'deleteSnapshot', 'usage', 'list'] as const;

/**
 * The process's Prometheus registry and the counters/histograms that code paths feed as they run. Gauges
 * (pools, volumes, attachments) are not here: they are computed from the store at scrape time
 * (api/rest/metrics.ts), so they can never drift from the state.
 */
export class Telemetry {
  readonly registry = new Registry();
  readonly driverOps = new Histogram({
    name: 'polly_driver_operation_duration_seconds',
    help: 'Storage driver calls by driver, operation and outcome (ok or the error code)',
    labelNames: ['driver', 'op', 'outcome'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly rpc = new Histogram({
    name: 'polly_rpc_duration_seconds',
    help: RPC_HELP,
    labelNames: ['frontend', 'method', 'code'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly reconcilerRuns = new Counter({
    name: 'polly_reconciler_runs_total',
    help: 'Reconciler passes run',
    registers: [this.registry],
  });
  /** Leadership as this replica last found it: set by the background loops' leader check. */
  readonly leader = new Gauge({
    name: 'polly_leader',
    help: '1 while this replica holds the leader lock (PostgreSQL advisory lock; always 1 on SQLite) and runs the background loops, else 0',
    registers: [this.registry],
  });
  readonly leaderLoopRun = new Gauge({
    name: 'polly_leader_loop_last_run_timestamp_seconds',
    help: 'When this replica last started a background loop (reconciler, offer expiry, …) as the leader, in Unix seconds; 0 before',
    registers: [this.registry],
  });
  readonly reconcilerRepairs = new Counter({
    name: 'polly_reconciler_repairs_total',
    help: 'Operations the reconciler finished or retried, by kind (volumesCreated, retried, failed, …)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /** Wraps a driver so every data-path call is timed; the driver itself is unchanged. */
  instrumentDriver(driver: StorageDriver): StorageDriver {
    const ops = new Set<string>(DRIVER_OPS);
    const histogram = this.driverOps;
    return new Proxy(driver, {
      get(target, prop) {
        // Read on the driver itself, not the proxy: a getter reading a private field (#x) would throw
        // "Cannot read private member" with the proxy as `this`.
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof prop !== 'string' || !ops.has(prop) || typeof value !== 'function') {
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        const fn = value as (...a: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          const end = histogram.startTimer({ driver: target.driverName, op: prop });
          try {
            const result = await fn.apply(target, args);
            end({ outcome: 'ok' });
            return result;
          } catch (err) {
            end({ outcome: isPollyError(err) ? err.code : 'INTERNAL' });
            throw err;
          }
        };
      },
    });
  }
}
