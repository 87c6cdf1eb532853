import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The database schema, identical on SQLite and PostgreSQL. JSON documents are stored as text so both
 * engines behave the same; timestamps are ISO-8601 strings (UTC), which sort correctly as text.
 */
export interface Database {
  meta: MetaTable;
  services: ServicesTable;
  tokens: TokensTable;
  pools: PoolsTable;
  profiles: ProfilesTable;
  volumes: VolumesTable;
  volume_tags: VolumeTagsTable;
  snapshots: SnapshotsTable;
  group_snapshots: GroupSnapshotsTable;
  events: EventsTable;
  idempotency_keys: IdempotencyKeysTable;
  service_quotas: ServiceQuotasTable;
  service_usage: ServiceUsageTable;
  offers: OffersTable;
  reservations: ReservationsTable;
  volume_shares: VolumeSharesTable;
  nodes: NodesTable;
  attachments: AttachmentsTable;
  volume_fencing: VolumeFencingTable;
  osb_instances: OsbInstancesTable;
  osb_bindings: OsbBindingsTable;
  replicas: ReplicasTable;
}

/** Server replicas alive now (0005): one row per replica name, replaced when it restarts. */
export interface ReplicasTable {
  name: string;
  /** Random per process start: intents and idempotency records name the incarnation that owns them. */
  incarnation: string;
  started_at: string;
  heartbeat_at: string;
}

/**
 * Who owns an intent and how a failed operation is being recovered (0005), on volumes and snapshots.
 * `failed_op` is the operation that left the row in `error`; `retries` counts the retries made so far.
 */
export interface RecoveryColumns {
  intent_owner: string | null;
  failed_op: 'create' | 'delete' | null;
  failure_code: string | null;
  failure_message: string | null;
  retries: Generated<number>;
  retry_at: string | null;
}

/** Hosts running an agent (0003-attachments). */
export interface NodesTable {
  id: string;
  hostname: string;
  /** JSON labels, e.g. {"zone": "z1"}. */
  topology: string;
  /** Who registered the node first: a service name, or `*admin` (0004-node-owner); null for older rows. */
  registered_by: string | null;
  last_heartbeat_at: string | null;
  created_at: string;
  /** When an operator confirmed the node down (`polly node fence`, 0007-node-fence); null when not fenced. */
  fenced_at: string | null;
  fenced_by: string | null;
  fence_reason: string | null;
  /** The last self-fence the node's agent reported (0007-node-fence). */
  self_fenced_at: string | null;
  /** JSON list of the other services whose agents registered this node too (0007-node-fence). */
  co_registrants: string | null;
  /** JSON connector {addresses, clientId} the node's agent registered (0010); null for older rows. */
  connector: string | null;
}

/** Volume × node leases. `exclusive_key` (volume id while a RWO/RWOP attachment is live) and `live_key` are unique. */
export interface AttachmentsTable {
  id: string;
  volume_id: string;
  service: string;
  node: string;
  access_mode: string;
  read_only: number;
  fencing_token: number;
  status: 'live' | 'ended' | 'fenced';
  exclusive_key: string | null;
  live_key: string | null;
  lease_expires_at: string;
  created_at: string;
  ended_at: string | null;
  /** JSON publish context of the pool's controller half for this node (0010); null when it has none. */
  publish_context: string | null;
}

/** The last fencing token handed out per volume; only ever grows. */
export interface VolumeFencingTable {
  volume_id: string;
  token: number;
}

export interface ServiceQuotasTable {
  service: string;
  max_volumes: number | null;
  max_bytes: number | null;
  max_snapshots: number | null;
  /** JSON map profile → max bytes. */
  profile_bytes: string;
}

export interface ServiceUsageTable {
  service: string;
  profile: string;
  volumes: number;
  bytes: number;
  snapshots: number;
  /** Bytes held by active reservations (accepted offers not yet consumed). */
  reserved_bytes: number;
}

export interface OffersTable {
  id: string;
  service: string;
  pool: string;
  profile: string;
  zone: string | null;
  max_bytes: number;
  status: 'open' | 'accepted' | 'declined' | 'revoked' | 'expired';
  created_at: string;
  expires_at: string;
}

export interface ReservationsTable {
  id: string;
  offer_id: string;
  service: string;
  pool: string;
  profile: string;
  size_bytes: number;
  status: 'active' | 'consumed' | 'released' | 'expired';
  volume_id: string | null;
  created_at: string;
  expires_at: string;
}

