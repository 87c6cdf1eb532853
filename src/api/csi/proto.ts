import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/**
 * The CSI v1.12 protocol, loaded once from `csi.proto` next to this file, and the TypeScript shapes of the
 * messages as proto-loader decodes them with {@link CSI_LOADER_OPTIONS}: field names as in the proto,
 * int64 as numbers (Polly sizes stop at 2^53), enums as their names, scalars/maps/lists always present,
 * unset message fields `null`, and the name of the set member of a oneof in a virtual field.
 *
 * Shapes are written by hand for the messages Polly serves; every incoming message field is nullable
 * because a client may leave any of them out.
 */
export const CSI_LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export const CSI_PROTO_PATH = fileURLToPath(new URL('./csi.proto', import.meta.url));

let loaded: PackageDefinition | undefined;

/** The package definition (loaded on first use, then shared). */
export function csiPackage(): PackageDefinition {
  loaded ??= loadSync(CSI_PROTO_PATH, CSI_LOADER_OPTIONS);
  return loaded;
}

export type CsiServiceName = 'Identity' | 'Controller' | 'GroupController' | 'Node';

/** A service definition for `Server.addService` or `makeGenericClientConstructor`. */
export function csiService(name: CsiServiceName): ServiceDefinition {
  const def = csiPackage()[`csi.v1.${name}`];
  // Message and enum definitions carry `format`; services are plain maps of method definitions.
  if (def === undefined || 'format' in def) throw new Error(`csi.proto defines no service csi.v1.${name}`);
  return def as ServiceDefinition;
}

// ------------------------------------------------------------------ shared messages

export type StringMap = Record<string, string>;

export interface CapacityRange {
  required_bytes: number;
  limit_bytes: number;
}

export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

export interface MountVolume {
  fs_type: string;
  mount_flags: string[];
  volume_mount_group: string;
}

export type BlockVolume = Record<string, never>;

export interface VolumeCapability {
  block?: BlockVolume | null;
  mount?: MountVolume | null;
  /** Which member of the `access_type` oneof is set. */
  access_type?: 'block' | 'mount';
  access_mode: { mode: AccessModeName } | null;
}

export interface VolumeContentSource {
  snapshot?: { snapshot_id: string } | null;
  volume?: { volume_id: string } | null;
  type?: 'snapshot' | 'volume';
}

export interface Topology {
  segments: StringMap;
}

export interface TopologyRequirement {
  requisite: Topology[];
  preferred: Topology[];
}

export interface Volume {
  capacity_bytes: number;
  volume_id: string;
  volume_context: StringMap;
  content_source: VolumeContentSource | null;
  accessible_topology: Topology[];
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface Snapshot {
  size_bytes: number;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: Timestamp | null;
  ready_to_use: boolean;
  group_snapshot_id: string;
}

export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}

// ------------------------------------------------------------------ Identity

export type GetPluginInfoRequest = Record<string, never>;

export interface GetPluginInfoResponse {
  name: string;
  vendor_version: string;
  manifest: StringMap;
}

export type GetPluginCapabilitiesRequest = Record<string, never>;

export type PluginServiceType = 'UNKNOWN' | 'CONTROLLER_SERVICE' | 'VOLUME_ACCESSIBILITY_CONSTRAINTS' | 'GROUP_CONTROLLER_SERVICE' | 'SNAPSHOT_METADATA_SERVICE';

export interface PluginCapability {
  service?: { type: PluginServiceType } | null;
  volume_expansion?: { type: 'UNKNOWN' | 'ONLINE' | 'OFFLINE' } | null;
  type?: 'service' | 'volume_expansion';
}

export interface GetPluginCapabilitiesResponse {
  capabilities: PluginCapability[];
}

export type ProbeRequest = Record<string, never>;

export interface ProbeResponse {
  ready: { value: boolean } | null;
}

// ------------------------------------------------------------------ Controller

export interface CreateVolumeRequest {
  name: string;
  capacity_range: CapacityRange | null;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  secrets: StringMap;
  volume_content_source: VolumeContentSource | null;
  accessibility_requirements: TopologyRequirement | null;
  mutable_parameters: StringMap;
}

export interface CreateVolumeResponse {
  volume: Volume | null;
}

export interface DeleteVolumeRequest {
  volume_id: string;
  secrets: StringMap;
}

export type EmptyResponse = Record<string, never>;

export interface ControllerPublishVolumeRequest {
  volume_id: string;
  node_id: string;
  volume_capability: VolumeCapability | null;
  readonly: boolean;
  secrets: StringMap;
  volume_context: StringMap;
}

export interface ControllerPublishVolumeResponse {
  publish_context: StringMap;
}

export interface ControllerUnpublishVolumeRequest {
  volume_id: string;
  node_id: string;
  secrets: StringMap;
}

