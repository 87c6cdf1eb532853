import { status, type Metadata, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PollyApp } from '../../app/polly-app.js';
import { isPollyError } from '../../core/errors.js';
import type { Snapshot } from '../../core/types.js';
import { inconsistentReason, parseCapabilities, parseCapability, unsupportedReason } from './capabilities.js';
import type { CallerResolver } from './caller.js';
import { byName, toCsiSnapshot, toCsiVolume } from './convert.js';
import { controllerPublish, controllerUnpublish } from './controller-publish.js';
import { createVolume, parseCreateVolume, profileOf } from './create-volume.js';
import { aborted, alreadyExists, CsiError, invalidArgument, outOfRange, unary } from './errors.js';
import { pollyNameFor } from './names.js';
import type * as csi from './proto.js';
import {
  checkSnapshotParameters,
  parseCapacityRange,
  parseMaxEntries,
  parseMutableParameters,
  parseVolumeParameters,
  readPage,
  requireField,
} from './requests.js';
import { poolInZones, profileAllows, ZONE_KEY } from './topology.js';

/** What the controller offers, declared once. */
const CONTROLLER_CAPABILITIES: csi.ControllerRpcType[] = [
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'GET_VOLUME',
  'PUBLISH_READONLY',
  'MODIFY_VOLUME',
];

/**
 * CSI Controller over Polly's use cases. Every RPC checks its arguments (INVALID_ARGUMENT naming the
 * field), then resolves the caller (a service), then looks up, then acts; the use cases enforce tenancy,
 * so another service's objects are simply not found. Every mutation is idempotent as the spec requires.
 */
export class CsiController {
  readonly #app: PollyApp;
  readonly #callers: CallerResolver;

  constructor(app: PollyApp, callers: CallerResolver) {
    this.#app = app;
    this.#callers = callers;
  }

