import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import type { NodeDriver, PublishRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { mountsOfSubtree, unmountAll } from '../system/mounts.js';
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
    await this.#existingVolumeDir(req.backendId);
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
