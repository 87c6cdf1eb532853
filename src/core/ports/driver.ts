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
  /** Fences `node` off the volume. Idempotent; after it returns, writes from that node fail. */
  fenceNode(req: { backendId: string; node: string }): Promise<void>;
}

export interface StorageDriver {
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
  /** The node half; the agent calls it on the host where the volume is used. */
  readonly node: NodeDriver;
  /** Storage-side fencing of a node, where the backend can (undefined: it cannot; see `failover`). */
  readonly storageFence?: StorageFence | undefined;
  /** Releases in-process resources (timers, sockets). Never touches data. */
  close(): Promise<void>;
}

export interface DriverContext {
  poolName: string;
  parameters: Record<string, string>;
  /** Polly's data directory, for drivers that keep private state (e.g. a default pool root). */
  dataDir: string;
}

export type DriverFactory = (ctx: DriverContext) => StorageDriver;
