/**
 * The storage driver port. One implementation per folder under src/drivers/<name>, registered in
 * src/drivers/registry.ts. A driver instance serves exactly one pool.
 *
 * Contract for every method: idempotent by the ids it is given (a repeat of a call that already succeeded
 * succeeds again and changes nothing), safe to call again after a crash at any point, and it throws a
 * PollyError (`UNSUPPORTED`, `NO_CAPACITY`, `BACKEND_FAILED`, `VALIDATION_FAILED`) rather than a raw
 * error when the caller can act on the reason.
 */

export type AccessMode = 'RWO' | 'RWOP' | 'ROX' | 'RWX';
export type VolumeMode = 'filesystem' | 'block';
export type ExpandMode = 'online' | 'offline' | 'none';

/** What a driver can do, declared as data so the scheduler and the API can refuse early. */
export interface DriverCapabilities {
  snapshots: boolean;
  clones: boolean;
  /** Restore a new volume from a snapshot. */
  restore: boolean;
  expand: ExpandMode;
  /** Raw block volumes. */
  block: boolean;
  /** Filesystem types the driver can put on a volume; empty when the volume is a directory. */
  fsTypes: string[];
  accessModes: AccessMode[];
  qos: boolean;
  /** Whether the size of a volume is enforced by the backend (writes beyond it fail). */
  sizeEnforced: boolean;
}

export interface BackendCapacity {
  totalBytes: number;
  freeBytes: number;
  /**
   * The backend cannot tell (a platform API without a capacity call): totalBytes and freeBytes are 0 and
   * mean nothing; the scheduler admits by the pool's declared limits only and says so in `explain`.
   */
  unknown?: boolean | undefined;
}

/**
 * What a node tells the server about itself when it registers (Cinder's connector, CSI's node info): the
 * controller half of a networked driver receives it in `attach` and may fence by it.
 */
export interface NodeConnector {
  node: string;
  hostname: string;
  /** The node's IP addresses (storage networks included). */
  addresses: string[];
  /** The storage client identity the node uses where it has its own (e.g. a Ceph user); else undefined. */
  clientId?: string | undefined;
}

/**
 * What the controller half answers for one attachment and the node half stages from (CSI's
 * publish_context, Cinder's connection_info): strings only, never a secret (it is stored with the
 * attachment and shown to the attachment's owner).
 */
export type PublishContext = Record<string, string>;

export interface ControllerAttachRequest {
  backendId: string;
  volumeId: string;
  node: NodeConnector;
  accessMode: AccessMode;
  readOnly: boolean;
}

export type CreateSource = { kind: 'snapshot'; backendId: string } | { kind: 'volume'; backendId: string };

export interface CreateVolumeRequest {
  /** Polly's volume id; drivers derive the backend object's name from it, which makes create idempotent. */
  volumeId: string;
  sizeBytes: number;
  volumeMode: VolumeMode;
  /** For filesystem volumes on block-backed drivers (`ext4`, `xfs`); ignored by directory drivers. */
  fsType?: string | undefined;
  /** Profile parameters passed through to the driver. */
  parameters?: Record<string, string> | undefined;
  source?: CreateSource | undefined;
  /** The profile's QoS limits, for drivers that declare `qos` (e.g. librbd image QoS). */
  qos?: QosLimits | undefined;
}

export interface QosLimits {
  iops?: number | undefined;
  bandwidthBytes?: number | undefined;
}

export interface CreatedVolume {
  backendId: string;
  /** The size actually provisioned (may be rounded up). */
  sizeBytes: number;
}

export interface CreatedSnapshot {
  backendId: string;
  sizeBytes: number;
}

/** An object the backend holds, as seen by `list()`: used for import and orphan detection. */
export interface BackendObject {
  backendId: string;
  kind: 'volume' | 'snapshot';
  sizeBytes: number;
  /** Bytes really used, where the backend can tell. */
  usedBytes?: number | undefined;
}

export interface StageRequest {
  backendId: string;
  volumeId: string;
  /** A per-volume, per-node directory the driver may use (CSI's staging_target_path). */
  stagingPath: string;
  volumeMode: VolumeMode;
  fsType?: string | undefined;
  readOnly?: boolean | undefined;
  /** What the controller half's `attach` answered for this node (networked drivers); absent for node-local ones. */
  publishContext?: PublishContext | undefined;
  /**
   * The pool's node-scoped secret parameters (declared `secret: 'node'` in the driver's schema), handed to
   * the node half for this call only: never stored on the node, never logged.
   */
  secrets?: Record<string, string> | undefined;
}

export interface PublishRequest {
  backendId: string;
  volumeId: string;
  stagingPath: string;
  /** Where the container expects the volume: a directory (filesystem) or a file (block). */
  targetPath: string;
  volumeMode: VolumeMode;
  readOnly: boolean;
}

export interface VolumeStats {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  totalInodes?: number | undefined;
  usedInodes?: number | undefined;
}

/**
 * The node half of a driver: what must run on the host where the container runs. All calls are
 * idempotent: staging an already staged volume, publishing an already published target, or
 * unpublishing/unstaging what is not there succeed. A conflicting repeat (the same target published
 * read-only then read-write) is `VALIDATION_FAILED`/`INVALID_STATE` with a clear message.
 */
