import { setTimeout as sleep } from 'node:timers/promises';
import type * as csi from '../../api/csi/proto.js';
import { PollyError } from '../../core/errors.js';
import type {
  BackendCapacity,
  BackendObject,
  ControllerAttachRequest,
  CreatedSnapshot,
  CreatedVolume,
  CreateVolumeRequest,
  DriverCapabilities,
  DriverContext,
  NodeConnector,
  PublishContext,
  QosLimits,
  StorageDriver,
} from '../../core/ports/driver.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { nodeSecrets, secretParameterKeys } from '../system/pool-parameters.js';
import { CsiPluginClient } from './csi-client.js';
import { CSI_PARAMETERS, parseCsiSettings, type CsiPoolSettings } from './csi-parameters.js';
import { CsiNodeDriver } from './csi-node.js';
import { assertBackendId, joinContexts, volumeCapability } from './csi-volumes.js';

export { CSI_PARAMETERS };

/** How long a snapshot may take to become ready_to_use before create fails UNAVAILABLE (a repeat resumes). */
const SNAPSHOT_READY_MS = 120_000;

/** What the plugin said about itself at init. */
interface PluginFacts {
  name: string;
  controller: Set<csi.ControllerRpcType>;
  expansion: 'ONLINE' | 'OFFLINE' | undefined;
}

/** How the driver keeps GetCapacity answers; tests set their own (a loaded machine makes 1 s short). */
export interface CapacityTiming {
  /** How long a GetCapacity answer stands (Polly's own pool capacity cache keeps a reading as long). */
  ttlMs: number;
  /** A renewal goes out this long after the last one (before the answer expires). */
  renewMs: number;
  /** Renewals stop when nobody asked for capacity this long. */
  idleMs: number;
}

const CAPACITY_TIMING: CapacityTiming = { ttlMs: 1_000, renewMs: 700, idleMs: 10_000 };

/**
 * `csi`: a pool whose storage is an external CSI plugin (any vendor's driver, or another Polly). The
 * server is the plugin's CO for Identity and Controller: CreateVolume is named after Polly's volume id (so
 * a repeat after a crash finds the same volume), the plugin's volume_id becomes the backend id, and
 * ControllerPublish answers the publish context the node half hands to the plugin's Node service on the
 * agent's host. Capabilities follow what the plugin announces (ControllerGetCapabilities,
 * GetPluginCapabilities), narrowed by what the pool declares; calls are timed out and retried (see
 * csi-client.ts).
 */
export class CsiDriver implements StorageDriver {
  readonly driverName = 'csi';
  readonly node: CsiNodeDriver;
  readonly secretParameters = Object.fromEntries(secretParameterKeys(CSI_PARAMETERS));
  readonly #poolName: string;
  readonly #params: Record<string, string>;
  readonly #s: CsiPoolSettings;
  readonly #client: CsiPluginClient;
  #facts: PluginFacts | undefined;
  /**
   * What the plugin can do, as announced at init (until then: only what the pool declares). A plain
   * property, not a getter: the server wraps drivers in a Proxy for telemetry, and a getter reading
   * private fields would run with the proxy as `this`.
   */
  capabilities: DriverCapabilities;
  /** The plugin's name as GetPluginInfo answered it (after init). */
  pluginName: string | undefined;
  /** volume_context of the volumes this process created, for ControllerPublish's answer (else looked up). */
  readonly #volumeContexts = new Map<string, Record<string, string>>();
  /** The last GetCapacity answer, kept `ttlMs` and moved by this driver's own creates and deletes. */
  #capacity: { value: BackendCapacity; until: number } | undefined;
  #capacityCall: Promise<BackendCapacity> | undefined;
  /** When capacity was last asked for, and the timer that keeps the answer fresh while it is. */
  #capacityAskedAt = 0;
  #capacityTimer: NodeJS.Timeout | undefined;
  /** Sizes of the volumes this driver created, so that a delete can give their bytes back to the cached figure. */
  readonly #sizes = new Map<string, number>();

  readonly #timing: CapacityTiming;

