import { mkdirSync, readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import type { RunningAgent } from './agent/run.js';
import type { CsiServerHandle } from './api/csi/csi-server.js';
import type { OsbServerHandle } from './api/osb/osb-api.js';
import { buildRestApi, type RestApp } from './api/rest/rest-api.js';
import { systemClock, type AppContext, type Clock } from './app/context.js';
import { EventBus } from './app/event-bus.js';
import { PollyApp } from './app/polly-app.js';
import { Replica } from './app/replica.js';
import { ensureAdminToken, ensureDeclaredServices, ensureNodeCredentials, syncDeclaredObjects } from './bootstrap.js';
import { poolParameters, type PollyConfig } from './config/config.js';
import { PollyError } from './core/errors.js';
import type { StorageDriver } from './core/ports/driver.js';
import { createDriver, LOG_REDACT_PATHS } from './drivers/registry.js';
import { LeaderLock } from './store/leader-lock.js';
import { listPools } from './store/repos/pools.js';
import { redactUrl, Store } from './store/store.js';
import { VERSION } from './version.js';
import { asSystem } from './app/request-scope.js';
import { Telemetry } from './app/telemetry.js';

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
  #osb: OsbServerHandle | undefined;
  readonly #leader: LeaderLock;
  #url = '';
  #stopped = false;
  #wasLeader = false;

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

  /** The Open Service Broker's URL, when `osb` is configured. */
  get osbUrl(): string | undefined {
    return this.#osb?.url;
  }

  /** The CSI endpoints served, as really listened on. */
  get csiEndpoints(): string[] {
    return this.#csi.map((c) => c.endpoint);
  }

  static async create(config: PollyConfig, opts: ServerOptions = {}): Promise<PollyServer> {
    const log = opts.logger ?? pino({ level: config.logLevel, base: { app: 'polly' }, redact: LOG_REDACT_PATHS });
    mkdirSync(config.dataDir, { recursive: true });
    const store = await Store.open({ url: config.databaseUrl });
    const drivers = new Map<string, StorageDriver>();
    const events = new EventBus(store);
    try {
      const telemetry = new Telemetry();
      const makeDriver = (pool: { name: string; driver: string; parameters: Record<string, string> }) =>
        telemetry.instrumentDriver(createDriver(pool.driver, { poolName: pool.name, parameters: pool.parameters, dataDir: config.dataDir }));
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
      const clock = opts.clock ?? systemClock;
      const replica = new Replica(store, clock, config.replicaId, config.replicaTimeoutSeconds);
      // Registering replaces this name's previous incarnation: what a crash of it left is orphaned now.
      await replica.register();
      const ctx: AppContext = { store, drivers, events, clock, log, config, makeDriver, replica, telemetry };
      const app = new PollyApp(ctx);
      const adminTokenFile = await ensureAdminToken(app, config);
      await ensureDeclaredServices(app, config);
      await ensureNodeCredentials(app, config);
      // Intents of dead owners (on SQLite: every intent in the file) are finished before serving, so a
      // client retrying after the restart finds its operation done.
      await app.reconciler.run();
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

  #tls(): { cert: Buffer; key: Buffer } | undefined {
    return this.config.tls ? { cert: readFileSync(this.config.tls.certFile), key: readFileSync(this.config.tls.keyFile) } : undefined;
  }

  /**
   * Reads the certificate and key files again and swaps them into the listening REST server (new
   * connections get the new pair; open ones and the listener are kept). Called on SIGHUP by `polly
   * server`. False when TLS is not configured; throws when the files cannot be read or do not match, and
   * then the previous pair stays in use.
   */
  reloadTls(): boolean {
    const tls = this.#tls();
    if (!tls) return false;
    const server = this.rest.server as unknown as { setSecureContext?: (opts: { cert: Buffer; key: Buffer }) => void };
    if (typeof server.setSecureContext !== 'function') return false;
    server.setSecureContext(tls); // validates the pair (throws on a mismatch) before replacing it
    // The other TLS listeners take the same pair; the REST swap above already proved it usable.
    this.#osb?.setSecureContext?.(tls);
    for (const csi of this.#csi) if (csi.secure) csi.setSecureContext(tls);
    this.log.info({ certFile: this.config.tls?.certFile, csi: this.#csi.filter((c) => c.secure).map((c) => c.endpoint), osb: this.#osb?.secure ?? false }, 'TLS certificate reloaded');
    return true;
  }

  async start(): Promise<void> {
    const { host, port } = this.config.listen;
    const address = await this.rest.listen({ host, port });
    this.#url = address.replace('[::1]', 'localhost');
    const scheme = this.config.tls ? 'https' : 'http';
    if (!this.#url.startsWith('http')) this.#url = `${scheme}://${this.#url}`;
    this.app.events.startPolling(2_000);
    // Frontends that are off cost nothing at start: gRPC (CSI), the broker's listener and the embedded
    // agent are loaded only when configured (they are most of the start-up's module loading otherwise).
    if (this.config.csi.length > 0) {
      const { startCsiServer } = await import('./api/csi/csi-server.js');
      for (const csi of this.config.csi) this.#csi.push(await startCsiServer(this.app, { ...csi, tls: csi.tls ? this.#tls() : undefined }));
    }
    if (this.config.osb) {
      const { startOsbServer } = await import('./api/osb/osb-api.js');
      this.#osb = await startOsbServer(this.app, this.config.osb, { logger: this.log, https: this.config.osb.tls === false ? undefined : this.#tls() });
    }
    if (this.config.agent.enabled) {
      const { startEmbeddedAgent } = await import('./agent/embedded.js');
      this.#agent = await startEmbeddedAgent(this.config, this);
    }
    // Background loops run on the leader only (any replica serves requests). Each loop is also safe if two
    // replicas overlap for a moment: every state change they make is a compare-and-set.
    const telemetry = this.app.ctx.telemetry;
    const lead = (what: string, fn: () => Promise<unknown>) => async () => {
      const leader = await this.#leader.isLeader();
      telemetry.leader.set(leader ? 1 : 0);
      if (!leader) return;
      telemetry.leaderLoopRun.set(Date.now() / 1000);
      await asSystem(what.replaceAll(' ', '-'), fn).catch((err: unknown) => this.log.warn({ err }, `${what} failed`));
    };
    const every = this.config.reconcileIntervalSeconds * 1000;
    this.#timers.push(
      setInterval(lead('reconcile pass', () => this.app.reconciler.run()), every),
      setInterval(lead('drift check', () => this.app.reconciler.checkDrift()), every),
      // Every replica says it is alive; the leader also notices replicas that stopped saying so and
      // finishes their intents right away instead of at the next pass.
      setInterval(() => void this.#heartbeat(), this.config.replicaHeartbeatSeconds * 1000),
      setInterval(lead('idempotency expiry', () => this.app.idempotency.expire()), every),
      // Offers and reservations lapse on time; a short tick keeps the stream close to the TTLs.
      setInterval(lead('offer expiry', () => this.app.offers.expire()), 1_000),
      setInterval(lead('offer refresh', () => this.app.offers.refreshAll()), 10_000),
    );
    for (const t of this.#timers) t.unref();
    this.log.info({ url: this.#url, store: redactUrl(this.app.ctx.store.url), pools: [...this.app.ctx.drivers.keys()] }, 'polly listening');
  }

  async #heartbeat(): Promise<void> {
    const replica = this.app.ctx.replica;
    try {
      const { renamed, rejoined } = await replica.heartbeat();
      if (rejoined) this.log.warn({ replica: replica.name }, 'the other replicas had forgotten this one as silent (store out of reach); joined again');
      if (renamed) this.log.error({ replica: replica.name }, 'another server started under this replica id; give every replica its own replicaId');
      // Every replica follows departures, so that a replica that becomes leader because the leader left
      // knows it, and a new leader sweeps at once.
      const departed = await replica.departures();
      const leader = await this.#leader.isLeader();
      const becameLeader = leader && !this.#wasLeader;
      this.#wasLeader = leader;
      if (leader && (departed || becameLeader)) {
        if (departed) this.log.info('a replica left or went silent; finishing its interrupted operations');
        await this.app.reconciler.run();
      }
    } catch (err) {
      this.log.warn({ err }, 'replica heartbeat failed');
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.app.events.close();
    await this.#agent?.stop();
    await Promise.all(this.#csi.map((c) => c.stop()));
    await this.#osb?.stop();
    await this.rest.close();
    // Requests have finished: leaving lets the others take over anything left at once. Leave before the
    // leadership goes, so the replica that takes it over sees this one gone in its first sweep.
    await this.app.ctx.replica.leave().catch(() => undefined);
    await this.#leader.close();
    await Promise.all([...this.app.ctx.drivers.values()].map((d) => d.close().catch(() => undefined)));
    await this.app.ctx.store.close();
  }
}
