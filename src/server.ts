import { mkdirSync, readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { startEmbeddedAgent } from './agent/embedded.js';
import type { RunningAgent } from './agent/run.js';
import { startCsiServer, type CsiServerHandle } from './api/csi/csi-server.js';
import { buildRestApi, type RestApp } from './api/rest/rest-api.js';
import { systemClock, type AppContext, type Clock } from './app/context.js';
import { EventBus } from './app/event-bus.js';
import { PollyApp } from './app/polly-app.js';
import { ensureAdminToken, ensureDeclaredServices, syncDeclaredObjects } from './bootstrap.js';
import { poolParameters, type PollyConfig } from './config/config.js';
import { PollyError } from './core/errors.js';
import type { StorageDriver } from './core/ports/driver.js';
import { createDriver } from './drivers/registry.js';
import { LeaderLock } from './store/leader-lock.js';
import { listPools } from './store/repos/pools.js';
import { redactUrl, Store } from './store/store.js';
import { VERSION } from './version.js';

export interface ServerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Skip listening (tests that use fastify.inject). */
  listen?: boolean;
}

/**
 * The composition root: configuration → store → drivers → use cases → frontends. Nothing else in the
 * code base wires adapters together.
 */
export class PollyServer {
  readonly config: PollyConfig;
  readonly app: PollyApp;
  readonly rest: RestApp;
  readonly log: Logger;
  /** Where the generated admin token was written, when it was. */
  readonly adminTokenFile: string | undefined;
  #timers: NodeJS.Timeout[] = [];
  #csi: CsiServerHandle[] = [];
  #agent: RunningAgent | undefined;
  readonly #leader: LeaderLock;
  #url = '';
  #stopped = false;

  private constructor(config: PollyConfig, app: PollyApp, rest: RestApp, log: Logger, adminTokenFile: string | undefined) {
    this.config = config;
    this.app = app;
    this.rest = rest;
    this.log = log;
    this.adminTokenFile = adminTokenFile;
    this.#leader = new LeaderLock(app.ctx.store.url, app.ctx.store.dialect);
  }

  /** Whether this replica runs the background loops (always, on SQLite). */
  isLeader(): Promise<boolean> {
    return this.#leader.isLeader();
  }

  get url(): string {
    return this.#url;
  }

  /** The CSI endpoints served, as really listened on. */
  get csiEndpoints(): string[] {
    return this.#csi.map((c) => c.endpoint);
  }

  static async create(config: PollyConfig, opts: ServerOptions = {}): Promise<PollyServer> {
    const log = opts.logger ?? pino({ level: config.logLevel, base: { app: 'polly' } });
    mkdirSync(config.dataDir, { recursive: true });
    const store = await Store.open({ url: config.databaseUrl });
    const drivers = new Map<string, StorageDriver>();
    const events = new EventBus(store);
    try {
      const makeDriver = (pool: { name: string; driver: string; parameters: Record<string, string> }) =>
        createDriver(pool.driver, { poolName: pool.name, parameters: pool.parameters, dataDir: config.dataDir });
      const initDriver = async (pool: { name: string; driver: string; parameters: Record<string, string> }) => {
        const driver = makeDriver(pool);
        try {
          await driver.init();
        } catch (err) {
          await driver.close().catch(() => undefined);
          const reason = (err as Error).message;
          throw new PollyError('VALIDATION_FAILED', reason.includes(pool.name) ? reason : `pool ${pool.name}: ${reason}`);
        }
        return driver;
      };
      // Pools the configuration declares are checked before they are written: a bad one stops the start,
      // naming the pool, and leaves nothing behind that would block the next start once it is fixed.
      for (const p of config.pools) {
        const parameters = poolParameters(p);
        drivers.set(p.name, await initDriver({ name: p.name, driver: p.driver, parameters }));
      }
      await syncDeclaredObjects(store, config);
      // Pools added at run time (REST) whose backend fails now do not stop the server: the others are
      // served, and that pool's driver is loaded again on first use, failing there with the reason.
      for (const pool of await listPools(store.db)) {
        if (drivers.has(pool.name)) continue;
        try {
          drivers.set(pool.name, await initDriver(pool));
        } catch (err) {
          log.error({ err, pool: pool.name }, 'pool backend unusable; its volumes are unavailable until it is fixed');
        }
      }
      const ctx: AppContext = { store, drivers, events, clock: opts.clock ?? systemClock, log, config, makeDriver };
      const app = new PollyApp(ctx);
      const adminTokenFile = await ensureAdminToken(app, config);
      await ensureDeclaredServices(app, config);
      // With SQLite this process is the only writer, so every intent in the file is a crash's leftover.
      await app.reconciler.run(store.dialect === 'sqlite' ? 0 : 60_000);
      const tls = config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined;
      const rest = await buildRestApi(app, { logger: log, version: VERSION, https: tls });
      return new PollyServer(config, app, rest, log, adminTokenFile);
    } catch (err) {
      events.close();
      await Promise.all([...drivers.values()].map((d) => d.close().catch(() => undefined)));
      await store.close();
      throw err;
    }
  }

  async start(): Promise<void> {
    const { host, port } = this.config.listen;
    const address = await this.rest.listen({ host, port });
    this.#url = address.replace('[::1]', 'localhost');
    const scheme = this.config.tls ? 'https' : 'http';
    if (!this.#url.startsWith('http')) this.#url = `${scheme}://${this.#url}`;
    this.app.events.startPolling(2_000);
    for (const csi of this.config.csi) this.#csi.push(await startCsiServer(this.app, csi));
    this.#agent = await startEmbeddedAgent(this.config, this);
    // Background loops run on the leader only (any replica serves requests). Each loop is also safe if two
    // replicas overlap for a moment: every state change they make is a compare-and-set.
    const lead = (what: string, fn: () => Promise<unknown>) => async () => {
      if (!(await this.#leader.isLeader())) return;
      await fn().catch((err: unknown) => this.log.warn({ err }, `${what} failed`));
    };
    const every = this.config.reconcileIntervalSeconds * 1000;
    this.#timers.push(
      setInterval(lead('reconcile pass', () => this.app.reconciler.run(60_000)), every),
      setInterval(lead('idempotency expiry', () => this.app.idempotency.expire()), every),
      // Offers and reservations lapse on time; a short tick keeps the stream close to the TTLs.
      setInterval(lead('offer expiry', () => this.app.offers.expire()), 1_000),
      setInterval(lead('offer refresh', () => this.app.offers.refreshAll()), 10_000),
    );
    for (const t of this.#timers) t.unref();
    this.log.info({ url: this.#url, store: redactUrl(this.app.ctx.store.url), pools: [...this.app.ctx.drivers.keys()] }, 'polly listening');
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.app.events.close();
    await this.#agent?.stop();
    await Promise.all(this.#csi.map((c) => c.stop()));
    await this.#leader.close();
    await this.rest.close();
    await Promise.all([...this.app.ctx.drivers.values()].map((d) => d.close().catch(() => undefined)));
    await this.app.ctx.store.close();
  }
}
