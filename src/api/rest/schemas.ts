import { Type, type Static } from 'typebox';
import { ERROR_CATALOG, type ErrorCode } from '../../core/errors.js';
import { NAME_PATTERN } from '../../core/names.js';

/** TypeBox schemas of the REST v1 contract: they validate requests and document /openapi.json. */

export const Name = Type.String({ pattern: NAME_PATTERN, description: '1-128 characters [A-Za-z0-9_.-], starting with a letter or digit' });
export const LabelMap = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 1024 }), { maxProperties: 64, description: 'string keys and values, at most 64' });
/** Zones in a placement request. */
const Zones = (description: string) => Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 64, description });
export const Bytes = Type.Integer({ minimum: 1, maximum: 2 ** 53, description: 'bytes' });
const Strict = { additionalProperties: false } as const;

/** A string enum: `{type: string, enum: [...]}` in the document (what client generators turn into a union). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { title?: string; description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export const VOLUME_STATUSES = ['creating', 'importing', 'available', 'attaching', 'attached', 'detaching', 'deleting', 'error'] as const;
export const SNAPSHOT_STATUSES = ['creating', 'ready', 'deleting', 'error'] as const;
export const ACCESS_MODES = ['RWO', 'RWOP', 'ROX', 'RWX'] as const;
export const VolumeStatusSchema = StringEnum(VOLUME_STATUSES, { title: 'VolumeStatus' });
export const AccessModeSchema = StringEnum(ACCESS_MODES, { title: 'AccessMode', description: 'RWO one node, RWOP one writer, ROX many readers, RWX many writers' });
export const ErrorCodeSchema = StringEnum(Object.keys(ERROR_CATALOG) as ErrorCode[], { title: 'ErrorCode', description: 'stable error code from the catalog' });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: ErrorCodeSchema,
      message: Type.String({ description: 'what went wrong, for people' }),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { title: 'Error' },
);

export const ServiceSchema = Type.Object({ name: Type.String(), labels: LabelMap, createdAt: Type.String() }, { title: 'Service' });

export const TopologySchema = Type.Object(
  {
    zone: Type.Optional(Type.String()),
    region: Type.Optional(Type.String()),
    nodes: Type.Optional(Type.Array(Type.String(), { description: 'nodes that reach the pool (node-local drivers: the hosts holding its path)' })),
    shared: Type.Optional(Type.Boolean({ description: 'a node-local pool whose path every node sees (declared by the operator)' })),
  },
  { title: 'Topology' },
);

export const CapabilitiesSchema = Type.Object({
  snapshots: Type.Boolean(),
  clones: Type.Boolean(),
  restore: Type.Boolean(),
  expand: StringEnum(['online', 'offline', 'none'] as const),
  block: Type.Boolean(),
  fsTypes: Type.Array(Type.String()),
  accessModes: Type.Array(AccessModeSchema),
  qos: Type.Boolean(),
  sizeEnforced: Type.Boolean(),
}, { title: 'PoolCapabilities' });

export const PoolSchema = Type.Object(
  {
    name: Type.String(),
    driver: Type.String(),
    parameters: Type.Record(Type.String(), Type.String()),
    labels: LabelMap,
    topology: TopologySchema,
    state: StringEnum(['enabled', 'draining', 'disabled'] as const, { title: 'PoolState' }),
    overSubscriptionRatio: Type.Number(),
    reservedPercent: Type.Number(),
    capacity: Type.Object({
      totalBytes: Type.Number(),
      freeBytes: Type.Number(),
      allocatedBytes: Type.Number(),
      volumeCount: Type.Number(),
      unknown: Type.Optional(Type.Boolean({ description: 'the backend reports no capacity: totalBytes and freeBytes mean nothing' })),
    }),
    capabilities: CapabilitiesSchema,
    createdAt: Type.String(),
  },
  { title: 'Pool' },
);

export const ProfileSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    minBytes: Type.Number(),
    maxBytes: Type.Number(),
    volumeMode: StringEnum(['filesystem', 'block'] as const, { title: 'VolumeMode' }),
    fsType: Type.String(),
    media: Type.Union([Type.String(), Type.Null()]),
    qos: Type.Object({ iops: Type.Optional(Type.Number()), bandwidthBytes: Type.Optional(Type.Number()) }),
    replicas: Type.Number(),
    failover: StringEnum(['safe', 'storage-fence', 'force-after'] as const, { title: 'FailoverPolicy' }),
    forceAfterSeconds: Type.Number(),
    accessModes: Type.Array(AccessModeSchema),
    poolSelector: LabelMap,
    pools: Type.Array(Type.String()),
    parameters: Type.Record(Type.String(), Type.String()),
    services: Type.Array(Type.String()),
    createdAt: Type.String(),
  },
  { title: 'Profile' },
);

export const VolumeSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    service: Type.String(),
    pool: Type.String(),
    profile: Type.String(),
    sizeBytes: Type.Number(),
    status: VolumeStatusSchema,
    statusReason: Type.Union([Type.String(), Type.Null()]),
    labels: LabelMap,
    fields: LabelMap,
    source: Type.Union([Type.Object({ kind: Type.String(), id: Type.String() }), Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { title: 'Volume' },
);

export const SnapshotSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    service: Type.String(),
    volumeId: Type.String(),
    pool: Type.String(),
    sizeBytes: Type.Number(),
    status: StringEnum(SNAPSHOT_STATUSES, { title: 'SnapshotStatus' }),
    statusReason: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    groupId: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'the group snapshot it was taken in (deleted with the group), or null' })),
  },
  { title: 'Snapshot' },
);

export const GroupSnapshotSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    service: Type.String(),
    volumeIds: Type.Array(Type.String(), { description: 'the source volumes, in the order asked for' }),
    status: StringEnum(SNAPSHOT_STATUSES, { title: 'GroupSnapshotStatus' }),
    statusReason: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    snapshots: Type.Array(SnapshotSchema, { description: 'one member snapshot per source volume, in the same order' }),
  },
  { title: 'GroupSnapshot' },
);

export const EventSchema = Type.Object(
  {
    seq: Type.Number(),
    at: Type.String(),
    type: Type.String(),
    service: Type.Union([Type.String(), Type.Null()]),
    objectId: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
    actor: Type.Union(
      [
        Type.Object({ kind: Type.Literal('service'), service: Type.String(), tokenId: Type.String() }, { title: 'ServiceActor' }),
        Type.Object({ kind: Type.Literal('admin'), tokenId: Type.Union([Type.String(), Type.Null()]) }, { title: 'AdminActor' }),
        Type.Object({ kind: Type.Literal('node'), node: Type.String(), tokenId: Type.String() }, { title: 'NodeActor' }),
        Type.Object({ kind: Type.Literal('system'), component: Type.String() }, { title: 'SystemActor' }),
        Type.Null(),
      ],
      { description: 'who did it: a service token, the admin, a node agent, or Polly itself (system/reconciler, …); null on events older than this field' },
    ),
    requestId: Type.Union([Type.String(), Type.Null()], { description: 'the REST request (x-request-id) the change came from; null for background work' }),
  },
  { title: 'Event' },
);

export const CreateVolumeBody = Type.Object(
  {
    name: Name,
    sizeBytes: Bytes,
    service: Type.Optional(Name),
    pool: Type.Optional(Name),
    profile: Type.Optional(Name),
    labels: Type.Optional(LabelMap),
    fields: Type.Optional(LabelMap),
    fromSnapshot: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    fromVolume: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reservation: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'consume a reservation from an accepted offer' })),
    accessMode: Type.Optional(AccessModeSchema),
    topology: Type.Optional(
      Type.Object(
        { requisite: Type.Optional(Zones('zones, any of')), preferred: Type.Optional(Zones('zones, best first')) },
        Strict,
      ),
    ),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the registered node the volume is made for (it mounts it first): only pools that node reaches' })),
    affinity: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 1024 }), { maxProperties: 64, description: 'prefer pools holding this service’s volumes with these labels' })),
    antiAffinity: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 1024 }), { maxProperties: 64, description: 'refuse pools holding this service’s volumes with these labels' })),
  },
  { ...Strict, title: 'CreateVolumeRequest' },
);
export type CreateVolumeBody = Static<typeof CreateVolumeBody>;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
};

export function pageOf<T extends ReturnType<typeof Type.Object>>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
  502: ErrorBody,
  507: ErrorBody,
};
