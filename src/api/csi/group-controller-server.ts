import { status, type Metadata, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PollyApp } from '../../app/polly-app.js';
import { isPollyError } from '../../core/errors.js';
import type { GroupSnapshot } from '../../core/types.js';
import type { CallerResolver } from './caller.js';
import { toCsiSnapshot, toTimestamp } from './convert.js';
import { aborted, alreadyExists, CsiError, invalidArgument, unary } from './errors.js';
import { pollyNameFor } from './names.js';
import type * as csi from './proto.js';
import { checkSnapshotParameters, requireField } from './requests.js';

/** What the group controller offers, declared once. */
const GROUP_CONTROLLER_CAPABILITIES: csi.GroupControllerRpcType[] = ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'];

export function toCsiGroupSnapshot(g: GroupSnapshot): csi.VolumeGroupSnapshot {
  const snapshots = g.snapshots.map(toCsiSnapshot);
  return {
    group_snapshot_id: g.id,
    snapshots,
    creation_time: toTimestamp(g.createdAt),
    ready_to_use: g.status === 'ready' && snapshots.every((s) => s.ready_to_use),
  };
}

/**
 * INVALID_ARGUMENT when the CO names member snapshots that are not exactly the group's (the spec's
 * "snapshot list mismatch"); an empty list is not checked, as csi-sanity and older COs send none.
 */
function checkMembers(g: GroupSnapshot, snapshotIds: readonly string[]): void {
  if (snapshotIds.length === 0) return;
  const mine = new Set(g.snapshots.map((s) => s.id));
  const same = snapshotIds.length === mine.size && snapshotIds.every((id) => mine.has(id));
  if (!same) throw invalidArgument(`snapshot_ids do not match the members of group snapshot ${g.id} (${[...mine].join(', ')})`);
}

/** Turns "group not found" into a value, for the RPCs where absence is an answer. */
function groupNotFoundAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (isPollyError(err) && err.code === 'GROUP_SNAPSHOT_NOT_FOUND') return value;
    throw err;
  };
}

/**
 * CSI GroupController over Polly's group snapshots: argument checks first (INVALID_ARGUMENT naming the
 * field), then the caller, then the use case, which enforces tenancy (another service's group is not found).
 */
export class CsiGroupController {
  readonly #app: PollyApp;
  readonly #callers: CallerResolver;

  constructor(app: PollyApp, callers: CallerResolver) {
    this.#app = app;
    this.#callers = callers;
  }

  getCapabilities(): csi.GroupControllerGetCapabilitiesResponse {
    return { capabilities: GROUP_CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) };
  }

  /** Idempotent by name: the same name over the same volumes returns the group cut first. */
  async create(req: csi.CreateVolumeGroupSnapshotRequest, md: Metadata): Promise<csi.CreateVolumeGroupSnapshotResponse> {
    const csiName = requireField(req.name, 'name');
    if (req.source_volume_ids.length === 0) throw invalidArgument('source_volume_ids is required');
    req.source_volume_ids.forEach((id, i) => requireField(id, `source_volume_ids[${i}]`));
    checkSnapshotParameters(req.parameters);
    const caller = await this.#callers.resolve(req.secrets, md);
    const name = pollyNameFor(csiName);
    const answer = (g: GroupSnapshot): csi.CreateVolumeGroupSnapshotResponse => {
      if (g.status === 'deleting') throw aborted(`group snapshot ${csiName} (${g.id}) is being deleted; retry`);
      if (g.status === 'error') {
        throw new CsiError(status.INTERNAL, `group snapshot ${csiName} (${g.id}) is in error (${g.statusReason ?? 'no reason recorded'}); delete it to reuse the name`);
      }
      if (g.status === 'creating') throw aborted(`group snapshot ${csiName} (${g.id}) is being cut; retry`);
      return { group_snapshot: toCsiGroupSnapshot(g) };
    };
    try {
      return answer(await this.#app.groupSnapshots.create(caller, { name, volumeIds: req.source_volume_ids }));
    } catch (err) {
      if (isPollyError(err) && err.code === 'GROUP_SNAPSHOT_NAME_TAKEN') throw alreadyExists(`group snapshot ${csiName} already exists for other source volumes`);
      throw err;
    }
  }

  /** Not an error when the group does not exist. */
  async delete(req: csi.DeleteVolumeGroupSnapshotRequest, md: Metadata): Promise<csi.EmptyResponse> {
    const id = requireField(req.group_snapshot_id, 'group_snapshot_id');
    const caller = await this.#callers.resolve(req.secrets, md);
    const g = await this.#app.groupSnapshots.get(caller, id).catch(groupNotFoundAs(undefined));
    if (g === undefined) return {};
    checkMembers(g, req.snapshot_ids);
    if (g.status === 'creating' || g.status === 'deleting') throw aborted(`group snapshot ${id} is ${g.status}: an operation on it is pending; retry`);
    await this.#app.groupSnapshots.remove(caller, id).catch(groupNotFoundAs(undefined));
    return {};
  }

  async get(req: csi.GetVolumeGroupSnapshotRequest, md: Metadata): Promise<csi.GetVolumeGroupSnapshotResponse> {
    const id = requireField(req.group_snapshot_id, 'group_snapshot_id');
    const caller = await this.#callers.resolve(req.secrets, md);
    const g = await this.#app.groupSnapshots.get(caller, id);
    checkMembers(g, req.snapshot_ids);
    return { group_snapshot: toCsiGroupSnapshot(g) };
  }
}

export function groupControllerServer(app: PollyApp, log: Logger, callers: CallerResolver): UntypedServiceImplementation {
  const c = new CsiGroupController(app, callers);
  return {
    GroupControllerGetCapabilities: unary(log, 'GroupControllerGetCapabilities', async () => c.getCapabilities()),
    CreateVolumeGroupSnapshot: unary(log, 'CreateVolumeGroupSnapshot', (req: csi.CreateVolumeGroupSnapshotRequest, call) => c.create(req, call.metadata)),
    DeleteVolumeGroupSnapshot: unary(log, 'DeleteVolumeGroupSnapshot', (req: csi.DeleteVolumeGroupSnapshotRequest, call) => c.delete(req, call.metadata)),
    GetVolumeGroupSnapshot: unary(log, 'GetVolumeGroupSnapshot', (req: csi.GetVolumeGroupSnapshotRequest, call) => c.get(req, call.metadata)),
  };
}
