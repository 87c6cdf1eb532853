import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import { stat } from 'node:fs/promises';
import type { NodeDriver, PublishRequest, SelfFenceRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { fenceMountsEverywhere, killWritersOnDevice } from '../system/fence.js';
import { mountsOfSubtree, readMountInfo, subtreeLocation, unmountAll } from '../system/mounts.js';
import { assertObjectId } from '../system/object-ids.js';
import { pathExists } from '../system/pool-path.js';
import { publishByBind, unpublishTarget } from '../system/publish.js';

export interface DirectoryNodeOptions {
  poolName: string;
  driverName: string;
  /** The directory holding one directory (or subvolume) per volume; read on every call (it is resolved by init). */
  volumesDir: () => string;
  /** Stats of a published or staged volume. */
  stats: (backendId: string, path: string) => Promise<VolumeStats>;
  /**
   * Self-fence at the storage object where the backend can (btrfs: the subvolume read-only), undone by
   * the next stage; and whether a volume is a filesystem of its own (its own st_dev, as a btrfs
   * subvolume), so that writers holding files open in it can be found and stopped.
   */
  storageReadOnly?: { set: (dir: string, readOnly: boolean) => Promise<void>; ownDevice: boolean } | undefined;
}

/**
 * The node half of drivers whose volumes are directories on a filesystem every node sees (`local`,
 * `btrfs`): nothing to stage, and publishing is a bind mount of the volume's directory onto the target.
 */
export class DirectoryNodeDriver implements NodeDriver {
  readonly #opts: DirectoryNodeOptions;

  constructor(opts: DirectoryNodeOptions) {
    this.#opts = opts;
  }

  async stage(req: StageRequest): Promise<void> {
    this.#refuseBlock(req.volumeMode);
    const dir = await this.#existingVolumeDir(req.backendId);
    // A former holder's self-fence made it read-only; this node now holds the only live attachment.
    await this.#opts.storageReadOnly?.set(dir, false);
  }

  /**
   * Self-fence: the volume read-only at the storage where it can be (btrfs), every bind mount of it in
   * every mount namespace detached (containers' included), and, where the volume has its own device,
   * every process still holding a file open for writing in it killed.
   */
  async selfFence(req: SelfFenceRequest): Promise<void> {
    const dir = await this.#existingVolumeDir(req.backendId);
    if (req.storageReadOnly) await this.#opts.storageReadOnly?.set(dir, true);
    const where = subtreeLocation(this.#opts.volumesDir(), await readMountInfo());
    if (where) {
      const own = `${where.prefix}${req.backendId}`;
      await fenceMountsEverywhere((e) => e.device === where.host.device && (e.root === own || e.root.startsWith(`${own}/`)));
    }
    for (const t of req.targetPaths) await unmountAll(t, { lazyFallback: true }).catch(() => undefined);
    if (this.#opts.storageReadOnly?.ownDevice) await killWritersOnDevice((await stat(dir)).dev);
  }

  async unstage(_req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    // Nothing was staged.
  }

  async publish(req: PublishRequest): Promise<void> {
    this.#refuseBlock(req.volumeMode);
    const source = await this.#existingVolumeDir(req.backendId);
    await publishByBind({ source, target: req.targetPath, readOnly: req.readOnly });
  }

  async unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    await unpublishTarget(req.targetPath);
  }

  async stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    assertObjectId(this.#opts.poolName, 'volume', req.backendId);
    if (!(await pathExists(req.path))) throw new PollyError('NOT_FOUND', `pool ${this.#opts.poolName}: ${req.path} does not exist`);
    return this.#opts.stats(req.backendId, req.path);
  }

  async expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    // The controller already changed the limit; a directory has no filesystem of its own to grow.
    await this.#existingVolumeDir(req.backendId);
  }

  async listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    const dir = this.#opts.volumesDir();
    return (await mountsOfSubtree(dir)).map(({ entry, relativePath }) => ({
      backendId: relativePath.split('/')[0]!,
      description: `bind mount of ${join(dir, relativePath)} at ${entry.mountPoint}${entry.readOnly ? ' (read-only)' : ''}`,
    }));
  }

  async releaseNodeResources(backendId: string): Promise<void> {
    assertObjectId(this.#opts.poolName, 'volume', backendId);
    const mounts = (await mountsOfSubtree(this.#opts.volumesDir())).filter((m) => m.relativePath.split('/')[0] === backendId);
    // Deepest first, so that nested mounts do not keep their parents busy.
    mounts.sort((a, b) => b.entry.mountPoint.length - a.entry.mountPoint.length);
    for (const m of mounts) await unmountAll(m.entry.mountPoint);
  }

  #refuseBlock(mode: string): void {
    if (mode === 'block') {
      throw new PollyError('UNSUPPORTED', `pool ${this.#opts.poolName} (driver ${this.#opts.driverName}) has no block volumes`);
    }
  }

  async #existingVolumeDir(backendId: string): Promise<string> {
    assertObjectId(this.#opts.poolName, 'volume', backendId);
    const dir = join(this.#opts.volumesDir(), backendId);
    if (!(await pathExists(dir))) throw new PollyError('NOT_FOUND', `pool ${this.#opts.poolName}: volume ${backendId} does not exist`);
    return dir;
  }
}
