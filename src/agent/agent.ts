import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Attachment, HeartbeatResult, NodeAttachment } from '../app/attachments.js';
import { PollyError } from '../core/errors.js';
import type { AccessMode, NodeHalf, PublishContext, VolumeMode } from '../core/ports/driver.js';
import type { Pool } from '../core/types.js';
import { KeyedMutex } from '../drivers/system/keyed-mutex.js';
import { stderrOf } from '../drivers/system/exec.js';
import { findMount, isMountPoint, unmountAll, unmountLazily } from '../drivers/system/mounts.js';
import { selfFenceDeadline } from '../core/failover.js';
import { setFenceHostPid } from '../drivers/system/fence.js';
import { ServerClient } from './server-client.js';
import { readGuardReport, startFenceGuard, stopFenceGuard, type FenceGuardCommand } from './fence-guard.js';

export interface AgentOptions {
  /** The Polly server's REST URL. */
  serverUrl: string;
  /** PEM of the CA that signed an https server's certificate (`--ca` / POLLY_CA_FILE); else the system's. */
  ca?: string | undefined;
  /** How long one call to a server waits for it to answer before the next URL is tried (ms; `--timeout`). */
  serverTimeoutMs?: number | undefined;
  /** A service token (the agent acts for that service) or the admin token. */
  token: string;
  nodeId: string;
  hostname: string;
  /** Topology labels of this node, e.g. `{zone: "z1"}`. */
  topology: Record<string, string>;
  /** The storage client identity this node uses for networked pools (e.g. a Ceph user), if it has its own. */
  clientId?: string | undefined;
  /** The agent's own directory: its state file and the staging and mount directories it creates. */
  stateDir: string;
  /** Polly's data directory, for drivers that keep private state. */
  dataDir: string;
  /** Seconds between heartbeats (default: a third of the server's lease). */
  heartbeatSeconds?: number | undefined;
  log: Logger;
  /** Injectable time, for tests of the local lease. */
  now?: () => number;
  /**
   * The process whose mount namespace is this host's (default 1): a self-fence touches that namespace
   * and the ones below it only (see drivers/system/fence.ts). Two "hosts" on one kernel need it.
   */
  hostPid?: number | undefined;
  /**
   * A separate process that fences this node's volumes at the self-fence deadline when the agent itself
   * died (kill -9, a crash) and no new agent took over: the deadline must hold without the agent. Off
   * unless given (the `polly agent` command starts one).
   */
  fenceGuard?: FenceGuardCommand | undefined;
}

/** One publication of a held volume: a target path (a directory, or a file for block volumes). */
interface Target {
  readOnly: boolean;
}

/** A volume this node holds under an attachment; persisted so a restarted agent can restore or release it. */
export interface HeldVolume {
  attachmentId: string;
  volumeId: string;
  name: string;
  pool: string;
  backendId: string;
  fencingToken: number;
  accessMode: AccessMode;
  readOnly: boolean;
  volumeMode: VolumeMode;
  fsType: string;
  sizeBytes: number;
  stagingPath: string;
  targets: Record<string, Target>;
  /** What the pool's controller half answered for this node (networked drivers); never a secret. */
  publishContext?: PublishContext | undefined;
}

export interface AgentState {
  held: HeldVolume[];
  /** When the last successful renewal was sent (ms since the epoch): the self-fence deadline counts from it. */
  lastRenewalStart?: number | undefined;
  leaseSeconds?: number | undefined;
  marginSeconds?: number | undefined;
  /** The agent process that wrote this, and the pools of its held volumes: what a fence guard needs. */
  agentPid?: number | undefined;
  guardPid?: number | undefined;
  pools?: Record<string, { driver: string; parameters: Record<string, string> }> | undefined;
}

/**
 * The node agent: registers its node, heartbeats, and holds on this host exactly the volumes whose
 * attachments are live with the fencing token it staged them under. An attachment that ended or was
 * fenced (its token is no longer current) is unpublished and unstaged; when heartbeats fail for longer
 * than the lease, the agent assumes it was fenced and lets go of everything. At start it reconciles:
 * node resources (mounts, loop devices) no attachment justifies are released, justified ones restored.
 */
