import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import type {
  BackendCapacity,
  BackendObject,
  CreatedSnapshot,
  CreatedVolume,
  CreateVolumeRequest,
  DriverCapabilities,
  DriverContext,
  StorageDriver,
  VolumeStats,
} from '../../core/ports/driver.js';
import { DirectoryNodeDriver } from '../local/directory-node.js';
import { isErrno } from '../system/errno.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes, isObjectId } from '../system/object-ids.js';
import { makePoolDirs, pathExists, poolPathParameter } from '../system/pool-path.js';
import { PathParameter, poolParameterSchema } from '../system/pool-parameters.js';
import { BTRFS_MAGIC, fsUsage } from '../system/statfs.js';
import {
  clearStaleQgroups,
  createSubvolume,
  deleteSubvolume,
  destroyQgroup,
  enableQuotas,
  isSubvolume,
  quotasEnabled,
  type Qgroup,
  readQgroups,
  setReferencedLimit,
  snapshotSubvolume,
  subvolumeId,
  syncFilesystem,
  setSubvolumeReadOnly,
} from './btrfs-cli.js';

/** Pool parameters of `btrfs`: `path`, a directory on a mounted btrfs filesystem (required). */
export const BTRFS_PARAMETERS = poolParameterSchema({ path: PathParameter }, ['path']);

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  expand: 'online',
  block: false,
  fsTypes: [],
  accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
  qos: false,
  sizeEnforced: true,
};

type Kind = 'volume' | 'snapshot';

/**
 * `btrfs`: a subvolume per volume (`<path>/volumes/<id>`) whose qgroup's referenced-bytes limit is the
 * volume's size (writes beyond it fail with EDQUOT); read-only snapshots (`<path>/snapshots/<id>`),
 * restores and clones are O(1) subvolume snapshots. Capacity is statfs of the pool path; usage is the
 * qgroup's referenced bytes, read after a transaction commit so that it includes every finished write.
 */
export class BtrfsDriver implements StorageDriver {
  readonly driverName = 'btrfs';
  readonly capabilities = CAPABILITIES;
  readonly node: DirectoryNodeDriver;
  readonly #poolName: string;
  #root: string;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#root = poolPathParameter(ctx.poolName, ctx.parameters);
    this.node = new DirectoryNodeDriver({
      poolName: ctx.poolName,
      driverName: this.driverName,
      volumesDir: () => join(this.#root, 'volumes'),
      stats: (backendId, path) => this.#stats(backendId, path),
      storageReadOnly: { set: (dir, readOnly) => setSubvolumeReadOnly(dir, readOnly), ownDevice: true },
    });
  }