export interface ValidateVolumeCapabilitiesRequest {
  volume_id: string;
  volume_context: StringMap;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  secrets: StringMap;
  mutable_parameters: StringMap;
}

export interface ValidateVolumeCapabilitiesResponse {
  confirmed: {
    volume_context: StringMap;
    volume_capabilities: VolumeCapability[];
    parameters: StringMap;
    mutable_parameters: StringMap;
  } | null;
  message: string;
}

export interface ListVolumesRequest {
  max_entries: number;
  starting_token: string;
}

export interface ListVolumesResponse {
  entries: Array<{ volume: Volume | null; status: { published_node_ids: string[]; volume_condition: VolumeCondition | null } | null }>;
  next_token: string;
}

export interface ControllerGetVolumeRequest {
  volume_id: string;
}

export interface ControllerGetVolumeResponse {
  volume: Volume | null;
  status: { published_node_ids: string[]; volume_condition: VolumeCondition | null } | null;
}

export interface ControllerModifyVolumeRequest {
  volume_id: string;
  secrets: StringMap;
  mutable_parameters: StringMap;
}

export interface GetCapacityRequest {
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  accessible_topology: Topology | null;
}

export interface GetCapacityResponse {
  available_capacity: number;
  maximum_volume_size: { value: number } | null;
  minimum_volume_size: { value: number } | null;
}

export type ControllerGetCapabilitiesRequest = Record<string, never>;

export type ControllerRpcType =
  | 'UNKNOWN'
  | 'CREATE_DELETE_VOLUME'
  | 'PUBLISH_UNPUBLISH_VOLUME'
  | 'LIST_VOLUMES'
  | 'GET_CAPACITY'
  | 'CREATE_DELETE_SNAPSHOT'
  | 'LIST_SNAPSHOTS'
  | 'CLONE_VOLUME'
  | 'PUBLISH_READONLY'
  | 'EXPAND_VOLUME'
  | 'LIST_VOLUMES_PUBLISHED_NODES'
  | 'VOLUME_CONDITION'
  | 'GET_VOLUME'
  | 'SINGLE_NODE_MULTI_WRITER'
  | 'MODIFY_VOLUME'
  | 'GET_SNAPSHOT';

export interface ControllerGetCapabilitiesResponse {
  capabilities: Array<{ rpc?: { type: ControllerRpcType } | null; type?: 'rpc' }>;
}

export interface CreateSnapshotRequest {
  source_volume_id: string;
  name: string;
  secrets: StringMap;
  parameters: StringMap;
}

export interface CreateSnapshotResponse {
  snapshot: Snapshot | null;
}

export interface DeleteSnapshotRequest {
  snapshot_id: string;
  secrets: StringMap;
}

export interface ListSnapshotsRequest {
  max_entries: number;
  starting_token: string;
  source_volume_id: string;
  snapshot_id: string;
  secrets: StringMap;
}

export interface ListSnapshotsResponse {
  entries: Array<{ snapshot: Snapshot | null }>;
  next_token: string;
}

export interface GetSnapshotRequest {
  snapshot_id: string;
  secrets: StringMap;
}

export interface GetSnapshotResponse {
  snapshot: Snapshot | null;
}

// ------------------------------------------------------------------ GroupController

export type GroupControllerRpcType = 'UNKNOWN' | 'CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT';

export interface GroupControllerGetCapabilitiesResponse {
  capabilities: Array<{ rpc: { type: GroupControllerRpcType } }>;
}

export interface VolumeGroupSnapshot {
  group_snapshot_id: string;
  snapshots: Snapshot[];
  creation_time: Timestamp | null;
  ready_to_use: boolean;
}

export interface CreateVolumeGroupSnapshotRequest {
  name: string;
  source_volume_ids: string[];
  secrets: StringMap;
  parameters: StringMap;
}

export interface CreateVolumeGroupSnapshotResponse {
  group_snapshot: VolumeGroupSnapshot | null;
}

export interface DeleteVolumeGroupSnapshotRequest {
  group_snapshot_id: string;
  snapshot_ids: string[];
  secrets: StringMap;
}

export interface GetVolumeGroupSnapshotRequest {
  group_snapshot_id: string;
  snapshot_ids: string[];
  secrets: StringMap;
}

export interface GetVolumeGroupSnapshotResponse {
  group_snapshot: VolumeGroupSnapshot | null;
}

export interface ControllerExpandVolumeRequest {
  volume_id: string;
  capacity_range: CapacityRange | null;
  secrets: StringMap;
  volume_capability: VolumeCapability | null;
}

export interface ControllerExpandVolumeResponse {
  capacity_bytes: number;
  node_expansion_required: boolean;
}
