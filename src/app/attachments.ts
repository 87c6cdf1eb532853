import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AccessMode, ControllerDriver, NodeConnector, PublishContext, VolumeMode } from '../core/ports/driver.js';
import { assertTransition } from '../core/state-machine.js';
import { decideTakeover, regrantAt, selfFenceDeadline } from '../core/failover.js';
import type { FailoverPolicy, Identity, Volume } from '../core/types.js';
import {
  endAttachment,
  findAttachment,
  insertAttachment,
  isExclusive,
  listLiveAttachments,
  nextFencingToken,
  renewLease,
  renewLeases,
  setPublishContext,
  type Attachment,
} from '../store/repos/attachments.js';
import { findNode, listNodes, setNodeCoRegistrants, touchNode, upsertNode, type NodeRecord } from '../store/repos/nodes.js';
import { findPool, findProfile } from '../store/repos/pools.js';
import { findShare } from '../store/repos/shares.js';
import { findVolume, findVolumes, updateVolume } from '../store/repos/volumes.js';
import { isUniqueViolation, type Executor } from '../store/store.js';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import { assertValidLabels, assertValidName } from '../core/names.js';
import type { VolumeUseCases } from './volumes.js';
import { poolNodes, zoneReaches } from '../scheduler/zones.js';
import { volumeRef } from '../core/volume-ref.js';
import { poolHomeNode } from './pool-home.js';

export type { Attachment } from '../store/repos/attachments.js';

export const ACCESS_MODES: readonly AccessMode[] = ['RWO', 'RWOP', 'ROX', 'RWX'];

export interface AttachInput {
  node: string;
  accessMode: AccessMode;
  readOnly?: boolean | undefined;
}

/** What a node's agent needs to hold one attachment: the lease and the volume's node-side facts. */
export interface NodeAttachment extends Attachment {
  volume: { name: string; service: string; pool: string; backendId: string; sizeBytes: number; volumeMode: VolumeMode; fsType: string };
  /**
   * The pool's node-scoped secrets (e.g. the Ceph key nodes map images with), only for attachments of a
   * pool whose driver needs them on the node; the agent keeps them in memory for its stage calls.
   */
  secrets?: Record<string, string> | undefined;
}

export interface ConnectorInput {
  addresses?: string[] | undefined;
  clientId?: string | undefined;
}

/** The connector the controller half of a networked driver receives for a node. */
export function connectorOf(node: NodeRecord): NodeConnector {
  const clientId = node.connector?.clientId;
  return { node: node.id, hostname: node.hostname, addresses: node.connector?.addresses ?? [], ...(clientId !== undefined ? { clientId } : {}) };
}

export interface NodeView extends NodeRecord {
  leaseSeconds: number;
  selfFenceMarginSeconds: number;
  clockSkewSeconds: number;
  /** Last heartbeat + lease − margin: by then the node's agent has fenced itself if it heard nothing. */
  selfFenceDeadline: string | null;
  /** Last heartbeat + lease + clock-skew margin: no other node is granted its volumes before. */
  regrantAfter: string | null;
}

export interface HeartbeatResult {
  node: string;
  leaseSeconds: number;
  /** The agent fences itself this long before its lease would end, counted from its last successful renewal. */
  selfFenceMarginSeconds: number;
  /** The attachments this node should hold right now; anything else it holds is stale (fenced or ended). */
  attachments: NodeAttachment[];
}

/**
 * Attachments: volume × node leases with a per-volume fencing token that only grows. A RWO/RWOP volume has
 * at most one live attachment (the database's unique `exclusive_key` enforces it); a holder whose lease
 * lapsed is fenced when another node asks. Node heartbeats renew leases.
 */
export class AttachmentUseCases {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;
  readonly #pools: PoolUseCases;

  constructor(ctx: AppContext, volumes: VolumeUseCases, pools: PoolUseCases) {
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#pools = pools;
  }

