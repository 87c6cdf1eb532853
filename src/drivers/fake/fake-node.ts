import { PollyError } from '../../core/errors.js';
import type { NodeDriver, PublishRequest, SelfFenceRequest, StageRequest, VolumeMode, VolumeStats } from '../../core/ports/driver.js';
import type { FaultInjector } from './fake-faults.js';
import { type FakeObject, type FakeState, usedBytes } from './fake-state.js';

interface Placement {
  backendId: string;
  readOnly: boolean;
  volumeMode: VolumeMode;
}

/**
 * The fake's node half: staged and published paths live in memory, nothing touches the host. Publishing
 * does not require staging first (the fake is lenient where real drivers differ), but conflicting repeats
 * are refused like everywhere else.
 *
 * Tests reach a published volume's "contents" through {@link FakeNodeDriver.writeFile} and
 * {@link FakeNodeDriver.readFile}, which behave like the real thing: `EROFS` on a read-only target,
 * `EDQUOT` beyond the volume's size, `ENOSPC` when the pool is full.
 */
export class FakeNodeDriver implements NodeDriver {
  readonly #poolName: string;
  readonly #state: FakeState;
  readonly #faults: FaultInjector;
  readonly #staged = new Map<string, Placement>();
  readonly #published = new Map<string, Placement>();
  readonly #block: boolean;
  readonly #fenced = new Set<string>();

  constructor(opts: { poolName: string; state: FakeState; faults: FaultInjector; block: boolean }) {
    this.#poolName = opts.poolName;
    this.#state = opts.state;
    this.#faults = opts.faults;
    this.#block = opts.block;
  }

  stage(req: StageRequest): Promise<void> {
    return this.#faults.around('node.stage', () => {
      this.#refuseBlock(req.volumeMode);
      this.#volume(req.backendId);
      place(this.#staged, req.stagingPath, { backendId: req.backendId, readOnly: req.readOnly === true, volumeMode: req.volumeMode });
    });
  }

  unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    return this.#faults.around('node.unstage', () => {
      this.#staged.delete(req.stagingPath);
    });
  }

  publish(req: PublishRequest): Promise<void> {
    return this.#faults.around('node.publish', () => {
      this.#refuseBlock(req.volumeMode);
      this.#volume(req.backendId);
      place(this.#published, req.targetPath, { backendId: req.backendId, readOnly: req.readOnly, volumeMode: req.volumeMode });
    });
  }

  unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    return this.#faults.around('node.unpublish', () => {
      this.#published.delete(req.targetPath);
    });
  }

  stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    return this.#faults.around('node.stats', () => {
      const vol = this.#volume(req.backendId);
      const used = usedBytes(vol);
      return { totalBytes: vol.sizeBytes, usedBytes: used, availableBytes: Math.max(0, vol.sizeBytes - used) };
    });
  }

  expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    return this.#faults.around('node.expand', () => {
      this.#volume(req.backendId);
    });
  }

  listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    return this.#faults.around('node.listNodeResources', () => [
      ...[...this.#staged].map(([path, p]) => ({ backendId: p.backendId, description: `staged at ${path}` })),
      ...[...this.#published].map(([path, p]) => ({ backendId: p.backendId, description: `published at ${path}${p.readOnly ? ' (read-only)' : ''}` })),
    ]);
  }

  releaseNodeResources(backendId: string): Promise<void> {
    return this.#faults.around('node.releaseNodeResources', () => {
      for (const map of [this.#staged, this.#published]) {
        for (const [path, p] of map) if (p.backendId === backendId) map.delete(path);
      }
    });
  }

  /** Records the fence (see {@link fencedVolumes}) and drops the volume's staging and publications. */
  selfFence(req: SelfFenceRequest): Promise<void> {
    return this.#faults.around('node.selfFence', () => {
      this.#fenced.add(req.backendId);
      for (const map of [this.#staged, this.#published]) {
        for (const [path, p] of map) if (p.backendId === req.backendId) map.delete(path);
      }
    });
  }

  /** Backend ids this node half self-fenced (for assertions). */
  fencedVolumes(): string[] {
    return [...this.#fenced];
  }

  /** The backend id published at `targetPath`, or undefined (for assertions). */
  publishedAt(targetPath: string): string | undefined {
    return this.#published.get(targetPath)?.backendId;
  }

  /**
   * Writes a file into the volume published at `targetPath`, as a container would. Throws errors with the
   * errno `code` a real filesystem gives: `ENOENT` (nothing published there), `EROFS`, `EDQUOT`, `ENOSPC`.
   */
  async writeFile(targetPath: string, name: string, data: Buffer): Promise<void> {
    const { vol, placement } = this.#publishedVolume(targetPath);
    if (placement.readOnly) throw errnoError('EROFS', `read-only file system, open '${targetPath}/${name}'`);
    const old = vol.files.get(name)?.length ?? 0;
    const grow = data.length - old;
    if (usedBytes(vol) + grow > vol.sizeBytes) throw errnoError('EDQUOT', `disk quota exceeded, write '${targetPath}/${name}'`);
    if (grow > this.#state.freeBytes) throw errnoError('ENOSPC', `no space left on device, write '${targetPath}/${name}'`);
    vol.files.set(name, Buffer.from(data));
    this.#state.storedBytes += grow;
  }

  /** Reads a file from the volume published at `targetPath` (`ENOENT` when absent). */
  async readFile(targetPath: string, name: string): Promise<Buffer> {
    const { vol } = this.#publishedVolume(targetPath);
    const data = vol.files.get(name);
    if (!data) throw errnoError('ENOENT', `no such file or directory, open '${targetPath}/${name}'`);
    return Buffer.from(data);
  }

  #publishedVolume(targetPath: string): { vol: FakeObject; placement: Placement } {
    const placement = this.#published.get(targetPath);
    const vol = placement && this.#state.volumes.get(placement.backendId);
    if (!placement || !vol) throw errnoError('ENOENT', `nothing is published at '${targetPath}'`);
    return { vol, placement };
  }

  #refuseBlock(mode: VolumeMode): void {
    if (mode === 'block' && !this.#block) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName} (driver fake) has no block volumes`);
  }

  #volume(backendId: string): FakeObject {
    const vol = this.#state.volumes.get(backendId);
    if (!vol) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    return vol;
  }
}

/** Records `placement` at `path`; a repeat is fine, a different volume or read-only flag is a conflict. */
function place(map: Map<string, Placement>, path: string, placement: Placement): void {
  const existing = map.get(path);
  if (!existing) {
    map.set(path, placement);
    return;
  }
  if (existing.backendId !== placement.backendId) {
    throw new PollyError('INVALID_STATE', `${path} already holds volume ${existing.backendId}, not ${placement.backendId}`);
  }
  if (existing.readOnly !== placement.readOnly) {
    throw new PollyError('INVALID_STATE', `${path} is already ${existing.readOnly ? 'read-only' : 'read-write'}; release it before using it ${placement.readOnly ? 'read-only' : 'read-write'}`);
  }
}

function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