  async createVolume(req: csi.CreateVolumeRequest, md: Metadata): Promise<csi.CreateVolumeResponse> {
    const args = parseCreateVolume(req);
    const caller = await this.#callers.resolve(req.secrets, md);
    return createVolume(this.#app, caller, args);
  }

  /** Not an error when the volume does not exist (or belongs to another service: not found for this one). */
  async deleteVolume(req: csi.DeleteVolumeRequest, md: Metadata): Promise<csi.EmptyResponse> {
    const id = requireField(req.volume_id, 'volume_id');
    const caller = await this.#callers.resolve(req.secrets, md);
    const v = await this.#app.volumes.get(caller, id).catch(notFoundAs(undefined));
    if (v === undefined) return {};
    if (v.status === 'creating' || v.status === 'deleting' || v.status === 'importing') {
      throw aborted(`volume ${id} is ${v.status}: an operation on it is pending; retry`);
    }
    await this.#app.volumes.remove(caller, id).catch(notFoundAs(undefined));
    return {};
  }

  /**
   * Changes a volume's mutable parameters in place (Kubernetes' VolumeAttributesClass): `profile` moves it
   * to another profile that fits it where it lies. NOT_FOUND for a missing volume; INVALID_ARGUMENT for a
   * key Polly cannot change or a profile that does not fit. Idempotent.
   */
  async modifyVolume(req: csi.ControllerModifyVolumeRequest, md: Metadata): Promise<csi.EmptyResponse> {
    const id = requireField(req.volume_id, 'volume_id');
    const mutable = parseMutableParameters(req.mutable_parameters);
    const caller = await this.#callers.resolve(req.secrets, md);
    const v = await this.#app.volumes.get(caller, id);
    if (mutable.profile !== undefined) {
      await profileOf(this.#app, caller, mutable.profile);
      await this.#app.volumeProfiles.changeProfile(caller, v.id, mutable.profile);
    }
    return {};
  }

  async validateVolumeCapabilities(req: csi.ValidateVolumeCapabilitiesRequest, md: Metadata): Promise<csi.ValidateVolumeCapabilitiesResponse> {
    const id = requireField(req.volume_id, 'volume_id');
    if (req.volume_capabilities.length === 0) throw invalidArgument('volume_capabilities is required (at least one)');
    const wanted = parseCapabilities(req.volume_capabilities, 'volume_capabilities');
    const params = parseVolumeParameters(req.parameters);
    const caller = await this.#callers.resolve(req.secrets, md);
    const v = await this.#app.volumes.get(caller, id);
    const pool = (await this.#app.pools.list(caller)).find((p) => p.name === v.pool);
    const profile = (await this.#app.profiles.list(caller)).find((p) => p.name === v.profile);
    let reason = inconsistentReason(wanted) ?? (pool ? unsupportedReason(pool, profile, wanted) : `pool ${v.pool} is not loaded on this server`);
    if (params.profile !== undefined && params.profile !== v.profile) reason ??= `the volume has profile ${v.profile}, not ${params.profile}`;
    if (params.pool !== undefined && params.pool !== v.pool) reason ??= `the volume is in pool ${v.pool}, not ${params.pool}`;
    if (reason !== undefined) return { confirmed: null, message: reason };
    return {
      confirmed: { volume_context: req.volume_context, volume_capabilities: req.volume_capabilities, parameters: req.parameters, mutable_parameters: {} },
      message: '',
    };
  }

  async listVolumes(req: csi.ListVolumesRequest, md: Metadata): Promise<csi.ListVolumesResponse> {
    const maxEntries = parseMaxEntries(req.max_entries);
    const caller = await this.#callers.resolve(undefined, md);
    const page = await readPage(maxEntries, req.starting_token, (limit, cursor) => this.#app.volumes.list(caller, { limit, cursor }));
    const pools = byName(await this.#app.pools.list(caller));
    return {
      entries: page.items.map((v) => ({ volume: toCsiVolume(v, pools.get(v.pool)), status: null })),
      next_token: page.nextToken,
    };
  }

  async controllerGetVolume(req: csi.ControllerGetVolumeRequest, md: Metadata): Promise<csi.ControllerGetVolumeResponse> {
    const id = requireField(req.volume_id, 'volume_id');
    const caller = await this.#callers.resolve(undefined, md);
    const v = await this.#app.volumes.get(caller, id);
    const pool = (await this.#app.pools.list(caller)).find((p) => p.name === v.pool);
    const abnormal = v.status === 'error';
    return {
      volume: toCsiVolume(v, pool),
      status: {
        published_node_ids: [],
        volume_condition: { abnormal, message: abnormal ? `error: ${v.statusReason ?? 'no reason recorded'}` : v.status },
      },
    };
  }

  /**
   * Free bytes of the enabled pools that could hold such a volume: reachable from the given topology,
   * allowed by the profile and `pool` parameters, able to serve the capabilities. The largest volume is
   * what the roomiest single pool (within the profile's maximum) can take.
   */
  async getCapacity(req: csi.GetCapacityRequest, md: Metadata): Promise<csi.GetCapacityResponse> {
    const wanted = parseCapabilities(req.volume_capabilities, 'volume_capabilities');
    const params = parseVolumeParameters(req.parameters);
    const zone = req.accessible_topology?.segments[ZONE_KEY];
    const caller = await this.#callers.resolve(undefined, md);
    const profile = params.profile === undefined ? undefined : await profileOf(this.#app, caller, params.profile);
    const pools = (await this.#app.pools.list(caller)).filter(
      (p) =>
        p.state === 'enabled' &&
        (params.pool === undefined || p.name === params.pool) &&
        (zone === undefined || poolInZones(p, [zone])) &&
        (profile === undefined || profileAllows(profile, p)) &&
        unsupportedReason(p, profile, wanted) === undefined,
    );
    const free = pools.map((p) => Math.max(0, p.capacity.freeBytes));
    const available = free.reduce((a, b) => a + b, 0);
    const largest = Math.min(Math.max(0, ...free), profile?.maxBytes ?? Infinity);
    return { available_capacity: available, maximum_volume_size: { value: largest }, minimum_volume_size: null };
  }

  getCapabilities(): csi.ControllerGetCapabilitiesResponse {
    return { capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) };
  }

  /** Idempotent by name: the same name for the same source volume returns the snapshot taken first. */
  async createSnapshot(req: csi.CreateSnapshotRequest, md: Metadata): Promise<csi.CreateSnapshotResponse> {
    const volumeId = requireField(req.source_volume_id, 'source_volume_id');
    const csiName = requireField(req.name, 'name');
    checkSnapshotParameters(req.parameters);
    const caller = await this.#callers.resolve(req.secrets, md);
    const name = pollyNameFor(csiName);
    const answer = (s: Snapshot): csi.CreateSnapshotResponse => {
      if (s.volumeId !== volumeId) throw alreadyExists(`snapshot ${csiName} already exists (${s.id}) for another source volume`);
      if (s.status === 'deleting') throw aborted(`snapshot ${csiName} (${s.id}) is being deleted; retry`);
      if (s.status === 'error') throw new CsiError(status.INTERNAL, `snapshot ${csiName} (${s.id}) is in error (${s.statusReason ?? 'no reason recorded'}); delete it to reuse the name`);
      return { snapshot: toCsiSnapshot(s) };
    };
    const existing = await this.#app.snapshots.findByName(caller, name);
    if (existing) return answer(existing);
    try {
      return { snapshot: toCsiSnapshot(await this.#app.snapshots.create(caller, volumeId, { name })) };
    } catch (err) {
      const winner = isPollyError(err) && err.code === 'SNAPSHOT_NAME_TAKEN' ? await this.#app.snapshots.findByName(caller, name) : undefined;
      if (winner) return answer(winner);
      throw err;
    }
  }

  /** Not an error when the snapshot does not exist. */
  async deleteSnapshot(req: csi.DeleteSnapshotRequest, md: Metadata): Promise<csi.EmptyResponse> {
    const id = requireField(req.snapshot_id, 'snapshot_id');
    const caller = await this.#callers.resolve(req.secrets, md);
    const s = await this.#app.snapshots.get(caller, id).catch(notFoundAs(undefined));
    if (s === undefined) return {};
    if (s.status === 'creating' || s.status === 'deleting') throw aborted(`snapshot ${id} is ${s.status}: an operation on it is pending; retry`);
    await this.#app.snapshots.remove(caller, id).catch(notFoundAs(undefined));
    return {};
  }

  /** Filters that match nothing (an unknown snapshot or volume) give an empty list, as the spec asks. */
  async listSnapshots(req: csi.ListSnapshotsRequest, md: Metadata): Promise<csi.ListSnapshotsResponse> {
    const maxEntries = parseMaxEntries(req.max_entries);
    const caller = await this.#callers.resolve(req.secrets, md);
    const entries = (items: Snapshot[]) => items.map((s) => ({ snapshot: toCsiSnapshot(s) }));
    if (req.snapshot_id !== '') {
      const s = await this.#app.snapshots.get(caller, req.snapshot_id).catch(notFoundAs(undefined));
      const match = s !== undefined && (req.source_volume_id === '' || s.volumeId === req.source_volume_id);
      return { entries: match ? entries([s]) : [], next_token: '' };
    }
    const volumeId = req.source_volume_id === '' ? undefined : req.source_volume_id;
    const page = await readPage(maxEntries, req.starting_token, (limit, cursor) => this.#app.snapshots.list(caller, { volumeId, limit, cursor })).catch(
      notFoundAs({ items: [], nextToken: '' }),
    );
    return { entries: entries(page.items), next_token: page.nextToken };
  }

  async getSnapshot(req: csi.GetSnapshotRequest, md: Metadata): Promise<csi.GetSnapshotResponse> {
    const id = requireField(req.snapshot_id, 'snapshot_id');
    const caller = await this.#callers.resolve(req.secrets, md);
    return { snapshot: toCsiSnapshot(await this.#app.snapshots.get(caller, id)) };
  }

  /**
   * Grows a volume to at least `required_bytes` (a volume already that large is left alone: idempotent).
   * Directory drivers have no filesystem to grow on the node; block-backed ones do, unless the volume is
   * raw block.
   */
  async expandVolume(req: csi.ControllerExpandVolumeRequest, md: Metadata): Promise<csi.ControllerExpandVolumeResponse> {
    const id = requireField(req.volume_id, 'volume_id');
    if (req.capacity_range === null) throw invalidArgument('capacity_range is required');
    const range = parseCapacityRange(req.capacity_range);
    if (range.requiredBytes === 0) throw invalidArgument('capacity_range.required_bytes is required');
    const capability = req.volume_capability === null ? undefined : parseCapability(req.volume_capability, 'volume_capability');
    const caller = await this.#callers.resolve(req.secrets, md);
    let v = await this.#app.volumes.get(caller, id);
    if (range.limitBytes !== undefined && v.sizeBytes > range.limitBytes) {
      throw outOfRange(`volume ${id} already has ${v.sizeBytes} bytes, more than limit_bytes ${range.limitBytes}`);
    }
    if (v.sizeBytes < range.requiredBytes) v = await this.#app.volumes.expand(caller, id, range.requiredBytes);
    const pool = (await this.#app.pools.list(caller)).find((p) => p.name === v.pool);
    const hasFilesystem = (pool?.capabilities.fsTypes.length ?? 0) > 0 && capability?.volumeMode !== 'block';
    return { capacity_bytes: v.sizeBytes, node_expansion_required: hasFilesystem };
  }
}

/** Turns "not found" from a use case into a value, for the RPCs where absence is an answer. */
function notFoundAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (isPollyError(err) && (err.code === 'VOLUME_NOT_FOUND' || err.code === 'SNAPSHOT_NOT_FOUND')) return value;
    throw err;
  };
}

export function controllerServer(app: PollyApp, log: Logger, callers: CallerResolver): UntypedServiceImplementation {
  const c = new CsiController(app, callers);
  return {
    CreateVolume: unary(log, 'CreateVolume', (req: csi.CreateVolumeRequest, call) => c.createVolume(req, call.metadata)),
    DeleteVolume: unary(log, 'DeleteVolume', (req: csi.DeleteVolumeRequest, call) => c.deleteVolume(req, call.metadata)),
    ControllerPublishVolume: unary(log, 'ControllerPublishVolume', (req: csi.ControllerPublishVolumeRequest, call) => controllerPublish(app, callers, req, call.metadata)),
    ControllerUnpublishVolume: unary(log, 'ControllerUnpublishVolume', (req: csi.ControllerUnpublishVolumeRequest, call) => controllerUnpublish(app, callers, req, call.metadata)),
    ValidateVolumeCapabilities: unary(log, 'ValidateVolumeCapabilities', (req: csi.ValidateVolumeCapabilitiesRequest, call) =>
      c.validateVolumeCapabilities(req, call.metadata),
    ),
    ListVolumes: unary(log, 'ListVolumes', (req: csi.ListVolumesRequest, call) => c.listVolumes(req, call.metadata)),
    GetCapacity: unary(log, 'GetCapacity', (req: csi.GetCapacityRequest, call) => c.getCapacity(req, call.metadata)),
    ControllerGetCapabilities: unary(log, 'ControllerGetCapabilities', async () => c.getCapabilities()),
    CreateSnapshot: unary(log, 'CreateSnapshot', (req: csi.CreateSnapshotRequest, call) => c.createSnapshot(req, call.metadata)),
    DeleteSnapshot: unary(log, 'DeleteSnapshot', (req: csi.DeleteSnapshotRequest, call) => c.deleteSnapshot(req, call.metadata)),
    ListSnapshots: unary(log, 'ListSnapshots', (req: csi.ListSnapshotsRequest, call) => c.listSnapshots(req, call.metadata)),
    GetSnapshot: unary(log, 'GetSnapshot', (req: csi.GetSnapshotRequest, call) => c.getSnapshot(req, call.metadata)),
    ControllerExpandVolume: unary(log, 'ControllerExpandVolume', (req: csi.ControllerExpandVolumeRequest, call) => c.expandVolume(req, call.metadata)),
    ControllerModifyVolume: unary(log, 'ControllerModifyVolume', (req: csi.ControllerModifyVolumeRequest, call) => c.modifyVolume(req, call.metadata)),
    ControllerGetVolume: unary(log, 'ControllerGetVolume', (req: csi.ControllerGetVolumeRequest, call) => c.controllerGetVolume(req, call.metadata)),
  };
}