  #now(): Date {
    return this.#ctx.clock.now();
  }

  #leaseUntil(now: Date): string {
    return new Date(now.getTime() + this.#ctx.config.attachmentLeaseSeconds * 1000).toISOString();
  }

  /** Serialises attach/detach of one volume: a row lock on PostgreSQL (SQLite serialises writers). */
  async #lockVolume(trx: Transaction<Database>, volumeId: string): Promise<void> {
    await this.#ctx.store.lockVolume(trx, volumeId);
  }

  /** Attaches a volume to a node, or returns the caller's live attachment of it there (idempotent). */
  async attach(identity: Identity, volumeId: string, input: AttachInput): Promise<Attachment> {
    if (!ACCESS_MODES.includes(input.accessMode)) {
      throw new PollyError('VALIDATION_FAILED', `accessMode must be one of ${ACCESS_MODES.join(', ')}`);
    }
    if (typeof input.node !== 'string' || input.node === '') throw new PollyError('VALIDATION_FAILED', 'node is required');
    const db = this.#ctx.store.db;
    const first = await this.#volumes.load(db, identity, volumeId, { shared: true });
    const driver = await this.#pools.driver(first.pool);
    if (!driver.capabilities.accessModes.includes(input.accessMode)) {
      throw new PollyError('UNSUPPORTED', `pool ${first.pool} (driver ${driver.driverName}) does not offer access mode ${input.accessMode}`);
    }
    const profile = await findProfile(db, first.profile);
    if (profile && !profile.accessModes.includes(input.accessMode)) {
      throw new PollyError('UNSUPPORTED', `profile ${profile.name} does not allow access mode ${input.accessMode}`);
    }
    let readOnly = input.readOnly ?? input.accessMode === 'ROX';
    if (input.accessMode === 'ROX' && !readOnly) throw new PollyError('VALIDATION_FAILED', 'access mode ROX is read-only; readOnly cannot be false');
    const service = identity.kind === 'service' ? identity.service : first.service;
    if (service !== first.service) {
      const share = await findShare(db, volumeId, service);
      if (share?.access === 'ro') {
        if (input.readOnly === false) throw new PollyError('FORBIDDEN', `${volumeRef(first)} is shared read-only with service ${service}`);
        readOnly = true;
      }
    }
    const node = await findNode(db, input.node);
    if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${input.node} is not registered`);
    if (node.fence) {
      throw new PollyError('NODE_FENCED', `node ${node.id} is fenced (${node.fence.reason || 'confirmed down'}, ${node.fence.at}); nothing is attached to it until \`polly node unfence ${node.id}\``);
    }
    await this.#assertReachable(first, node);
    const failover = { policy: profile?.failover ?? 'safe', forceAfterSeconds: profile?.forceAfterSeconds ?? 60 } as const;
    // Holders fenced at the storage by this call, with how long the fence took (the driver is asked
    // outside the transaction).
    const storageFenced = new Map<string, number>();
    for (let attempt = 0; ; attempt++) {
      try {
        const granted = await this.#grant(identity, volumeId, node, service, input.accessMode, readOnly, failover, driver.storageFence !== undefined, storageFenced);
        return await this.#publish(identity, granted, first.backendId, node, driver);
      } catch (err) {
        if (err instanceof NeedsStorageFence && driver.storageFence && attempt < 3) {
          const holderNode = await findNode(db, err.holder.node);
          const started = performance.now();
          await driver.storageFence.fenceNode({ backendId: first.backendId, node: err.holder.node, connector: holderNode ? connectorOf(holderNode) : undefined });
          storageFenced.set(err.holder.id, Math.round(performance.now() - started));
          continue;
        }
        if (err instanceof WaitingForFence) {
          await this.#recordWaiting(volumeId, err.holder, err.reason);
          throw new PollyError('VOLUME_BUSY', `volume ${volumeId} is attached (${err.holder.accessMode}) to node ${err.holder.node}: ${err.reason}`, {
            node: err.holder.node,
            accessMode: err.holder.accessMode,
            leaseExpiresAt: err.holder.leaseExpiresAt,
            waitingForFence: err.holder.node,
            until: err.until,
            remedies: err.remedies,
          });
        }
        throw err;
      }
    }
  }

  /**
   * Asks a networked driver's controller half to make the volume reachable from the node and records the
   * publish context it answered on the attachment (a repeat reuses the recorded one). When the driver
   * refuses, the attachment ends again: no grant without a way to stage it.
   */
  async #publish(
    identity: Identity,
    a: Attachment,
    backendId: string,
    node: NodeRecord,
    driver: ControllerDriver,
  ): Promise<Attachment> {
    if (!driver.attach || a.publishContext) return a;
    let publishContext: PublishContext;
    try {
      publishContext = await driver.attach({ backendId, volumeId: a.volumeId, node: connectorOf(node), accessMode: a.accessMode, readOnly: a.readOnly });
    } catch (err) {
      await this.detach(identity, a.id).catch(() => undefined);
      throw err;
    }
    await setPublishContext(this.#ctx.store.db, a.id, publishContext);
    return { ...a, publishContext };
  }

  /** Shows on the volume (statusReason) and in the events why it waits; recorded once per reason. */
  async #recordWaiting(volumeId: string, holder: Attachment, reason: string): Promise<void> {
    await this.#ctx.store.transaction(async (trx) => {
      const v = await findVolume(trx, volumeId);
      if (!v || v.status !== 'attached' || v.statusReason === reason) return;
      const at = this.#now().toISOString();
      await updateVolume(trx, volumeId, 'attached', { statusReason: reason }, at);
      await this.#ctx.events.record(
        trx,
        { type: 'attachment.waiting_for_fence', service: holder.service, objectId: holder.id, data: { volumeId, node: holder.node, reason } },
        at,
      );
    });
    this.#ctx.events.notify();
  }

  async #grant(
    identity: Identity,
    volumeId: string,
    node: NodeRecord,
    service: string,
    accessMode: AccessMode,
    readOnly: boolean,
    failover: { policy: FailoverPolicy; forceAfterSeconds: number },
    storageCanFence: boolean,
    storageFenced: ReadonlyMap<string, number>,
  ): Promise<Attachment> {
    const input = { accessMode };
    let fenced: Attachment[] = [];
    const result = await this.#ctx.store
      .transaction(async (trx) => {
        await this.#lockVolume(trx, volumeId);
        const v = await this.#volumes.load(trx, identity, volumeId, { shared: true });
        const now = this.#now();
        const at = now.toISOString();
        const live = await listLiveAttachments(trx, { volumeId });
        const mine = live.find((a) => a.node === node.id && a.service === service);
        if (mine) {
          if (mine.accessMode !== input.accessMode || mine.readOnly !== readOnly) {
            throw new PollyError(
              'ATTACHMENT_EXISTS',
              `${volumeRef(v)} is already attached to node ${node.id} as ${mine.accessMode}${mine.readOnly ? ' read-only' : ''}`,
              { attachment: mine.id, accessMode: mine.accessMode, readOnly: mine.readOnly },
            );
          }
          // A repeat is also a sign of life from that node: its lease starts over.
          const leaseExpiresAt = this.#leaseUntil(now);
          await renewLease(trx, mine.id, leaseExpiresAt);
          return { attachment: { ...mine, leaseExpiresAt }, fenced: [] as Attachment[] };
        }
        const conflicting = live.filter((a) => isExclusive(input.accessMode) || isExclusive(a.accessMode));
        const how = new Map<string, string>();
        for (const h of conflicting) {
          if (storageFenced.has(h.id)) {
            how.set(h.id, 'storage-fence');
            continue;
          }
          const d = decideTakeover({ ...failover, clockSkewSeconds: this.#ctx.config.clockSkewSeconds, now, holder: h, storageCanFence });
          if (d.kind === 'busy') {
            throw new PollyError('VOLUME_BUSY', `${volumeRef(v)} is attached (${h.accessMode}) to node ${h.node}`, {
              node: h.node,
              accessMode: h.accessMode,
              leaseExpiresAt: h.leaseExpiresAt,
            });
          }
          if (d.kind === 'wait') throw new WaitingForFence(h, d.reason, d.until, d.remedies);
          if (d.kind === 'storage-fence') throw new NeedsStorageFence(h);
          how.set(h.id, 'force-after');
        }
        for (const old of conflicting) {
          await endAttachment(trx, old.id, 'fenced', at);
          await this.#ctx.events.record(
            trx,
            {
              type: 'attachment.fenced',
              service: old.service,
              objectId: old.id,
              data: {
                volumeId,
                node: old.node,
                fencingToken: old.fencingToken,
                by: node.id,
                how: how.get(old.id) ?? 'lease',
                // When the holder went silent, and what the storage fence cost: a takeover's breakdown.
                leaseExpiresAt: old.leaseExpiresAt,
                ...(storageFenced.has(old.id) ? { storageFenceMs: storageFenced.get(old.id) } : {}),
              },
            },
            at,
          );
        }
        if (v.status === 'attached' && v.statusReason !== null) await updateVolume(trx, volumeId, 'attached', { statusReason: null }, at);
        if (v.status === 'available') {
          assertTransition(volumeId, 'available', 'attaching');
          assertTransition(volumeId, 'attaching', 'attached');
          await updateVolume(trx, volumeId, 'available', { status: 'attached', statusReason: null }, at);
        } else if (v.status !== 'attached') {
          throw new PollyError('INVALID_STATE', `${volumeRef(v)} is ${v.status}; only available or attached volumes can be attached`, { status: v.status });
        }
        const attachment: Attachment = {
          id: newId('att'),
          volumeId,
          service,
          node: node.id,
          accessMode,
          readOnly,
          fencingToken: await nextFencingToken(trx, volumeId),
          status: 'live',
          leaseExpiresAt: this.#leaseUntil(now),
          createdAt: at,
          endedAt: null,
        };
        await insertAttachment(trx, attachment);
        await this.#ctx.events.record(
          trx,
          {
            type: 'attachment.created',
            service,
            objectId: attachment.id,
            data: { volumeId, node: node.id, accessMode: attachment.accessMode, readOnly, fencingToken: attachment.fencingToken },
          },
          at,
        );
        return { attachment, fenced: conflicting };
      })
      .catch((err: unknown) => {
        // A racing attach on another replica won the database's uniqueness check.
        if (isUniqueViolation(err)) throw new PollyError('VOLUME_BUSY', `volume ${volumeId} was attached elsewhere meanwhile; retry`);
        throw err;
      });
    fenced = result.fenced;
    if (fenced.length > 0) this.#ctx.log.warn({ volumeId, fenced: fenced.map((f) => f.node), node: node.id }, 'fenced attachments whose lease expired');
    this.#ctx.events.notify();
    return result.attachment;
  }

  async #assertReachable(v: Volume, node: NodeRecord): Promise<void> {
    const pool = await findPool(this.#ctx.store.db, v.pool);
    if (!pool) return;
    const undeclared = (pool.topology.nodes ?? []).length === 0 && pool.topology.shared !== true;
    const home = undeclared ? await this.#homeNode() : undefined;
    const nodes = poolNodes(pool, home);
    if (nodes !== undefined && !nodes.includes(node.id)) {
      const where = nodes.length === 0 ? 'no node yet' : `node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')}`;
      const why = undeclared ? ` (it declares no nodes: ${home === undefined ? 'no node is registered' : `${home} is ${this.#ctx.config.agent.enabled ? "the server's embedded agent" : 'the node registered first'}`})` : '';
      throw new PollyError(
        'POOL_NOT_ON_NODE',
        `pool ${pool.name} (driver ${pool.driver}) is node-local and lives on ${where}${why}; node ${node.id} cannot attach its volumes. Declare the nodes that see its path (topology.nodes) or, when every node sees the same filesystem, shared: true`,
        { pool: pool.name, nodes, node: node.id },
      );
    }
    const zone = node.topology.zone;
    if (!zoneReaches(pool.topology.zone, zone)) {
      throw new PollyError('VALIDATION_FAILED', `pool ${pool.name} is in zone ${pool.topology.zone}; node ${node.id} is in zone ${zone}`);
    }
  }

  /** Where an undeclared node-local pool lives: the embedded agent's node, else the node registered first. */
  #homeNode(): Promise<string | undefined> {
    return poolHomeNode(this.#ctx);
  }

  /**
   * Ends an attachment. Its owner (or the admin) may detach; `force` is the admin's: it fences the holder
   * (the volume's fencing token moves on, so the node's agent drops its mount) whatever the volume's state.
   * Detaching an attachment that already ended changes nothing.
   */
  async detach(identity: Identity, id: string, opts: { force?: boolean | undefined } = {}): Promise<void> {
    if (opts.force && identity.kind !== 'admin') throw new PollyError('FORBIDDEN', 'force detach needs the admin token');
    const ended = await this.#ctx.store.transaction(async (trx) => {
      const a = await this.#visible(trx, identity, id);
      if (a.status !== 'live') return undefined;
      await this.#lockVolume(trx, a.volumeId);
      const at = this.#now().toISOString();
      if (!(await endAttachment(trx, id, opts.force ? 'fenced' : 'ended', at))) return undefined;
      if (opts.force) await nextFencingToken(trx, a.volumeId);
      const v = await releaseVolumeIfIdle(trx, a.volumeId, at);
      await this.#ctx.events.record(
        trx,
        { type: opts.force ? 'attachment.fenced' : 'attachment.ended', service: a.service, objectId: id, data: { volumeId: a.volumeId, node: a.node, fencingToken: a.fencingToken } },
        at,
      );
      return a.publishContext && v ? { volume: v, node: a.node } : undefined;
    });
    this.#ctx.events.notify();
    if (ended) await this.#unpublish(ended.volume, ended.node);
  }

  /** Tells a networked driver's controller half that the node no longer needs the volume (best effort: logged). */
  async #unpublish(v: Volume, nodeId: string): Promise<void> {
    try {
      const driver = await this.#pools.driver(v.pool);
      const node = await findNode(this.#ctx.store.db, nodeId);
      if (driver.detach && node) await driver.detach({ backendId: v.backendId, volumeId: v.id, node: connectorOf(node) });
    } catch (err) {
      this.#ctx.log.warn({ err, volumeId: v.id, node: nodeId }, 'controller detach failed');
    }
  }

  async #visible(ex: Executor, identity: Identity, id: string): Promise<Attachment> {
    const a = await findAttachment(ex, id);
    if (!a || (identity.kind === 'service' && a.service !== identity.service)) {
      throw new PollyError('ATTACHMENT_NOT_FOUND', `attachment ${id} not found`);
    }
    return a;
  }

  get(identity: Identity, id: string): Promise<Attachment> {
    return this.#visible(this.#ctx.store.db, identity, id);
  }

  /** Live attachments the caller holds (the admin: all), by node and/or volume. */
  list(identity: Identity, filter: { node?: string | undefined; volumeId?: string | undefined } = {}): Promise<Attachment[]> {
    return listLiveAttachments(this.#ctx.store.db, { ...filter, service: identity.kind === 'service' ? identity.service : undefined });
  }

  /**
   * Registers a node (or updates its hostname and topology). Nodes are cluster-wide: agents of several
   * services may share a host and register the same node id. Its topology decides where volumes may be
   * attached, so only the service that registered the node first (or the admin) may change it; another
   * service may re-register it only as it is.
   */
  async registerNode(
    identity: Identity,
    input: { id: string; hostname: string; topology?: Record<string, string> | undefined; connector?: ConnectorInput | undefined },
  ): Promise<NodeView> {
    assertValidName('node', input.id);
    const connector = checkConnector(input.connector);
    if (typeof input.hostname !== 'string' || input.hostname === '' || input.hostname.length > 253) {
      throw new PollyError('VALIDATION_FAILED', 'hostname must be 1-253 characters');
    }
    const topology = input.topology ?? {};
    assertValidLabels('topology', topology);
    const at = this.#now().toISOString();
    const caller = identity.kind === 'admin' ? '*admin' : identity.service;
    await this.#ctx.store.transaction(async (trx) => {
      const existing = await findNode(trx, input.id);
      const owner = existing?.registeredBy ?? null;
      if (existing && identity.kind === 'service' && owner !== null && owner !== caller && !sameLabels(existing.topology, topology)) {
        throw new PollyError('FORBIDDEN', `node ${input.id} was registered by another service with topology ${JSON.stringify(existing.topology)}; only it or the admin may change the topology`);
      }
      await upsertNode(trx, { id: input.id, hostname: input.hostname, topology, registeredBy: owner ?? caller, connector }, at);
      if (existing && identity.kind === 'service' && owner !== null && owner !== caller && !existing.coRegistrants.includes(caller)) {
        await setNodeCoRegistrants(trx, input.id, [...existing.coRegistrants, caller]);
      }
      await this.#ctx.events.record(trx, { type: 'node.registered', service: null, objectId: input.id, data: { hostname: input.hostname, topology } }, at);
    });
    this.#ctx.events.notify();
    const node = await findNode(this.#ctx.store.db, input.id);
    if (!node) throw new PollyError('INTERNAL', `node ${input.id} vanished after registration`);
    return this.nodeView(node);
  }

  async listNodes(_identity: Identity): Promise<NodeView[]> {
    return (await listNodes(this.#ctx.store.db)).map((n) => this.nodeView(n));
  }

  async getNode(_identity: Identity, id: string): Promise<NodeView> {
    const node = await findNode(this.#ctx.store.db, id);
    if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${id} is not registered`);
    return this.nodeView(node);
  }

  /**
   * A node with its fencing timeline: by when its agent fences itself if it hears nothing more (last
   * heartbeat + lease − margin) and from when another node may be granted its volumes (lease end + skew).
   */
  nodeView(node: NodeRecord): NodeView {
    const c = this.#ctx.config;
    const last = node.lastHeartbeatAt === null ? null : Date.parse(node.lastHeartbeatAt);
    return {
      ...node,
      leaseSeconds: c.attachmentLeaseSeconds,
      selfFenceMarginSeconds: c.selfFenceMarginSeconds,
      clockSkewSeconds: c.clockSkewSeconds,
      selfFenceDeadline: last === null ? null : new Date(selfFenceDeadline(last, c.attachmentLeaseSeconds, c.selfFenceMarginSeconds)).toISOString(),
      regrantAfter: last === null ? null : regrantAt(new Date(last + c.attachmentLeaseSeconds * 1000).toISOString(), c.clockSkewSeconds).toISOString(),
    };
  }

  /**
   * Only a service whose agent registered the node (first, or unchanged afterwards), or the admin, may
   * heartbeat or report for it; a node the admin registered is the cluster's, open to every service.
   * Another service is told the node does not exist.
   */
  async assertActsFor(identity: Identity, nodeId: string): Promise<NodeRecord> {
    const node = await findNode(this.#ctx.store.db, nodeId);
    if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
    if (identity.kind === 'admin') return node;
    const owner = node.registeredBy;
    if (owner === null || owner === '*admin' || owner === identity.service || node.coRegistrants.includes(identity.service)) return node;
    throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
  }

  /**
   * A node's heartbeat: renews the leases of its live attachments (a service's heartbeat renews that
   * service's; the admin's, all) and answers the attachments the node should hold, with their tokens.
   */
  async heartbeat(identity: Identity, nodeId: string): Promise<HeartbeatResult> {
    const scope = identity.kind === 'service' ? identity.service : undefined;
    const node = await this.assertActsFor(identity, nodeId);
    // A fenced node must not write: its agent, told so, fences everything it holds at once.
    if (node.fence) throw new PollyError('NODE_FENCED', `node ${nodeId} is fenced (${node.fence.reason || 'confirmed down'}, ${node.fence.at})`);
    const now = this.#now();
    const attachments = await this.#ctx.store.transaction(async (trx) => {
      if (!(await touchNode(trx, nodeId, now.toISOString()))) throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
      await renewLeases(trx, nodeId, scope, this.#leaseUntil(now));
      return listLiveAttachments(trx, { node: nodeId, service: scope });
    });
    const items: NodeAttachment[] = [];
    const profiles = new Map<string, { volumeMode: VolumeMode; fsType: string }>();
    const secrets = new Map<string, Record<string, string>>();
    const attachesAtController = new Map<string, boolean>();
    // One query for all the node's volumes (not one per attachment: a node may hold hundreds).
    const volumes = attachments.length === 0 ? new Map<string, Volume>() : await findVolumes(this.#ctx.store.db, attachments.map((a) => a.volumeId));
    for (const a of attachments) {
      const v = volumes.get(a.volumeId);
      if (!v) continue;
      // An attachment on a networked pool is granted before its controller attach answers; until its
      // publish context is recorded the node could not stage it (and an agent reconciling would try),
      // so it is not shown yet. Its lease was renewed above all the same.
      if (!a.publishContext) {
        let attaches = attachesAtController.get(v.pool);
        if (attaches === undefined) {
          attaches = typeof (await this.#pools.driver(v.pool).catch(() => undefined))?.attach === 'function';
          attachesAtController.set(v.pool, attaches);
        }
        if (attaches) continue;
      }
      let p = profiles.get(v.profile);
      if (!p) {
        const store = this.#ctx.store;
        const profile = await store.definitions.profile(v.profile, () => findProfile(store.db, v.profile));
        p = { volumeMode: profile?.volumeMode ?? 'filesystem', fsType: profile?.fsType ?? 'ext4' };
        profiles.set(v.profile, p);
      }
      // Node-scoped secrets only for attachments whose node half stages from a publish context.
      let poolSecrets = secrets.get(v.pool);
      if (poolSecrets === undefined && a.publishContext) {
        poolSecrets = (await this.#pools.driver(v.pool).catch(() => undefined))?.nodeSecrets?.() ?? {};
        secrets.set(v.pool, poolSecrets);
      }
      items.push({
        ...a,
        volume: { name: v.name, service: v.service, pool: v.pool, backendId: v.backendId, sizeBytes: v.sizeBytes, volumeMode: p.volumeMode, fsType: p.fsType },
        ...(a.publishContext && poolSecrets && Object.keys(poolSecrets).length > 0 ? { secrets: poolSecrets } : {}),
      });
    }
    return { node: nodeId, leaseSeconds: this.#ctx.config.attachmentLeaseSeconds, selfFenceMarginSeconds: this.#ctx.config.selfFenceMarginSeconds, attachments: items };
  }
}

/** An attached volume whose last live attachment ended becomes available again (in the caller's transaction); returns the volume as it was. */
export async function releaseVolumeIfIdle(trx: Executor, volumeId: string, at: string): Promise<Volume | undefined> {
  const rest = await listLiveAttachments(trx, { volumeId });
  const v = await findVolume(trx, volumeId);
  if (rest.length === 0 && v?.status === 'attached') {
    assertTransition(v.id, 'attached', 'detaching');
    assertTransition(v.id, 'detaching', 'available');
    await updateVolume(trx, v.id, 'attached', { status: 'available', statusReason: null }, at);
  }
  return v;
}

/** A holder whose lease ran out but that is not known to have stopped writing (see core/failover.ts). */
class WaitingForFence extends Error {
  constructor(
    readonly holder: Attachment,
    readonly reason: string,
    readonly until: string | null,
    readonly remedies: string[],
  ) {
    super(reason);
  }
}

/** A holder the pool's driver must fence at the storage before the volume moves. */
class NeedsStorageFence extends Error {
  constructor(readonly holder: Attachment) {
    super(`node ${holder.node} must be fenced at the storage first`);
  }
}

function checkConnector(c: ConnectorInput | undefined): { addresses: string[]; clientId?: string | undefined } | undefined {
  if (c === undefined) return undefined;
  const addresses = c.addresses ?? [];
  if (!Array.isArray(addresses) || addresses.length > 32 || addresses.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 64)) {
    throw new PollyError('VALIDATION_FAILED', 'connector.addresses must be at most 32 addresses of 1-64 characters');
  }
  if (c.clientId !== undefined && (typeof c.clientId !== 'string' || c.clientId.length === 0 || c.clientId.length > 128)) {
    throw new PollyError('VALIDATION_FAILED', 'connector.clientId must be 1-128 characters');
  }
  return { addresses, ...(c.clientId !== undefined ? { clientId: c.clientId } : {}) };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
