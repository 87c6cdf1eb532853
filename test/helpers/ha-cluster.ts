import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { POLLY_BIN, REPO_ROOT } from './process.js';
import { startPrivatePg, type PrivatePg } from './private-pg.js';

export const HA_ADMIN_TOKEN = 'ha-admin-token-0123456789abcdef0123';
export const HA_SERVICE = 'ha';
export const HA_SERVICE_TOKEN = 'ha-service-token-0123456789abcdef012';
export const HA_POOL = 'shared';

/**
 * Several `polly server` replicas as child processes on one PostgreSQL of their own (a private server in
 * a temporary directory, so the test may crash it), each on a fixed port so that a replica restarted
 * after a kill is found again at its URL. They share one `local` pool directory (`topology.shared`), as
 * replicas on several machines would share a networked backend.
 */
export interface HaClusterOptions {
  replicas: number;
  /** `src`: the TypeScript sources through tsx (tests); `dist`: bin/polly.js, the build (benchmarks). */
  entry: 'src' | 'dist';
}

interface Replica {
  child: ChildProcess;
  exited: Promise<void>;
  out: () => string;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `name value` of one Prometheus sample line without labels; undefined when absent. */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export class HaCluster {
  readonly pg: PrivatePg;
  readonly databaseUrl: string;
  readonly urls: string[];
  readonly #dir: string;
  readonly #ports: number[];
  readonly #entry: string;
  readonly #replicas: (Replica | undefined)[];

  private constructor(pgServer: PrivatePg, databaseUrl: string, dir: string, ports: number[], entry: string) {
    this.pg = pgServer;
    this.databaseUrl = databaseUrl;
    this.#dir = dir;
    this.#ports = ports;
    this.#entry = entry;
    this.urls = ports.map((p) => `http://127.0.0.1:${p}`);
    this.#replicas = ports.map(() => undefined);
  }

  /**
   * PostgreSQL and the database, no replica yet (then {@link startAll}): a caller that keeps the cluster
   * from here on can always destroy it, even when starting the replicas fails or times out.
   */
  static async create(opts: HaClusterOptions): Promise<HaCluster> {
    const pgServer = await startPrivatePg();
    const dir = mkdtempSync(join(tmpdir(), 'polly-ha-'));
    try {
      const db = `polly_ha_${Date.now().toString(36)}`;
      const admin = new pg.Client({ connectionString: pgServer.adminUrl });
      admin.on('error', () => undefined);
      await admin.connect();
      try {
        await admin.query(`create database ${db}`);
      } finally {
        await admin.end().catch(() => undefined);
      }
      const ports: number[] = [];
      while (ports.length < opts.replicas) {
        const p = await freePort();
        if (!ports.includes(p)) ports.push(p);
      }
      const entry = opts.entry === 'src' ? POLLY_BIN : join(REPO_ROOT, 'bin/polly.js');
      mkdirSync(join(dir, 'pool'), { recursive: true });
      return new HaCluster(pgServer, pgServer.urlOf(db), dir, ports, entry);
    } catch (err) {
      await pgServer.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts every replica: the first alone (it creates the schema), then the others together. */
  async startAll(): Promise<void> {
    await this.startReplica(0);
    await Promise.all(this.urls.slice(1).map((_, i) => this.startReplica(i + 1)));
  }

  /** {@link create} and {@link startAll}; destroys what it made when that fails. */
  static async start(opts: HaClusterOptions): Promise<HaCluster> {
    const cluster = await HaCluster.create(opts);
    try {
      await cluster.startAll();
      return cluster;
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  /** Starts replica `i` (again) on its port, and waits until it serves. */
  async startReplica(i: number): Promise<void> {
    const dataDir = join(this.#dir, `r${i}`);
    mkdirSync(dataDir, { recursive: true });
    const config = {
      listen: `127.0.0.1:${this.#ports[i]}`,
      dataDir,
      databaseUrl: this.databaseUrl,
      adminToken: HA_ADMIN_TOKEN,
      logLevel: 'warn',
      replicaId: `r${i}`,
      replicaHeartbeatSeconds: 1,
      // The shortest allowed: a killed replica's interrupted requests are taken over this soon.
      replicaTimeoutSeconds: 2,
      reconcileIntervalSeconds: 2,
      pools: [{ name: HA_POOL, driver: 'local', path: join(this.#dir, 'pool'), topology: { shared: true } }],
      services: [{ name: HA_SERVICE, tokens: [HA_SERVICE_TOKEN] }],
    };
    const file = join(dataDir, 'config.yml');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('POLLY_')) delete env[key];
    const child = spawn(process.execPath, [this.#entry, 'server', '--config', file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.#replicas[i] = { child, exited, out: () => out };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica r${i} did not start in 90 s:\n${out}`)), 90_000);
      const check = () => {
        if (/serving https?:\/\//.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on('data', check);
      child.stdout?.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`replica r${i} exited before it served:\n${out}`));
      });
    });
  }

  isRunning(i: number): boolean {
    const r = this.#replicas[i];
    return r !== undefined && r.child.exitCode === null && r.child.signalCode === null;
  }

  output(i: number): string {
    return this.#replicas[i]?.out() ?? '';
  }

  /** kill -9 replica `i`; resolves with the time of the kill (ms since the epoch) once it is gone. */
  async kill9(i: number): Promise<number> {
    const r = this.#replicas[i];
    if (!r) throw new Error(`replica r${i} is not running`);
    const at = Date.now();
    r.child.kill('SIGKILL');
    await r.exited;
    this.#replicas[i] = undefined;
    return at;
  }

  async #get(i: number, path: string): Promise<{ status: number; text: string }> {
    const res = await request(`${this.urls[i]}${path}`, { headersTimeout: 3_000, bodyTimeout: 3_000 });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** The HTTP status of `GET /readyz` on replica `i` (0: no answer). */
  async readiness(i: number): Promise<number> {
    return this.#get(i, '/readyz').then(
      (r) => r.status,
      () => 0,
    );
  }

  /** `polly_leader` and the last background-loop start of replica `i` (ms), or undefined when it does not answer. */
  async leaderState(i: number): Promise<{ leader: boolean; loopRunMs: number } | undefined> {
    if (!this.isRunning(i)) return undefined;
    try {
      const { status, text } = await this.#get(i, '/metrics');
      if (status !== 200) return undefined;
      return { leader: metricValue(text, 'polly_leader') === 1, loopRunMs: (metricValue(text, 'polly_leader_loop_last_run_timestamp_seconds') ?? 0) * 1000 };
    } catch {
      return undefined;
    }
  }

  /** The replica that says it leads (polled until one does, up to `timeoutMs`). */
  async leader(timeoutMs = 15_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.urls.length; i++) if ((await this.leaderState(i))?.leader) return i;
      if (Date.now() > until) throw new Error('no replica leads');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * When a replica other than `except` started a background loop as the leader at or after `since` (its
   * own timestamp, ms), polling every 100 ms up to `timeoutMs`; the replica and the time.
   */
  async loopsResumed(since: number, except: number, timeoutMs = 20_000): Promise<{ replica: number; atMs: number }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.urls.length; i++) {
        if (i === except) continue;
        const s = await this.leaderState(i);
        if (s?.leader && s.loopRunMs >= since) return { replica: i, atMs: s.loopRunMs };
      }
      if (Date.now() > until) throw new Error(`no replica resumed the background loops within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A query on the cluster's database (for checks that must not go through Polly). */
  async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Stops every replica (kill -9: nothing to keep) and PostgreSQL, and removes the directories. */
  async destroy(): Promise<void> {
    for (let i = 0; i < this.#replicas.length; i++) if (this.#replicas[i]) await this.kill9(i).catch(() => undefined);
    await this.pg.destroy();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
