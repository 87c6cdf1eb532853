import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
import { isErrno } from '../system/errno.js';
import { copyTree, diskUsage } from '../system/fs-tools.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes, isObjectId } from '../system/object-ids.js';
import { makePoolDirs, pathExists, poolPathParameter, resolvePoolDir } from '../system/pool-path.js';
import { PathParameter, poolParameterSchema } from '../system/pool-parameters.js';
import { fsUsage } from '../system/statfs.js';
import { DirectoryNodeDriver } from './directory-node.js';
import { SizeRecords } from './size-records.js';

/** Pool parameters of `local`: `path` (default: `<dataDir>/pools/<pool>`). */
export const LOCAL_PARAMETERS = poolParameterSchema({ path: PathParameter });

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  // A directory has no size: "expanding" only records the new size.
  expand: 'online',
  block: false,
  fsTypes: [],
  accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
  qos: false,
  sizeEnforced: false,
};

/**
 * `local`: a directory per volume under the pool's `path` (default `<dataDir>/pools/<pool>`):
 * `volumes/<id>`, snapshots as full copies in `snapshots/<id>` (`cp --reflink=auto`, so they share extents
 * on btrfs and xfs). Sizes are recorded, not enforced, and reported as such (`sizeEnforced: false`).
 */
export class LocalDriver implements StorageDriver {
  readonly driverName = 'local';
  readonly capabilities = CAPABILITIES;
  readonly node: DirectoryNodeDriver;
  readonly #poolName: string;
  #root: string;
  #sizes: SizeRecords;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#root = poolPathParameter(ctx.poolName, ctx.parameters, join(ctx.dataDir, 'pools', ctx.poolName));
    this.#sizes = new SizeRecords(join(this.#root, 'meta'));
    this.node = new DirectoryNodeDriver({
      poolName: ctx.poolName,
      driverName: this.driverName,
      volumesDir: () => join(this.#root, 'volumes'),
      stats: (_id, path) => directoryStats(path),
    });
  }

  async init(): Promise<void> {
    this.#root = await resolvePoolDir(this.#poolName, this.#root, { create: true });
    this.#sizes = new SizeRecords(join(this.#root, 'meta'));
    await makePoolDirs(this.#poolName, [join(this.#root, 'volumes'), join(this.#root, 'snapshots')]);
    await this.#sizes.init();
  }

  async capacity(): Promise<BackendCapacity> {
    const fs = await fsUsage(this.#root);
    return { totalBytes: fs.totalBytes, freeBytes: fs.freeBytes };
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    if (req.volumeMode === 'block') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName} (driver local) has no block volumes`);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    return this.#locks.run(req.volumeId, async () => {
      const dir = this.#path('volume', req.volumeId);
      if (!(await pathExists(dir))) {
        if (req.source) {
          const kind = req.source.kind;
          assertObjectId(this.#poolName, kind, req.source.backendId);
          const from = this.#path(kind, req.source.backendId);
          if (!(await pathExists(from))) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${kind} ${req.source.backendId} does not exist`);
          const sourceSize = await this.#sizes.get(kind, req.source.backendId);
          if (sourceSize !== undefined && req.sizeBytes < sourceSize) {
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${kind} ${req.source.backendId} (${sourceSize} bytes)`);
          }
          await this.#copyInto(from, dir);
        } else {
          await mkdir(dir);
        }
      }
      // Also completes a create that crashed after making the directory but before recording its size.
      const recorded = await this.#sizes.get('volume', req.volumeId);
      const sizeBytes = Math.max(recorded ?? 0, req.sizeBytes);
      if (recorded !== sizeBytes) await this.#sizes.set('volume', req.volumeId, sizeBytes);
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
      await this.#mustExist('volume', backendId);
      const recorded = (await this.#sizes.get('volume', backendId)) ?? 0;
      if (sizeBytes <= recorded) return { sizeBytes: recorded };
      await this.#sizes.set('volume', backendId, sizeBytes);
      return { sizeBytes };
    });
  }

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      const dir = this.#path('snapshot', snapshotId);
      if (!(await pathExists(dir))) {
        const from = await this.#mustExist('volume', volumeBackendId);
        await this.#copyInto(from, dir);
      }
      let sizeBytes = await this.#sizes.get('snapshot', snapshotId);
      if (sizeBytes === undefined) {
        sizeBytes = (await this.#sizes.get('volume', volumeBackendId)) ?? (await diskUsage(dir));
        await this.#sizes.set('snapshot', snapshotId, sizeBytes);
      }
      return { backendId: snapshotId, sizeBytes };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, () => this.#remove('snapshot', backendId));
  }

  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    return diskUsage(await this.#mustExist('volume', backendId));
  }

  async list(): Promise<BackendObject[]> {
    const objects: BackendObject[] = [];
    for (const kind of ['volume', 'snapshot'] as const) {
      for (const name of await readdir(join(this.#root, `${kind}s`))) {
        if (!isObjectId(name)) continue;
        let usedBytes: number;
        try {
          usedBytes = await diskUsage(join(this.#root, `${kind}s`, name));
        } catch (err) {
          // Deleted between readdir and du.
          if (!(await pathExists(join(this.#root, `${kind}s`, name)))) continue;
          throw err;
        }
        const sizeBytes = (await this.#sizes.get(kind, name)) ?? usedBytes;
        objects.push({ backendId: name, kind, sizeBytes, usedBytes });
      }
    }
    return objects;
  }

  async close(): Promise<void> {
    // Nothing held in process.
  }

  #path(kind: 'volume' | 'snapshot', id: string): string {
    return join(this.#root, `${kind}s`, id);
  }

  async #mustExist(kind: 'volume' | 'snapshot', id: string): Promise<string> {
    const path = this.#path(kind, id);
    if (!(await pathExists(path))) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${kind} ${id} does not exist`);
    return path;
  }

  /** Copies into a hidden temporary name, then renames: the final name only ever holds a complete copy. */
  async #copyInto(from: string, to: string): Promise<void> {
    const tmp = join(dirname(to), `.${basename(to)}.partial`);
    await rm(tmp, { recursive: true, force: true });
    await copyTree(from, tmp);
    try {
      await rename(tmp, to);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async #remove(kind: 'volume' | 'snapshot', id: string): Promise<void> {
    const path = this.#path(kind, id);
    const tmp = join(this.#root, `${kind}s`, `.${id}.partial`);
    try {
      await rm(path, { recursive: true, force: true });
      await rm(tmp, { recursive: true, force: true });
    } catch (err) {
      if (isErrno(err, 'EBUSY')) throw new PollyError('INVALID_STATE', `pool ${this.#poolName}: ${kind} ${id} is in use (mounted) and cannot be deleted`);
      throw err;
    }
    await this.#sizes.remove(kind, id);
  }
}

/** A directory volume: the filesystem's capacity, and what the directory really holds. */
async function directoryStats(path: string): Promise<VolumeStats> {
  const [fs, used] = await Promise.all([fsUsage(path), diskUsage(path)]);
  return { totalBytes: fs.totalBytes, usedBytes: used, availableBytes: fs.freeBytes, totalInodes: fs.totalInodes, usedInodes: fs.usedInodes };
}