export class NodeAgent {
  readonly #opts: AgentOptions;
  readonly #client: ServerClient;
  readonly #drivers = new Map<string, NodeHalf>();
  readonly #pools = new Map<string, Pool>();
  #guardPid: number | undefined;
  #saving: Promise<void> = Promise.resolve();
  readonly #held = new Map<string, HeldVolume>();
  /** Node-scoped pool secrets by volume id, from the last heartbeat: in memory only, for stage calls. */
  readonly #secrets = new Map<string, Record<string, string>>();
  readonly #mutex = new KeyedMutex();
  /** Attachments a CO unstaged here (CSI NodeUnstage) that must not be staged again while they stay live. */
  readonly #unstaged = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  #leaseSeconds = 30;
  #marginSeconds = 5;
  /** When the last successful renewal was sent: the server's lease began no earlier. */
  #lastRenewalStart = 0;
  /** Self-fences not yet reported to the server (it was unreachable). */
  readonly #unreported: Array<{ attachments: string[]; fencedAt: string }> = [];
  #syncing: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    if (opts.hostPid !== undefined) setFenceHostPid(opts.hostPid);
    this.#client = new ServerClient(opts.serverUrl, opts.token, { ca: opts.ca, attemptTimeoutMs: opts.serverTimeoutMs });
  }

  get nodeId(): string {
    return this.#opts.nodeId;
  }

  get client(): ServerClient {
    return this.#client;
  }

  get stagingRoot(): string {
    return join(this.#opts.stateDir, 'staging');
  }

  get mountRoot(): string {
    return join(this.#opts.stateDir, 'mounts');
  }

  #now(): number {
    return this.#opts.now ? this.#opts.now() : Date.now();
  }

  /** What this node holds right now (a copy). */
  held(): HeldVolume[] {
    return [...this.#held.values()].map((h) => ({ ...h, targets: { ...h.targets } }));
  }

  /** Registers the node, builds the pools' drivers, reconciles with the server, and starts heartbeating. */
  async start(): Promise<void> {
    await mkdir(this.#opts.stateDir, { recursive: true });
    await this.#client.call('POST', '/v1/nodes', { id: this.#opts.nodeId, hostname: this.#opts.hostname, topology: this.#opts.topology, connector: this.#connector() });
    await this.refreshPools();
    const previous = await this.#loadState();
    await this.#takeOver(previous);
    // A volume that cannot be restored is logged (and retried at every heartbeat), not fatal to the agent.
    await this.sync({ restore: true }).catch((err: unknown) => this.#opts.log.error({ err }, 'agent start: reconciliation incomplete'));
    const every = (this.#opts.heartbeatSeconds ?? Math.max(1, Math.floor(this.#leaseSeconds / 3))) * 1000;
    this.#timer = setInterval(() => {
      void this.sync().catch((err: unknown) => this.#opts.log.warn({ err }, 'agent heartbeat failed'));
    }, every);
    this.#timer.unref();
  }

  /** Stops heartbeating and closes drivers. Mounts stay: a restarted agent restores or releases them. */
  async stop(): Promise<void> {
    // A fence guard stays: it fences at the deadline unless a new agent takes over before.
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#fenceTimer) clearTimeout(this.#fenceTimer);
    await this.#syncing?.catch(() => undefined);
    await Promise.all([...this.#drivers.values()].map((d) => d.close().catch(() => undefined)));
    this.#drivers.clear();
    await this.#client.close().catch(() => undefined);
  }

  /** What networked drivers' controller halves receive for this node: its addresses and client identity. */
  #connector(): { addresses: string[]; clientId?: string } {
    const addresses = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((i) => !i.internal)
      .map((i) => i.address)
      .slice(0, 32);
    return { addresses, ...(this.#opts.clientId !== undefined ? { clientId: this.#opts.clientId } : {}) };
  }

  /** The extra stage arguments of a held volume: its publish context and the pool's node-scoped secrets. */
  #stageExtras(h: HeldVolume): { publishContext?: PublishContext; secrets?: Record<string, string> } {
    const secrets = this.#secrets.get(h.volumeId);
    return { ...(h.publishContext ? { publishContext: h.publishContext } : {}), ...(secrets ? { secrets } : {}) };
  }

  /** Builds a driver for every pool the server declares (and that this agent has not built yet). */
  async refreshPools(): Promise<void> {
    const { items } = await this.#client.call<{ items: Pool[] }>('GET', '/v1/pools');
    // Loaded on first use: the drivers (and the schema library their parameters need) are the heaviest
    // imports of the agent, and the Docker plugin socket must listen before them (driver-server.started).
    const { createNodeHalf } = await import('../drivers/registry.js');
    for (const pool of items) {
      this.#pools.set(pool.name, pool);
      if (this.#drivers.has(pool.name)) continue;
      try {
        const driver = createNodeHalf(pool.driver, { poolName: pool.name, parameters: pool.parameters, dataDir: this.#opts.dataDir });
        await driver.init();
        this.#drivers.set(pool.name, driver);
      } catch (err) {
        this.#opts.log.warn({ err, pool: pool.name }, 'pool not usable on this node');
      }
    }
  }

  async driver(pool: string): Promise<NodeHalf> {
    if (!this.#drivers.has(pool)) await this.refreshPools();
    const d = this.#drivers.get(pool);
    if (!d) throw new PollyError('UNAVAILABLE', `pool ${pool} is not usable on node ${this.#opts.nodeId}`);
    return d;
  }

  /** One heartbeat and the reconciliation it implies; concurrent callers share one pass. */
  sync(opts: { restore?: boolean } = {}): Promise<void> {
    if (this.#syncing) return this.#syncing;
    this.#syncing = this.#sync(opts.restore ?? false).finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #sync(restore: boolean): Promise<void> {
    if (this.#stopped) return;
    let hb: HeartbeatResult;
    const sentAt = this.#now();
    try {
      await this.#reportSelfFences();
      hb = await this.#client.call<HeartbeatResult>('POST', `/v1/nodes/${encodeURIComponent(this.#opts.nodeId)}/heartbeat`);
    } catch (err) {
      // An operator fenced this node: it must stop writing at once.
      if (err instanceof PollyError && err.code === 'NODE_FENCED') await this.selfFence('the server says this node is fenced');
      // Without a renewal the deadline still holds (the timer fences on time); this is the backstop.
      else await this.checkDeadline();
      throw err;
    }
    this.#renewed(sentAt, hb);
    const live = new Map(hb.attachments.map((a) => [a.id, a]));
    this.#secrets.clear();
    for (const a of hb.attachments) if (a.secrets) this.#secrets.set(a.volumeId, a.secrets);
    // Stale first: a held volume whose attachment ended, or whose token is not the attachment's.
    // One volume that cannot be handled must not keep the others from being fenced or restored.
    const failures: unknown[] = [];
    const attempt = async (what: string, volumeId: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
        this.#opts.log.error({ err, volumeId }, `agent could not ${what} a volume`);
      }
    };
    for (const h of [...this.#held.values()]) {
      const a = live.get(h.attachmentId);
      if (!a || a.fencingToken !== h.fencingToken) {
        // The attachment moved on while containers may still hold the volume in their own mount
        // namespaces (a restart forgot them, or an operator fenced this node): fence it on this host
        // (never at the storage, which the new holder may use already), then let go.
        const why = a ? 'fencing token changed' : 'attachment ended or fenced';
        await attempt('release', h.volumeId, () =>
          this.#fenceOne(h, why).catch((err: unknown) => {
            this.#opts.log.warn({ err, volumeId: h.volumeId }, 'fencing a volume this node no longer holds failed; releasing it');
            return this.#release(h, why);
          }),
        );
      }
    }
    for (const id of this.#unstaged) if (!live.has(id)) this.#unstaged.delete(id);
    for (const a of hb.attachments) {
      if (this.#unstaged.has(a.id)) continue;
      const h = this.#held.get(a.volumeId);
      if (!h) await attempt('stage', a.volumeId, () => this.#take(a));
      else if (restore) await attempt('restore', h.volumeId, () => this.#restore(h));
    }
    await attempt('release orphaned resources of', '*', () => this.#releaseOrphans());
    if (failures.length > 0) throw failures.length === 1 ? failures[0] : new AggregateError(failures, `${failures.length} volumes could not be reconciled`);
  }

  /** A successful renewal: the self-fence deadline moves to `sentAt` + lease − margin, on a timer. */
  #renewed(sentAt: number, hb: HeartbeatResult): void {
    this.#lastRenewalStart = Math.max(this.#lastRenewalStart, sentAt);
    this.#leaseSeconds = hb.leaseSeconds;
    if (typeof hb.selfFenceMarginSeconds === 'number') this.#marginSeconds = hb.selfFenceMarginSeconds;
    // The deadline is persisted: a fence guard (or a restarted agent) keeps it when this process dies.
    void this.#saveState().catch((err: unknown) => this.#opts.log.warn({ err }, 'agent state not saved'));
    this.#armFenceTimer();
  }

  #armFenceTimer(): void {
    if (this.#fenceTimer) clearTimeout(this.#fenceTimer);
    if (this.#stopped || this.#lastRenewalStart === 0) return;
    const wait = Math.max(0, this.selfFenceDeadline - this.#now());
    this.#fenceTimer = setTimeout(() => {
      void this.checkDeadline().catch((err: unknown) => this.#opts.log.error({ err }, 'self-fence failed'));
    }, wait);
    this.#fenceTimer.unref();
  }

  /** By this time (ms since the epoch) the agent has fenced itself unless a renewal succeeded meanwhile. */
  get selfFenceDeadline(): number {
    return selfFenceDeadline(this.#lastRenewalStart, this.#leaseSeconds, this.#marginSeconds);
  }

  /** Fences every held volume when the self-fence deadline has passed (the timer calls it; so may tests). */
  async checkDeadline(): Promise<boolean> {
    if (this.#lastRenewalStart === 0 || this.#now() < this.selfFenceDeadline || this.#held.size === 0) return false;
    await this.selfFence(`no successful renewal since ${new Date(this.#lastRenewalStart).toISOString()}: the lease deadline minus the safety margin passed`, { storageReadOnly: true });
    return true;
  }

  /**
   * Self-fence: makes every held volume unwritable on this node, in every mount namespace (the driver's
   * node half does it: read-only at the storage where it can, forced unmounts everywhere, writers
   * stopped), lets go of them, and reports it to the server (later, if it cannot be reached now).
   */
  async selfFence(reason: string, opts: { storageReadOnly?: boolean } = {}): Promise<void> {
    const held = [...this.#held.values()];
    if (held.length === 0) return;
    const fencedAt = new Date(this.#now()).toISOString();
    const done: string[] = [];
    for (const h of held) {
      try {
        await this.#fenceOne(h, reason, opts.storageReadOnly === true);
        done.push(h.attachmentId);
      } catch (err) {
        this.#opts.log.error({ err, volumeId: h.volumeId }, 'self-fence of a volume failed');
      }
    }
    this.#opts.log.error({ reason, fencedAt, attachments: done }, 'self-fenced');
    if (done.length > 0) this.#unreported.push({ attachments: done, fencedAt });
    await this.#reportSelfFences().catch((err: unknown) => this.#opts.log.warn({ err }, 'self-fence not reported yet; retried with the next heartbeat'));
  }

  async #fenceOne(h: HeldVolume, reason: string, storageReadOnly = false): Promise<void> {
    await this.#mutex.run(h.volumeId, async () => {
      if (this.#held.get(h.volumeId) !== h) return;
      const driver = await this.driver(h.pool);
      await driver.node.selfFence({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath, targetPaths: Object.keys(h.targets), storageReadOnly });
    });
    await this.#release(h, `self-fenced: ${reason}`).catch((err: unknown) => this.#opts.log.warn({ err, volumeId: h.volumeId }, 'fenced volume not fully released'));
    if (this.#held.get(h.volumeId) === h) {
      this.#held.delete(h.volumeId);
      await this.#saveState();
    }
  }

  async #reportSelfFences(): Promise<void> {
    while (this.#unreported.length > 0) {
      const r = this.#unreported[0]!;
      await this.#client.call('POST', `/v1/nodes/${encodeURIComponent(this.#opts.nodeId)}/self-fence`, r);
      this.#unreported.shift();
    }
  }

  /**
   * Stages a volume of a live attachment this node does not hold yet, at `stagingPath` (a CSI CO's
   * staging_target_path) or under the agent's own staging root.
   */
  async #take(a: NodeAttachment, stagingPath?: string): Promise<HeldVolume> {
    return this.#mutex.run(a.volumeId, async () => {
      const existing = this.#held.get(a.volumeId);
      if (existing && existing.attachmentId === a.id) return existing;
      const h: HeldVolume = {
        attachmentId: a.id,
        volumeId: a.volumeId,
        name: a.volume.name,
        pool: a.volume.pool,
        backendId: a.volume.backendId,
        fencingToken: a.fencingToken,
        accessMode: a.accessMode,
        readOnly: a.readOnly,
        volumeMode: a.volume.volumeMode,
        fsType: a.volume.fsType,
        sizeBytes: a.volume.sizeBytes,
        stagingPath: stagingPath ?? join(this.stagingRoot, a.volumeId),
        targets: {},
        ...(a.publishContext ? { publishContext: a.publishContext } : {}),
      };
      if (a.secrets) this.#secrets.set(a.volumeId, a.secrets);
      const driver = await this.driver(h.pool);
      const started = performance.now();
      try {
        await driver.node.stage({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath, volumeMode: h.volumeMode, fsType: h.fsType, readOnly: h.readOnly, ...this.#stageExtras(h) });
      } catch (err) {
        // Whatever the failed stage left (a loop device, a half mount) goes; the orphan sweep retries.
        await driver.node.unstage({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath }).catch(() => undefined);
        throw err;
      }
      this.#held.set(h.volumeId, h);
      await this.#saveState();
      this.#opts.log.info({ volumeId: h.volumeId, attachment: h.attachmentId, fencingToken: h.fencingToken, stageMs: Math.round(performance.now() - started) }, 'staged');
      return h;
    });
  }

  /** Re-stages a held volume and re-publishes its targets (after a restart or reboot); all idempotent. */
  async #restore(h: HeldVolume): Promise<void> {
    await this.#mutex.run(h.volumeId, async () => {
      const driver = await this.driver(h.pool);
      await driver.node.stage({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath, volumeMode: h.volumeMode, fsType: h.fsType, readOnly: h.readOnly, ...this.#stageExtras(h) });
      for (const [target, t] of Object.entries(h.targets)) {
        await driver.node.publish({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath, targetPath: target, volumeMode: h.volumeMode, readOnly: t.readOnly });
      }
    });
  }

  /** Unpublishes every target of a held volume and unstages it. */
  async #release(h: HeldVolume, reason: string): Promise<void> {
    await this.#mutex.run(h.volumeId, async () => {
      if (this.#held.get(h.volumeId) !== h) return;
      const driver = await this.driver(h.pool);
      for (const target of Object.keys(h.targets)) {
        await driver.node.unpublish({ backendId: h.backendId, volumeId: h.volumeId, targetPath: target });
        delete h.targets[target];
      }
      await driver.node.unstage({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath });
      this.#held.delete(h.volumeId);
      await this.#saveState();
      this.#opts.log.warn({ volumeId: h.volumeId, attachment: h.attachmentId, fencingToken: h.fencingToken, reason }, 'released volume');
    });
  }

  /** Releases node resources (mounts, loop devices) of backend objects this node does not hold. */
  async #releaseOrphans(): Promise<void> {
    for (const [pool, driver] of this.#drivers) {
      const justified = new Set([...this.#held.values()].filter((h) => h.pool === pool).map((h) => h.backendId));
      const resources = await driver.node.listNodeResources();
      for (const backendId of new Set(resources.map((r) => r.backendId))) {
        if (justified.has(backendId)) continue;
        this.#opts.log.warn({ pool, backendId, resources: resources.filter((r) => r.backendId === backendId).map((r) => r.description) }, 'releasing node resources no attachment justifies');
        await driver.node.releaseNodeResources(backendId);
      }
    }
  }

  /**
   * Attaches a volume to this node (the server decides: VOLUME_BUSY when another node holds it) and
   * stages it here. Idempotent.
   */
  async attach(volumeId: string, accessMode: AccessMode, readOnly?: boolean): Promise<HeldVolume> {
    const a = await this.#client.call<Attachment>('POST', `/v1/volumes/${encodeURIComponent(volumeId)}/attachments`, {
      node: this.#opts.nodeId,
      accessMode,
      ...(readOnly !== undefined ? { readOnly } : {}),
    });
    try {
      return await this.ensureStaged(a.id, volumeId);
    } catch (err) {
      // Not held here (the stage failed: the pool is not usable on this node, …): the attachment ends,
      // or every heartbeat would renew a lease on a volume nobody can use and nobody else may have.
      if (this.#held.get(volumeId)?.attachmentId !== a.id) {
        await this.#client
          .call('DELETE', `/v1/attachments/${encodeURIComponent(a.id)}`)
          .catch((e: unknown) => this.#opts.log.error({ err: e, volumeId, attachment: a.id }, 'could not end the attachment of a volume that failed to stage'));
      }
      throw err;
    }
  }

  /**
   * The held volume of a live attachment, staging it first when this node does not hold it yet.
   * `opts.stagingPath` stages it there (CSI's staging_target_path): a volume the agent staged on its own
   * (a heartbeat saw the attachment first) and that has no publication yet is moved there.
   * `opts.check` validates the request against the volume (its mode, …) before anything is touched.
   */
  async ensureStaged(
    attachmentId: string,
    volumeId: string,
    opts: { stagingPath?: string | undefined; check?: ((volume: { volumeMode: VolumeMode }) => void) | undefined } = {},
  ): Promise<HeldVolume> {
    const h = this.#held.get(volumeId);
    if (h && h.attachmentId === attachmentId) {
      opts.check?.(h);
      this.#unstaged.delete(attachmentId);
      if (opts.stagingPath === undefined || opts.stagingPath === h.stagingPath) return h;
      return this.#moveStaging(h, opts.stagingPath);
    }
    const sentAt = this.#now();
    const hb = await this.#client.call<HeartbeatResult>('POST', `/v1/nodes/${encodeURIComponent(this.#opts.nodeId)}/heartbeat`);
    this.#renewed(sentAt, hb);
    const a = hb.attachments.find((x) => x.id === attachmentId);
    if (!a) throw new PollyError('INVALID_STATE', `attachment ${attachmentId} of volume ${volumeId} is not live on node ${this.#opts.nodeId}`);
    opts.check?.(a.volume);
    this.#unstaged.delete(attachmentId);
    if (h) await this.#release(h, 'superseded by a newer attachment');
    return this.#take(a, opts.stagingPath);
  }

  /** Re-stages a held volume at another staging path; refused while it is published (its mounts hang off the old one). */
  async #moveStaging(h: HeldVolume, stagingPath: string): Promise<HeldVolume> {
    return this.#mutex.run(h.volumeId, async () => {
      if (h.stagingPath === stagingPath) return h;
      const published = Object.keys(h.targets);
      if (published.length > 0) {
        throw new PollyError('INVALID_STATE', `volume ${h.name} (${h.volumeId}) is staged at ${h.stagingPath} and published at ${published[0]}; it cannot be staged at ${stagingPath} too`);
      }
      // Staged at the new path first (the backend stays attached: a loop device is reused), then the old
      // staging mount, if the driver made one, is let go; the volume is never unstaged in between.
      const driver = await this.driver(h.pool);
      await driver.node.stage({ backendId: h.backendId, volumeId: h.volumeId, stagingPath, volumeMode: h.volumeMode, fsType: h.fsType, readOnly: h.readOnly, ...this.#stageExtras(h) });
      const old = h.stagingPath;
      h.stagingPath = stagingPath;
      await this.#saveState();
      if (await isMountPoint(old)) await unmountAll(old);
      return h;
    });
  }

  /** Publishes a held volume at `target` (idempotent). */
  async publish(volumeId: string, target: string, readOnly: boolean): Promise<void> {
    await this.#mutex.run(volumeId, async () => {
      const h = this.#held.get(volumeId);
      if (!h) throw new PollyError('INVALID_STATE', `volume ${volumeId} is not attached to node ${this.#opts.nodeId}`);
      if (h.readOnly && !readOnly) throw new PollyError('FORBIDDEN', `volume ${volumeId} is attached read-only to node ${this.#opts.nodeId}`);
      const driver = await this.driver(h.pool);
      await driver.node.publish({ backendId: h.backendId, volumeId, stagingPath: h.stagingPath, targetPath: target, volumeMode: h.volumeMode, readOnly });
      h.targets[target] = { readOnly };
      await this.#saveState();
    });
  }

  /** Unpublishes `target` of a volume (idempotent; not an error when it is not published). */
  async unpublish(volumeId: string, target: string): Promise<void> {
    await this.#mutex.run(volumeId, async () => {
      const h = this.#held.get(volumeId);
      if (!h) return;
      const driver = await this.driver(h.pool);
      await driver.node.unpublish({ backendId: h.backendId, volumeId, targetPath: target });
      delete h.targets[target];
      await this.#saveState();
    });
  }

  /**
   * Unpublishes `target`; when a process still has something open in it (`target is busy`), detaches the
   * mount lazily instead, so that the target is gone from every mount table at once. Answers whether it
   * was lazy and the filesystem (st_dev) the detached mount keeps alive: the caller keeps the volume
   * held until {@link detachedReferences} finds nobody left using it.
   */
  async unpublishLazily(volumeId: string, target: string): Promise<{ lazy: boolean; device: number | undefined; root: string }> {
    return this.#mutex.run(volumeId, async () => {
      const h = this.#held.get(volumeId);
      if (!h) return { lazy: false, device: undefined, root: '/' };
      const device = (await stat(target).catch(() => undefined))?.dev;
      // What of its filesystem the target shows: the volume's directory on a directory pool.
      const root = (await findMount(target).catch(() => undefined))?.root ?? '/';
      const driver = await this.driver(h.pool);
      let lazy = false;
      try {
        await driver.node.unpublish({ backendId: h.backendId, volumeId, targetPath: target });
      } catch (err) {
        if (!/busy/i.test(`${stderrOf(err)} ${(err as Error).message}`)) throw err;
        lazy = true;
        await unmountLazily(target);
        this.#opts.log.warn({ volumeId, name: h.name, target }, 'target busy: unmounted lazily; the volume stays held here until nothing uses it');
      }
      delete h.targets[target];
      await this.#saveState();
      return { lazy, device, root };
    });
  }

  /** Unpublishes and unstages a held volume, leaving its attachment to the CO (CSI NodeUnstage). */
  async unstage(volumeId: string): Promise<void> {
    const h = this.#held.get(volumeId);
    if (!h) return;
    this.#unstaged.add(h.attachmentId);
    await this.#release(h, 'unstaged');
  }

  /** This node's live attachment of a volume, as the server sees it (for the caller's service). */
  async liveAttachment(volumeId: string): Promise<Attachment | undefined> {
    const q = `node=${encodeURIComponent(this.#opts.nodeId)}&volume=${encodeURIComponent(volumeId)}`;
    const { items } = await this.#client.call<{ items: Attachment[] }>('GET', `/v1/attachments?${q}`);
    return items[0];
  }

  get topology(): Record<string, string> {
    return { ...this.#opts.topology };
  }

  /** Unstages a held volume and ends its attachment on the server. */
  async detach(volumeId: string): Promise<void> {
    const h = this.#held.get(volumeId);
    if (!h) return;
    await this.#release(h, 'detached');
    await this.#client.call('DELETE', `/v1/attachments/${encodeURIComponent(h.attachmentId)}`);
  }

  heldVolume(volumeId: string): HeldVolume | undefined {
    return this.#held.get(volumeId);
  }

  get #stateFile(): string {
    return join(this.#opts.stateDir, 'agent-state.json');
  }

  async #loadState(): Promise<AgentState | undefined> {
    let text: string;
    try {
      text = await readFile(this.#stateFile, 'utf8');
    } catch {
      return undefined;
    }
    const state = JSON.parse(text) as AgentState;
    for (const h of state.held) this.#held.set(h.volumeId, h);
    // The previous run's deadline still holds until a renewal succeeds.
    if (typeof state.lastRenewalStart === 'number') this.#lastRenewalStart = state.lastRenewalStart;
    if (typeof state.leaseSeconds === 'number') this.#leaseSeconds = state.leaseSeconds;
    if (typeof state.marginSeconds === 'number') this.#marginSeconds = state.marginSeconds;
    return state;
  }

  /**
   * This process takes over from the previous agent of this state directory: its fence guard stops (one
   * of ours starts), volumes that guard fenced are no longer held and its report goes to the server, and
   * the inherited self-fence deadline is armed.
   */
  async #takeOver(previous: AgentState | undefined): Promise<void> {
    if (previous?.guardPid !== undefined) await stopFenceGuard(previous.guardPid);
    const report = await readGuardReport(this.#opts.stateDir);
    if (report) {
      for (const id of report.attachments) {
        const h = [...this.#held.values()].find((x) => x.attachmentId === id);
        if (h) this.#held.delete(h.volumeId);
      }
      this.#unreported.push({ attachments: report.attachments, fencedAt: report.fencedAt });
      this.#opts.log.error({ attachments: report.attachments, fencedAt: report.fencedAt }, 'the fence guard fenced volumes while no agent ran');
    }
    if (this.#opts.fenceGuard) this.#guardPid = await startFenceGuard(this.#opts.fenceGuard, { stateDir: this.#opts.stateDir, agentPid: process.pid });
    await this.#saveState();
    await report?.remove();
    this.#armFenceTimer();
  }

  /** Writes the state file; writes are serialised (they share one temporary file). */
  #saveState(): Promise<void> {
    const next = this.#saving.catch(() => undefined).then(() => this.#writeState());
    this.#saving = next;
    return next;
  }

  async #writeState(): Promise<void> {
    const pools: NonNullable<AgentState['pools']> = {};
    for (const h of this.#held.values()) {
      const p = this.#pools.get(h.pool);
      if (p) pools[p.name] = { driver: p.driver, parameters: p.parameters };
    }
    const state: AgentState = {
      held: [...this.#held.values()],
      lastRenewalStart: this.#lastRenewalStart,
      leaseSeconds: this.#leaseSeconds,
      marginSeconds: this.#marginSeconds,
      agentPid: process.pid,
      guardPid: this.#guardPid,
      pools,
    };
    const tmp = `${this.#stateFile}.tmp`;
    await writeFile(tmp, JSON.stringify(state, null, 2));
    await rename(tmp, this.#stateFile);
  }
}