  constructor(ctx: DriverContext, timing: Partial<CapacityTiming> = {}) {
    this.#timing = { ...CAPACITY_TIMING, ...timing };
    this.#poolName = ctx.poolName;
    this.#params = ctx.parameters;
    this.#s = parseCsiSettings(ctx.poolName, ctx.parameters);
    this.#client = new CsiPluginClient(this.#s.endpoint, `${this.#s.endpoint} (pool ${ctx.poolName})`, this.#s.policy);
    this.node = new CsiNodeDriver(ctx);
    this.capabilities = capabilitiesOf(this.#s, undefined);
  }

  /** Probe (ready), GetPluginInfo, GetPluginCapabilities and ControllerGetCapabilities: the pool's capabilities. */
  async init(): Promise<void> {
    const probe = await this.#client.call<csi.ProbeResponse>('Identity', 'Probe', {});
    if (probe.ready !== null && !probe.ready.value) throw new PollyError('UNAVAILABLE', `pool ${this.#poolName}: CSI plugin at ${this.#s.endpoint} is not ready (Probe)`);
    const info = await this.#client.call<csi.GetPluginInfoResponse>('Identity', 'GetPluginInfo', {});
    const plugin = await this.#client.call<csi.GetPluginCapabilitiesResponse>('Identity', 'GetPluginCapabilities', {});
    if (!plugin.capabilities.some((c) => c.service?.type === 'CONTROLLER_SERVICE')) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: CSI plugin ${info.name} offers no controller service; Polly cannot create volumes with it`);
    }
    const controller = await this.#client.call<csi.ControllerGetCapabilitiesResponse>('Controller', 'ControllerGetCapabilities', {});
    const rpcs = new Set(controller.capabilities.flatMap((c) => (c.rpc ? [c.rpc.type] : [])));
    if (!rpcs.has('CREATE_DELETE_VOLUME')) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: CSI plugin ${info.name} does not offer CREATE_DELETE_VOLUME`);
    }
    const expansion = plugin.capabilities.find((c) => c.volume_expansion)?.volume_expansion?.type;
    this.#facts = { name: info.name, controller: rpcs, expansion: expansion === 'ONLINE' || expansion === 'OFFLINE' ? expansion : undefined };
    this.pluginName = info.name;
    this.capabilities = capabilitiesOf(this.#s, this.#facts);
  }

  #has(rpc: csi.ControllerRpcType): boolean {
    if (!this.#facts) throw new PollyError('UNAVAILABLE', `pool ${this.#poolName}: the CSI plugin has not answered yet (init)`);
    return this.#facts.controller.has(rpc);
  }

  #capability(volumeMode: 'filesystem' | 'block', fsType: string | undefined): csi.VolumeCapability {
    return volumeCapability({ volumeMode, fsType: fsType ?? this.#s.fsType, accessMode: this.#s.accessModes[0] ?? 'RWO' });
  }

  #accessibility(): csi.TopologyRequirement | null {
    const t = this.#s.topology;
    return t === undefined ? null : { requisite: [{ segments: t }], preferred: [{ segments: t }] };
  }

  /**
   * GetCapacity where the plugin offers it (total: the declared `capacityBytes`, else what is available);
   * else unknown. An answer is kept for `ttlMs` (1 s), and this driver's own creates take their
   * bytes off it (deletes give back what they created): Polly re-reads a pool's capacity after every
   * create and delete, and a round trip to the plugin there would be paid by the next create. What else
   * moves the plugin's capacity (data written, other clients) shows within the TTL, as Polly's own
   * capacity cache does. While callers keep asking (within `idleMs`, 10 s), the answer is
   * renewed in the background before it expires, so that no create waits for a GetCapacity round trip.
   * Concurrent readers share one call.
   */
  async capacity(): Promise<BackendCapacity> {
    if (!this.#has('GET_CAPACITY')) return { totalBytes: 0, freeBytes: 0, unknown: true };
    this.#capacityAskedAt = Date.now();
    this.#renewCapacity();
    const cached = this.#capacity;
    if (cached && cached.until > Date.now()) return { ...cached.value };
    return { ...(await this.#askCapacity()) };
  }

  #askCapacity(): Promise<BackendCapacity> {
    this.#capacityCall ??= this.#getCapacity().finally(() => (this.#capacityCall = undefined));
    return this.#capacityCall;
  }

  /** Schedules one renewal of the cached answer shortly before it expires, again while it is read. */
  #renewCapacity(): void {
    if (this.#capacityTimer !== undefined) return;
    this.#capacityTimer = setTimeout(() => {
      this.#capacityTimer = undefined;
      if (Date.now() - this.#capacityAskedAt > this.#timing.idleMs) return;
      // A failed renewal leaves the next reader to ask (and see the error) itself.
      this.#askCapacity().then(() => this.#renewCapacity(), () => undefined);
    }, this.#timing.renewMs);
    this.#capacityTimer.unref();
  }

  async #getCapacity(): Promise<BackendCapacity> {
    const asked = Date.now();
    const res = await this.#client.call<csi.GetCapacityResponse>('Controller', 'GetCapacity', {
      volume_capabilities: [this.#capability('filesystem', undefined)],
      parameters: this.#s.createParameters,
      accessible_topology: this.#s.topology === undefined ? null : { segments: this.#s.topology },
    });
    const free = Math.max(0, res.available_capacity);
    const total = this.#s.capacityBytes ?? free;
    const value = { totalBytes: total, freeBytes: Math.min(free, total) };
    this.#capacity = { value, until: asked + this.#timing.ttlMs };
    return value;
  }