export interface NodeDriver {
  stage(req: StageRequest): Promise<void>;
  unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void>;
  publish(req: PublishRequest): Promise<void>;
  unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void>;
  stats(req: { backendId: string; path: string }): Promise<VolumeStats>;
  /** Grow the filesystem on this node after the controller grew the backend object. */
  expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void>;
  /**
   * Node-local resources this driver holds (loop devices, mounts) keyed by backend id, so that an agent
   * restarting after a crash can release what no attachment justifies.
   */
  listNodeResources(): Promise<Array<{ backendId: string; description: string }>>;
  /** Releases node-local resources of a backend object that is no longer staged here (not an error when none). */
  releaseNodeResources(backendId: string): Promise<void>;
  /**
   * Self-fence: makes the volume unwritable for every mount of it on this node, the mounts in containers'
   * mount namespaces included (read-only at the storage object where the driver can, else forced
   * unmounts in every namespace that holds it). Called when the agent's lease deadline passes without a
   * renewal, or for a volume the node no longer holds. Idempotent; not an error when nothing is mounted.
   * After it returns no process on this node can write to the volume; `unfence` undoes what it set on
   * the storage object (before the volume is staged again anywhere).
   */
  selfFence(req: SelfFenceRequest): Promise<void>;
}

export interface SelfFenceRequest {
  backendId: string;
  volumeId: string;
  stagingPath: string;
  /** The targets the agent published (other mounts are found from every process's mountinfo). */
  targetPaths: string[];
  /**
   * Also make the storage object itself read-only where the driver can (btrfs: the subvolume), for every
   * mount at once. Only safe while no other node can have been granted the volume: at the agent's own
   * deadline, which is before the server's re-grant time. The next stage (on any node) undoes it.
   */
  storageReadOnly: boolean;
}

/**
 * Storage-side fencing (an optional capability): cuts one node off from a volume at the storage, so that
 * even a node whose agent is dead cannot write (e.g. a Ceph client blocklist). Node-local drivers cannot.
 */
export interface StorageFence {
  /**
   * Fences `node` off the volume. Idempotent; after it returns, writes from that node fail. `connector`
   * is what the node registered (undefined for a node registered before connectors existed).
   */
  fenceNode(req: { backendId: string; node: string; connector?: NodeConnector | undefined }): Promise<void>;
}

/**
 * The controller half of a driver: everything the server does with the backend. A networked driver
 * answers `attach` with the publish context its node half stages from; node-local drivers leave it out.
 */
export interface ControllerDriver {
  /** The driver name used in configuration (`local`, `btrfs`, `loopblock`, `fake`). */
  readonly driverName: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Checks that the backend is usable (path exists, right filesystem, quotas enabled) and prepares it.
   * Throws `VALIDATION_FAILED` naming the problem when it is not. Idempotent.
   */
  init(): Promise<void>;
  /** Real capacity of the backend (statfs or the platform's answer). */
  capacity(): Promise<BackendCapacity>;
  /** Creates (or restores/clones, per `source`) a volume. A repeat with the same volumeId returns the same object. */
  create(req: CreateVolumeRequest): Promise<CreatedVolume>;
  /** Deletes a volume's backend object. Not an error when it does not exist. */
  delete(backendId: string): Promise<void>;
  /** Grows a volume to `sizeBytes` (never shrinks). Idempotent when already that large. */
  expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }>;
  /** Takes a snapshot; `snapshotId` names it so a repeat returns the same snapshot. */
  snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot>;
  /** Deletes a snapshot. Not an error when it does not exist. */
  deleteSnapshot(backendId: string): Promise<void>;
  /** Bytes a volume really uses on the backend, where the backend can tell (else undefined). */
  usage(backendId: string): Promise<number | undefined>;
  /** Everything this pool's backend holds that looks like a Polly volume or snapshot. */
  list(): Promise<BackendObject[]>;
  /**
   * Makes the volume reachable from `node` (Cinder's initialize_connection, CSI's ControllerPublish) and
   * answers what the node half needs to stage it. Idempotent per volume and node.
   */
  attach?(req: ControllerAttachRequest): Promise<PublishContext>;
  /** Changes a volume's QoS limits in place (drivers that declare `qos`); an empty object lifts them. */
  setQos?(backendId: string, qos: QosLimits): Promise<void>;
  /** Undoes `attach` for one node (not an error when nothing is attached there). */
  detach?(req: { backendId: string; volumeId: string; node: NodeConnector }): Promise<void>;
  /** Storage-side fencing of a node, where the backend can (undefined: it cannot; see `failover`). */
  readonly storageFence?: StorageFence | undefined;
  /**
   * The pool parameters this driver declares secret, with their scope (`server`: never leaves the server;
   * `node`: handed to the node half in stage calls). APIs show them as `(secret)`.
   */
  readonly secretParameters?: Readonly<Record<string, 'server' | 'node'>> | undefined;
  /** The node-scoped secrets a node needs to stage this pool's volumes (only for nodes holding one). */
  nodeSecrets?(): Record<string, string>;
  /** Releases in-process resources (timers, sockets). Never touches data. */
  close(): Promise<void>;
}

/**
 * What the agent builds for a pool: the node half with its lifecycle. `init` checks what the node needs
 * (tools installed, the kernel's devices); it never needs the pool's secrets.
 */
export interface NodeHalf {
  /** The node half; the agent calls it on the host where the volume is used. */
  readonly node: NodeDriver;
  init(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A driver whose two halves live in one object (every node-local driver, and networked ones used in
 * one process): the server uses it as the controller half, the agent as the node half.
 */
export interface StorageDriver extends ControllerDriver, NodeHalf {
  readonly node: NodeDriver;
}

export interface DriverContext {
  poolName: string;
  parameters: Record<string, string>;
  /** Polly's data directory, for drivers that keep private state (e.g. a default pool root). */
  dataDir: string;
}

export type DriverFactory = (ctx: DriverContext) => StorageDriver;
/** Builds the node half alone (on an agent: the context's secret parameters are redacted there). */
export type NodeHalfFactory = (ctx: DriverContext) => NodeHalf;
