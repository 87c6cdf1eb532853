import type { Logger } from 'pino';
import type { PollyConfig } from '../config/config.js';
import type { StorageDriver } from '../core/ports/driver.js';
import type { Store } from '../store/store.js';
import type { EventBus } from './event-bus.js';
import type { Replica } from './replica.js';
import type { Telemetry } from './telemetry.js';

/** What every use case needs: the store, one driver per pool, the event bus, a clock, a logger. */
export interface AppContext {
  store: Store;
  drivers: Map<string, StorageDriver>;
  events: EventBus;
  clock: Clock;
  log: Logger;
  config: PollyConfig;
  /** This process among the replicas sharing the store: the owner written on every intent. */
  replica: Replica;
  /** Prometheus counters and histograms fed as work runs (gauges are read from the store at scrape). */
  telemetry: Telemetry;
  /** Builds the driver for a pool (the composition root's registry), for pools added at run time. */
  makeDriver(pool: { name: string; driver: string; parameters: Record<string, string> }): StorageDriver;
}

/** Injectable time, so expiry can be tested without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export { currentScope, runInScope, asSystem, type Actor, type RequestScope } from './request-scope.js';
