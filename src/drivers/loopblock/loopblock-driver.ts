import { open, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
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
} from '../../core/ports/driver.js';
import { isErrno } from '../system/errno.js';
import { copyTree } from '../system/fs-tools.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { makePoolDirs, poolPathParameter, resolvePoolDir } from '../system/pool-path.js';
import { PathParameter, poolParameterSchema } from '../system/pool-parameters.js';
import { fsUsage } from '../system/statfs.js';
import { fsTypeFor, ImageLayout, provisionedSize } from './images.js';
import { LoopblockNodeDriver } from './loopblock-node.js';

/** Pool parameters of `loopblock`: `path`, the directory holding the image files (required). */
export const LOOPBLOCK_PARAMETERS = poolParameterSchema({ path: PathParameter }, ['path']);

const CAPABILITIES: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  expand: 'online',
  block: true,
  fsTypes: ['ext4', 'xfs'],
  // A local filesystem on a loop device must not be mounted read-write by two hosts at once.
  accessModes: ['RWO', 'RWOP', 'ROX'],
  qos: false,
  sizeEnforced: true,
};

type Kind = 'volume' | 'snapshot';

/**
 * `loopblock`: a sparse image file per volume under the pool's `path` (any filesystem), attached through a
 * loop device on the node that uses it, with ext4 or xfs made on first stage, or handed over raw (block
 * mode). Snapshots, restores and clones are copies of the image (`cp --reflink=auto --sparse=always`:
 * instant and shared on btrfs or xfs, a sparse copy elsewhere); expand grows the file and, on the node,
 * the loop device and the filesystem, online.
 */
export class LoopblockDriver implements StorageDriver {
  readonly driverName = 'loopblock';
  readonly capabilities = CAPABILITIES;
  readonly node: LoopblockNodeDriver;
  readonly #poolName: string;
  #layout: ImageLayout;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#layout = new ImageLayout(poolPathParameter(ctx.poolName, ctx.parameters));
    this.node = new LoopblockNodeDriver({ poolName: ctx.poolName, layout: () => this.#layout });
  }

  async init(): Promise<void> {
    this.#layout = new ImageLayout(await resolvePoolDir(this.#poolName, this.#layout.root, { create: false }));
    await makePoolDirs(this.#poolName, [this.#layout.dir('volume'), this.#layout.dir('snapshot')]);
  }

  async capacity(): Promise<BackendCapacity> {
    const fs = await fsUsage(this.#layout.root);
    return { totalBytes: fs.totalBytes, freeBytes: fs.freeBytes };
  }

  async create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    assertObjectId(this.#poolName, 'volume', req.volumeId);
    assertSizeBytes(this.#poolName, req.sizeBytes);
    const sizeBytes = provisionedSize(req.sizeBytes, fsTypeFor(this.#poolName, req.volumeMode, req.fsType));
    return this.#locks.run(req.volumeId, async () => {
      const image = this.#layout.image('volume', req.volumeId);
      const existing = await sizeOf(image);
      if (existing !== undefined) {
        // A repeat; also finishes one that crashed before growing the image to its size.
        if (existing < sizeBytes) await truncate(image, sizeBytes);
        return { backendId: req.volumeId, sizeBytes: Math.max(existing, sizeBytes) };
      }
      const tmp = this.#layout.partial('volume', req.volumeId);
      await rm(tmp, { force: true });
      try {
        if (req.source) {
          const kind = req.source.kind;
          assertObjectId(this.#poolName, kind, req.source.backendId);
          const from = this.#layout.image(kind, req.source.backendId);
          const sourceSize = await sizeOf(from);
          if (sourceSize === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${kind} ${req.source.backendId} does not exist`);
          if (sizeBytes < sourceSize) {
            throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source ${kind} ${req.source.backendId} (${sourceSize} bytes)`);
          }
          await copyTree(from, tmp);
        } else {
          await (await open(tmp, 'wx')).close();
        }
        await truncate(tmp, sizeBytes);
        await rename(tmp, image);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
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
      const image = this.#layout.image('volume', backendId);
      const current = await sizeOf(image);
      if (current === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
      if (sizeBytes <= current) return { sizeBytes: current };
      const grown = provisionedSize(sizeBytes, undefined);
      // Growing a file never moves data; the node picks the new size up with `losetup -c` and a resize.
      await truncate(image, grown);
      return { sizeBytes: grown };
    });
  }

  async snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    assertObjectId(this.#poolName, 'volume', volumeBackendId);
    assertObjectId(this.#poolName, 'snapshot', snapshotId);
    return this.#locks.run(`snapshot:${snapshotId}`, async () => {
      const image = this.#layout.image('snapshot', snapshotId);
      const existing = await sizeOf(image);
      if (existing !== undefined) return { backendId: snapshotId, sizeBytes: existing };
      const from = this.#layout.image('volume', volumeBackendId);
      if ((await sizeOf(from)) === undefined) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${volumeBackendId} does not exist`);
      const tmp = this.#layout.partial('snapshot', snapshotId);
      await rm(tmp, { force: true });
      try {
        await copyTree(from, tmp);
        await rename(tmp, image);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return { backendId: snapshotId, sizeBytes: (await sizeOf(image)) ?? 0 };
    });
  }

  async deleteSnapshot(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'snapshot', backendId);
    await this.#locks.run(`snapshot:${backendId}`, () => this.#remove('snapshot', backendId));
  }

  async usage(backendId: string): Promise<number | undefined> {
    assertObjectId(this.#poolName, 'volume', backendId);
    try {
      return (await stat(this.#layout.image('volume', backendId))).blocks * 512;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
      throw err;
    }
  }

  async list(): Promise<BackendObject[]> {
    const objects: BackendObject[] = [];
    for (const kind of ['volume', 'snapshot'] as const) {
      for (const name of await readdir(this.#layout.dir(kind))) {
        const id = ImageLayout.idOf(name);
        if (id === undefined) continue;
        try {
          const st = await stat(this.#layout.image(kind, id));
          if (st.isFile()) objects.push({ backendId: id, kind, sizeBytes: st.size, usedBytes: st.blocks * 512 });
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err;
        }
      }
    }
    return objects;
  }

  async close(): Promise<void> {
    // Nothing held in process.
  }

  async #remove(kind: Kind, id: string): Promise<void> {
    // A loop device still attached on some node keeps the unlinked inode alive until the node releases it.
    await rm(this.#layout.image(kind, id), { force: true });
    await rm(this.#layout.partial(kind, id), { force: true });
  }
}

/** The apparent size of an image, or undefined when there is none. */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