export interface VolumeSharesTable {
  volume_id: string;
  service: string;
  access: 'ro' | 'rw';
  created_at: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface ServicesTable {
  name: string;
  labels: string;
  created_at: string;
}

export interface TokensTable {
  id: string;
  /** SHA-256 of the token, hex. The token itself is shown once and never stored. */
  hash: string;
  kind: 'admin' | 'service' | 'node';
  service: string | null;
  /** For `node` tokens: the node the token speaks for. */
  node: string | null;
  description: string;
  created_at: string;
}

export interface OsbInstancesTable {
  id: string;
  service: string;
  service_id: string;
  plan_id: string;
  profile: string;
  size_bytes: number;
  volume_name: string;
  volume_id: string | null;
  /** provisioning · ready · updating · deprovisioning · deleted · failed */
  state: string;
  operation: string | null;
  operation_kind: string | null;
  /** in progress · succeeded · failed (the OSB last_operation states) */
  operation_state: string | null;
  operation_description: string | null;
  parameters: string;
  context: string;
  created_at: string;
  updated_at: string;
}

export interface OsbBindingsTable {
  id: string;
  instance_id: string;
  service: string;
  volume_id: string;
  app_guid: string;
  parameters: string;
  volume_mounts: string;
  created_at: string;
}

export interface PoolsTable {
  name: string;
  driver: string;
  parameters: string;
  labels: string;
  topology: string;
  state: 'enabled' | 'draining' | 'disabled';
  over_subscription_ratio: number;
  reserved_percent: number;
  /** Sum of provisioned sizes of volumes in the pool, kept in the same transaction as each volume change. */
  allocated_bytes: number;
  volume_count: number;
  created_at: string;
}

export interface ProfilesTable {
  name: string;
  /** The whole profile as JSON (src/core/types.ts Profile without name and createdAt). */
  spec: string;
  created_at: string;
}

export interface VolumesTable extends RecoveryColumns {
  id: string;
  name: string;
  service: string;
  pool: string;
  profile: string;
  size_bytes: number;
  status: string;
  status_reason: string | null;
  labels: string;
  fields: string;
  backend_id: string;
  source_kind: string | null;
  source_id: string | null;
  created_at: string;
  updated_at: string;
}

/** One row per label or field, so `?label=k=v` filters use an index on both engines. */
export interface VolumeTagsTable {
  volume_id: string;
  kind: 'label' | 'field';
  key: string;
  value: string;
}

export interface SnapshotsTable extends RecoveryColumns {
  id: string;
  name: string;
  service: string;
  volume_id: string;
  pool: string;
  size_bytes: number;
  status: string;
  status_reason: string | null;
  backend_id: string;
  created_at: string;
  /** The group snapshot this one belongs to (0011), null for a snapshot of its own. */
  group_id: string | null;
}

/** Group snapshots (0011); their member snapshots are rows of `snapshots` with `group_id` set. */
export interface GroupSnapshotsTable {
  id: string;
  name: string;
  service: string;
  /** JSON array of the source volume ids, in the order asked for. */
  volume_ids: string;
  status: string;
  status_reason: string | null;
  /** The replica incarnation that owns a `creating`/`deleting` intent; null once settled. */
  intent_owner: string | null;
  created_at: string;
}

export interface EventsTable {
  seq: Generated<number>;
  at: string;
  type: string;
  service: string | null;
  object_id: string;
  data: string;
  /** JSON of the acting identity (`Actor`), null on rows older than 0008. */
  actor: string | null;
  request_id: string | null;
}

export interface IdempotencyKeysTable {
  /** The caller: a service name, or `*admin`. */
  owner: string;
  key: string;
  /** Hash of method, route and body: a repeat with another request under the same key is refused. */
  fingerprint: string;
  state: 'pending' | 'done';
  response_status: number | null;
  response_body: string | null;
  created_at: string;
  /** The replica incarnation running the request while it is pending (0005). */
  replica: string | null;
  /** The intent the request committed (0005): a crash or failure after it is resolved from its state. */
  resource_kind: 'volume' | null;
  resource_op: 'create' | 'delete' | null;
  resource_id: string | null;
}

export type VolumeRow = Selectable<VolumesTable>;
export type NewVolumeRow = Insertable<VolumesTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;
export type PoolRow = Selectable<PoolsTable>;
export type EventRow = Selectable<EventsTable>;