  async init(): Promise<void> {
    const given = this.#root;
    try {
      if (!(await stat(given)).isDirectory()) throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: path ${given} is not a directory`);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: path ${given} does not exist`);
      throw err;
    }
    if ((await fsUsage(given)).type !== BTRFS_MAGIC) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: path ${given} is not on a btrfs filesystem`);
    }
    this.#root = await realpath(given);
    await makePoolDirs(this.#poolName, [join(this.#root, 'volumes'), join(this.#root, 'snapshots')]);
    if (!(await quotasEnabled(this.#root))) {
      try {
        await enableQuotas(this.#root);
      } catch (err) {
        throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: cannot enable btrfs quotas on ${this.#root}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * statfs of the pool path: cheap enough to call every second. btrfs counts newly written extents as used
   * when its transaction commits (every 30 s by default), so free space trails writes by up to that long.
   */
  async capacity(): Promise<BackendCapacity> {
    const fs = await fsUsage(this.#root);
    return { totalBytes: fs.totalBytes, freeBytes: fs.freeBytes };
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    if (req.volumeMode === 'block') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName} (driver btrfs) has no block volumes`);
    return this.#locks.run(req.volumeId, async () => {
      const dir = this.#path('volume', req.volumeId);
      if (!(await isSubvolume(dir))) {
        if (await pathExists(dir)) throw new PollyError('BACKEND_FAILED', `pool ${this.#poolName}: ${dir} exists but is not a btrfs subvolume`);
        if (req.source) {
          const kind = req.source.kind;
          assertObjectId(this.#poolName, kind, req.source.backendId);
          const from = await this.#mustExist(kind, req.source.backendId);
          const sourceSize = await this.#sizeOf(from);
          if (sourceSize !== undefined && req.sizeBytes < sourceSize) {
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${kind} ${req.source.backendId} (${sourceSize} bytes)`);
          }
          await snapshotSubvolume(from, dir, { readOnly: false });
        } else {
          await createSubvolume(dir);
        }
      }
      // Also finishes a create that crashed between making the subvolume and limiting it.
      const current = (await this.#qgroupOf(dir))?.maxReferencedBytes;
      const sizeBytes = Math.max(current ?? 0, req.sizeBytes);
      if (current !== sizeBytes) await setReferencedLimit(dir, sizeBytes);
      return { backendId: req.volumeId, sizeBytes };
    });
  }

  async delete(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, () => this.#remove('volume', backendId));
  }

  async expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    assertObjectId(this.#poolName, 'volume', backendId);
    assertSizeBytes(this.#poolName, sizeBytes);
    return this.#locks.run(backendId, async () => {
      const dir = await this.#mustExist('volume', backendId);
      const current = (await this.#qgroupOf(dir))?.maxReferencedBytes;
      if (current !== undefined && sizeBytes <= current) return { sizeBytes: current };
      await setReferencedLimit(dir, sizeBytes);
      return { sizeBytes };
    });
  }

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      const dir = this.#path('snapshot', snapshotId);
      if (!(await isSubvolume(dir))) {
        const from = await this.#mustExist('volume', volumeBackendId);
        // The snapshot's qgroup inherits the volume's limit: that is the size a restore needs.
        await snapshotSubvolume(from, dir, { readOnly: true });
      }
      return { backendId: snapshotId, sizeBytes: (await this.#sizeOf(dir)) ?? 0 };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, () => this.#remove('snapshot', backendId));
  }

  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const dir = await this.#mustExist('volume', backendId);
    await syncFilesystem(this.#root);
    return (await this.#qgroupOf(dir))?.referencedBytes;
  }

  async list(): Promise<BackendObject[]> {
    await syncFilesystem(this.#root);
    const qgroups = await readQgroups(this.#root);
    const objects: BackendObject[] = [];
    for (const kind of ['volume', 'snapshot'] as const) {
      for (const name of await readdir(join(this.#root, `${kind}s`))) {
        const path = this.#path(kind, name);
        if (!isObjectId(name) || !(await isSubvolume(path))) continue;
        const q = qgroups.get(await subvolumeId(path));
        objects.push({ backendId: name, kind, sizeBytes: q?.maxReferencedBytes ?? q?.referencedBytes ?? 0, usedBytes: q?.referencedBytes });
      }
    }
    return objects;
  }

  async close(): Promise<void> {
    // Nothing held in process.
  }

  #path(kind: Kind, id: string): string {
    return join(this.#root, `${kind}s`, id);
  }

  async #mustExist(kind: Kind, id: string): Promise<string> {
    const path = this.#path(kind, id);
    if (!(await isSubvolume(path))) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${kind} ${id} does not exist`);
    return path;
  }

  async #qgroupOf(subvolume: string): Promise<Qgroup | undefined> {
    const id = await subvolumeId(subvolume);
    return (await readQgroups(this.#root)).get(id);
  }

  /** A subvolume's provisioned size: its limit, else what it references. */
  async #sizeOf(subvolume: string): Promise<number | undefined> {
    const q = await this.#qgroupOf(subvolume);
    return q?.maxReferencedBytes ?? q?.referencedBytes;
  }

  async #remove(kind: Kind, id: string): Promise<void> {
    const path = this.#path(kind, id);
    if (!(await isSubvolume(path))) {
      // Not a subvolume: nothing, or debris no btrfs call made; a plain directory can go the plain way.
      await rm(path, { recursive: true, force: true });
      return;
    }
    const subvolId = await subvolumeId(path);
    await deleteSubvolume(path);
    // Recent kernels drop the qgroup with the subvolume; older ones leave it stale (and may refuse the
    // destroy until the cleaner is done): sweep earlier leftovers too, so they never accumulate.
    if (!(await destroyQgroup(subvolId, this.#root))) await clearStaleQgroups(this.#root);
  }

  async #stats(backendId: string, path: string): Promise<VolumeStats> {
    const dir = await this.#mustExist('volume', backendId);
    await syncFilesystem(this.#root);
    const [q, fs] = await Promise.all([this.#qgroupOf(dir), fsUsage(path)]);
    const used = q?.referencedBytes ?? 0;
    const total = q?.maxReferencedBytes ?? fs.totalBytes;
    return { totalBytes: total, usedBytes: used, availableBytes: Math.max(0, Math.min(total - used, fs.freeBytes)) };
  }
}