  /** Moves the cached free bytes by what this driver just did (nothing when no answer is cached). */
  #adjustCapacity(deltaBytes: number): void {
    const c = this.#capacity;
    if (!c) return;
    c.value = { ...c.value, freeBytes: Math.max(0, Math.min(c.value.totalBytes, c.value.freeBytes + deltaBytes)) };
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    if (req.volumeMode === 'block' && !this.#s.block) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin is not declared to serve raw block volumes (parameter block)`);
    let content_source: csi.VolumeContentSource | null = null;
    if (req.source?.kind === 'snapshot') {
      if (!this.#has('CREATE_DELETE_SNAPSHOT')) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin does not restore snapshots`);
      content_source = { snapshot: { snapshot_id: req.source.backendId } };
    } else if (req.source?.kind === 'volume') {
      if (!this.#has('CLONE_VOLUME')) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin does not clone volumes (CLONE_VOLUME)`);
      content_source = { volume: { volume_id: req.source.backendId } };
    }
    const mutable = this.#mutableParameters(req.qos);
    const res = await this.#client.call<csi.CreateVolumeResponse>('Controller', 'CreateVolume', {
      name: req.volumeId,
      capacity_range: { required_bytes: req.sizeBytes, limit_bytes: 0 },
      volume_capabilities: [this.#capability(req.volumeMode, req.fsType)],
      parameters: { ...this.#s.createParameters, ...(req.parameters ?? {}) },
      secrets: this.#s.controllerSecrets,
      volume_content_source: content_source,
      accessibility_requirements: this.#accessibility(),
      mutable_parameters: mutable,
    });
    const v = res.volume;
    if (!v?.volume_id) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: CreateVolume of ${req.volumeId} answered no volume`);
    this.#volumeContexts.set(v.volume_id, v.volume_context);
    // 0 means "unknown" in CSI: the plugin made at least what was asked.
    const sizeBytes = v.capacity_bytes > 0 ? v.capacity_bytes : req.sizeBytes;
    // A repeat of a create (same name) finds the volume again: its bytes were taken off already.
    if (!this.#sizes.has(v.volume_id)) this.#adjustCapacity(-sizeBytes);
    this.#sizes.set(v.volume_id, sizeBytes);
    return { backendId: v.volume_id, sizeBytes };
  }

  #mutableParameters(qos: QosLimits | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    if (qos === undefined || !this.capabilities.qos) return out;
    if (this.#s.qosIopsParameter !== undefined && qos.iops !== undefined) out[this.#s.qosIopsParameter] = String(qos.iops);
    if (this.#s.qosBandwidthParameter !== undefined && qos.bandwidthBytes !== undefined) out[this.#s.qosBandwidthParameter] = String(qos.bandwidthBytes);
    return out;
  }

  /** DeleteVolume; the spec makes a missing volume a success (NOT_FOUND from a lax plugin is one too). */
  async delete(backendId: string): Promise<void> {
    assertBackendId(this.#poolName, backendId);
    await this.#client.call('Controller', 'DeleteVolume', { volume_id: backendId, secrets: this.#s.controllerSecrets }).catch(ignoreNotFound);
    this.#volumeContexts.delete(backendId);
    const size = this.#sizes.get(backendId);
    if (size !== undefined) {
      this.#sizes.delete(backendId);
      this.#adjustCapacity(size);
    }
  }

  async expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    assertBackendId(this.#poolName, backendId);
    assertSizeBytes(this.#poolName, sizeBytes);
    if (this.capabilities.expand === 'none') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin does not expand volumes (EXPAND_VOLUME)`);
    // Never shrink, and answer a repeat with the size it has: CSI's expand takes only a lower bound.
    const current = await this.#lookUp(backendId);
    if (current === null) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    if (current !== undefined && current.capacity_bytes >= sizeBytes) return { sizeBytes: current.capacity_bytes };
    const res = await this.#client.call<csi.ControllerExpandVolumeResponse>('Controller', 'ControllerExpandVolume', {
      volume_id: backendId,
      capacity_range: { required_bytes: sizeBytes, limit_bytes: 0 },
      secrets: this.#s.controllerSecrets,
      volume_capability: this.#capability('filesystem', undefined),
    });
    const grown = Math.max(res.capacity_bytes, sizeBytes);
    const before = this.#sizes.get(backendId);
    if (before !== undefined && grown > before) {
      this.#sizes.set(backendId, grown);
      this.#adjustCapacity(before - grown);
    }
    return { sizeBytes: grown };
  }

  /** CreateSnapshot named after Polly's snapshot id, repeated until the plugin says ready_to_use. */
  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertBackendId(this.#poolName, volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    if (!this.#has('CREATE_DELETE_SNAPSHOT')) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin does not take snapshots (CREATE_DELETE_SNAPSHOT)`);
    const started = Date.now();
    for (let wait = 100; ; wait = Math.min(2 * wait, 2_000)) {
      const res = await this.#client.call<csi.CreateSnapshotResponse>('Controller', 'CreateSnapshot', {
        source_volume_id: volumeBackendId,
        name: snapshotId,
        secrets: this.#s.controllerSecrets,
        parameters: this.#s.snapshotParameters,
      });
      const s = res.snapshot;
      if (!s?.snapshot_id) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: CreateSnapshot of ${snapshotId} answered no snapshot`);
      if (s.ready_to_use) return { backendId: s.snapshot_id, sizeBytes: s.size_bytes };
      if (Date.now() - started > SNAPSHOT_READY_MS) {
        throw new PollyError('UNAVAILABLE', `pool ${this.#poolName}: snapshot ${snapshotId} (${s.snapshot_id}) is not ready after ${SNAPSHOT_READY_MS / 1000} s; a repeat resumes waiting`);
      }
      await sleep(wait);
    }
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertBackendId(this.#poolName, backendId);
    if (!this.#has('CREATE_DELETE_SNAPSHOT')) return;
    await this.#client.call('Controller', 'DeleteSnapshot', { snapshot_id: backendId, secrets: this.#s.controllerSecrets }).catch(ignoreNotFound);
  }

  /** CSI has no usage call at the controller: NOT_FOUND for a volume the plugin does not hold, else unknown. */
  async usage(backendId: string): Promise<number | undefined> {
    assertBackendId(this.#poolName, backendId);
    if ((await this.#lookUp(backendId)) === null) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    return undefined;
  }

  /** ListVolumes and ListSnapshots, paged; nothing when the plugin cannot list. */
  async list(): Promise<BackendObject[]> {
    const out: BackendObject[] = [];
    if (this.#has('LIST_VOLUMES')) {
      for await (const v of this.#volumes()) out.push({ backendId: v.volume_id, kind: 'volume', sizeBytes: v.capacity_bytes });
    }
    if (this.#has('LIST_SNAPSHOTS')) {
      let token = '';
      do {
        const page = await this.#client.call<csi.ListSnapshotsResponse>('Controller', 'ListSnapshots', {
          max_entries: 0,
          starting_token: token,
          source_volume_id: '',
          snapshot_id: '',
          secrets: this.#s.controllerSecrets,
        });
        for (const e of page.entries) if (e.snapshot) out.push({ backendId: e.snapshot.snapshot_id, kind: 'snapshot', sizeBytes: e.snapshot.size_bytes });
        token = page.next_token;
      } while (token !== '');
    }
    return out;
  }

  async *#volumes(): AsyncGenerator<csi.Volume> {
    let token = '';
    do {
      const page = await this.#client.call<csi.ListVolumesResponse>('Controller', 'ListVolumes', { max_entries: 0, starting_token: token });
      for (const e of page.entries) if (e.volume) yield e.volume;
      token = page.next_token;
    } while (token !== '');
  }

  /**
   * The plugin's view of one volume: ControllerGetVolume where offered, else a ListVolumes scan; null when
   * it does not hold it; undefined when the plugin can tell neither way.
   */
  async #lookUp(backendId: string): Promise<csi.Volume | null | undefined> {
    if (this.#has('GET_VOLUME')) {
      try {
        const res = await this.#client.call<csi.ControllerGetVolumeResponse>('Controller', 'ControllerGetVolume', { volume_id: backendId });
        // The spec answers a missing volume with NOT_FOUND; csi-driver-host-path answers OK with an abnormal
        // condition ("… does not exist") instead. An abnormal answer is therefore checked against the list.
        if (res.volume && !res.status?.volume_condition?.abnormal) return res.volume;
        if (!this.#has('LIST_VOLUMES')) return res.volume ?? null;
      } catch (err) {
        if (err instanceof PollyError && err.code === 'NOT_FOUND') return null;
        throw err;
      }
    }
    if (this.#has('LIST_VOLUMES')) {
      for await (const v of this.#volumes()) if (v.volume_id === backendId) return v;
      return null;
    }
    return undefined;
  }

  /**
   * ControllerPublish to the node's CSI node id (the connector's clientId, which an agent next to a
   * plugin sets to the plugin's NodeGetInfo node_id; else Polly's node id), when the plugin publishes at
   * all. The answer carries the plugin's publish_context and the volume's volume_context.
   */
  async attach(req: ControllerAttachRequest): Promise<PublishContext> {
    assertBackendId(this.#poolName, req.backendId);
    let publish: Record<string, string> = {};
    if (this.#has('PUBLISH_UNPUBLISH_VOLUME')) {
      const res = await this.#client.call<csi.ControllerPublishVolumeResponse>('Controller', 'ControllerPublishVolume', {
        volume_id: req.backendId,
        node_id: csiNodeId(req.node),
        volume_capability: volumeCapability({ volumeMode: 'filesystem', fsType: this.#s.fsType, accessMode: req.accessMode }),
        readonly: req.readOnly,
        secrets: this.#s.controllerSecrets,
        volume_context: await this.#volumeContext(req.backendId),
      });
      publish = res.publish_context;
    }
    return joinContexts(publish, await this.#volumeContext(req.backendId), req.accessMode);
  }

  async #volumeContext(backendId: string): Promise<Record<string, string>> {
    const known = this.#volumeContexts.get(backendId);
    if (known) return known;
    const v = await this.#lookUp(backendId);
    if (v === null) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    const ctx = v?.volume_context ?? {};
    this.#volumeContexts.set(backendId, ctx);
    return ctx;
  }

  async detach(req: { backendId: string; volumeId: string; node: NodeConnector }): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    if (!this.#has('PUBLISH_UNPUBLISH_VOLUME')) return;
    await this.#client
      .call('Controller', 'ControllerUnpublishVolume', { volume_id: req.backendId, node_id: csiNodeId(req.node), secrets: this.#s.controllerSecrets })
      .catch(ignoreNotFound);
  }

  /** ControllerModifyVolume with the QoS limits in the mutable parameters the pool names. */
  async setQos(backendId: string, qos: QosLimits): Promise<void> {
    assertBackendId(this.#poolName, backendId);
    if (!this.capabilities.qos) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin does not modify volumes (MODIFY_VOLUME with qosIopsParameter/qosBandwidthParameter)`);
    const mutable = this.#mutableParameters(qos);
    // An empty map lifts the limits: the plugin's parameters are set to 0 (CSI has no "unset").
    if (this.#s.qosIopsParameter !== undefined) mutable[this.#s.qosIopsParameter] ??= '0';
    if (this.#s.qosBandwidthParameter !== undefined) mutable[this.#s.qosBandwidthParameter] ??= '0';
    await this.#client.call('Controller', 'ControllerModifyVolume', { volume_id: backendId, secrets: this.#s.controllerSecrets, mutable_parameters: mutable });
  }

  nodeSecrets(): Record<string, string> {
    return nodeSecrets(CSI_PARAMETERS, this.#params);
  }

  async close(): Promise<void> {
    clearTimeout(this.#capacityTimer);
    this.#capacityTimer = undefined;
    this.#capacityAskedAt = 0;
    this.#client.close();
    await this.node.close();
  }
}

/** The pool's capabilities: what the plugin announced, narrowed (or overridden) by what the pool declares. */
function capabilitiesOf(s: CsiPoolSettings, facts: PluginFacts | undefined): DriverCapabilities {
  const has = (t: csi.ControllerRpcType) => facts?.controller.has(t) === true;
  let expand: DriverCapabilities['expand'] = 'none';
  if (has('EXPAND_VOLUME')) expand = facts?.expansion === 'OFFLINE' ? 'offline' : 'online';
  if (s.expand !== undefined) expand = s.expand;
  return {
    snapshots: has('CREATE_DELETE_SNAPSHOT'),
    // A plugin that takes snapshots restores them (CreateVolume from a snapshot source needs no capability of its own).
    restore: has('CREATE_DELETE_SNAPSHOT'),
    clones: has('CLONE_VOLUME'),
    expand,
    block: s.block,
    fsTypes: s.fsTypes,
    accessModes: s.accessModes,
    qos: has('MODIFY_VOLUME') && (s.qosIopsParameter !== undefined || s.qosBandwidthParameter !== undefined),
    sizeEnforced: s.sizeEnforced,
  };
}

/** The CSI node id of a Polly node (see attach). */
export function csiNodeId(node: NodeConnector): string {
  return node.clientId ?? node.node;
}

function ignoreNotFound(err: unknown): void {
  if (err instanceof PollyError && err.code === 'NOT_FOUND') return;
  throw err;
}
