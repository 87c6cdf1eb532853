/** Domain types shared by every layer. Sizes are bytes as plain numbers (exact up to 8 PiB). */

export type Labels = Record<string, string>;

/** Who is calling: the admin, or one service (tenant). */
export type Identity = { readonly kind: 'admin' } | { readonly kind: 'service'; readonly service: string };

export const ADMIN: Identity = { kind: 'admin' };

/**
 * A node credential: the agent of one host, serving volumes of several services. It is not an `Identity`
 * on purpose: use cases that take an `Identity` never see it, and only the node-access use cases accept it.
 */
export interface NodeIdentity {
  readonly kind: 'node';
  readonly node: string;
}

export interface Service {
  name: string;
  labels: Labels;
  createdAt: string;
}

export interface Topology {
  zone?: string | undefined;
  region?: string | undefined;
  /** The nodes that reach the pool's storage (node-local drivers: the machine(s) holding its path). */
  nodes?: string[] | undefined;
  /**
   * A node-local pool (`local`, `btrfs`, `loopblock`) whose path every node sees (one filesystem shared
   * between hosts): the operator's explicit statement, without which such a pool belongs to its nodes.
   */
  shared?: boolean | undefined;
}

export type PoolState = 'enabled' | 'draining' | 'disabled';

export interface Pool {
  name: string;
  driver: string;
  /** Driver-specific settings, such as `path` for path-based drivers. */
  parameters: Record<string, string>;
  labels: Labels;
  topology: Topology;
  state: PoolState;
  overSubscriptionRatio: number;
  reservedPercent: number;
  createdAt: string;
}

export interface PoolCapacity {
  totalBytes: number;
  freeBytes: number;
  /** Sum of the provisioned sizes of the pool's volumes, from the store. */
  allocatedBytes: number;
  volumeCount: number;
  /** The backend cannot tell its capacity: total/free are 0 and mean nothing; admission checks only quotas. */
  unknown?: boolean | undefined;
}

export type VolumeStatus =
  | 'creating'
  | 'importing'
  | 'available'
  | 'attaching'
  | 'attached'
  | 'detaching'
  | 'deleting'
  | 'error';

export interface Volume {
  id: string;
  name: string;
  service: string;
  pool: string;
  profile: string;
  sizeBytes: number;
  status: VolumeStatus;
  /** Why the volume is in `error`, or what the pending intent is waiting for. */
  statusReason: string | null;
  labels: Labels;
  fields: Labels;
  backendId: string;
  /** Where the volume came from, when it was restored or cloned. */
  source: VolumeSource | null;
  createdAt: string;
  updatedAt: string;
}

export type VolumeSource = { kind: 'snapshot'; id: string } | { kind: 'volume'; id: string };

export type SnapshotStatus = 'creating' | 'ready' | 'deleting' | 'error';

export interface Snapshot {
  id: string;
  name: string;
  service: string;
  volumeId: string;
  pool: string;
  sizeBytes: number;
  status: SnapshotStatus;
  statusReason: string | null;
  backendId: string;
  createdAt: string;
  /** The group snapshot this one was taken in (deleted with the group, not on its own), or null. */
  groupId: string | null;
}

export type GroupSnapshotStatus = 'creating' | 'ready' | 'deleting' | 'error';

/**
 * Snapshots of several volumes of one service taken together (CSI's VolumeGroupSnapshot): one member
 * snapshot per volume, created and deleted as a unit.
 */
export interface GroupSnapshot {
  id: string;
  name: string;
  service: string;
  /** The source volumes, in the order asked for. */
  volumeIds: string[];
  status: GroupSnapshotStatus;
  statusReason: string | null;
  createdAt: string;
  /** One per source volume, in the order of volumeIds (empty while the group's rows are being written). */
  snapshots: Snapshot[];
}

export interface PollyEvent {
  /** Monotonic sequence number, usable as an SSE `Last-Event-ID`. */
  seq: number;
  at: string;
  type: string;
  /** The service the event concerns, or null for cluster-wide events (pools, services). */
  service: string | null;
  objectId: string;
  data: Record<string, unknown>;
  /** Who did it: `{kind: 'service', service, tokenId}`, `{kind: 'admin', tokenId}`, `{kind: 'node', …}` or `{kind: 'system', component}`; null when unknown (older events). */
  actor: EventActor | null;
  /** The REST request id (`x-request-id`) the change came from, null for background work. */
  requestId: string | null;
}

export type EventActor =
  | { readonly kind: 'service'; readonly service: string; readonly tokenId: string }
  | { readonly kind: 'admin'; readonly tokenId: string | null }
  | { readonly kind: 'node'; readonly node: string; readonly tokenId: string }
  | { readonly kind: 'system'; readonly component: string };

/** A page of results with an opaque cursor for the next page, null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A storage class: what a volume needs, and which pools may hold it. */
export type FailoverPolicy = 'safe' | 'storage-fence' | 'force-after';

export interface Profile {
  name: string;
  description: string;
  minBytes: number;
  maxBytes: number;
  volumeMode: 'filesystem' | 'block';
  /** Filesystem put on block-backed volumes (`ext4`, `xfs`); ignored by directory drivers. */
  fsType: string;
  /** Media the pool must offer (matched against the pool label `media`), or null for any. */
  media: string | null;
  qos: { iops?: number | undefined; bandwidthBytes?: number | undefined };
  replicas: number;
  /**
   * When a RWO/RWOP volume may be granted to another node while its holder went silent (see
   * src/core/failover.ts): `safe` waits for a release, a self-fence report or an operator's node fence;
   * `storage-fence` also lets the pool's driver fence the holder at the storage; `force-after` also grants
   * `forceAfterSeconds` after the holder's re-grant time, trusting its agent's self-fence timer.
   */
  failover: FailoverPolicy;
  forceAfterSeconds: number;
  accessModes: Array<'RWO' | 'RWOP' | 'ROX' | 'RWX'>;
  /** Pools must carry all these labels. */
  poolSelector: Labels;
  /** Explicit allow-list of pools; empty means any pool matching the selector. */
  pools: string[];
  parameters: Record<string, string>;
  /** Services allowed to use the profile; empty means all. */
  services: string[];
  createdAt: string;
}
