import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PollyError } from '../../core/errors.js';
import type { NodeDriver, PublishRequest, SelfFenceRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { run } from '../system/exec.js';
import { fenceMountsEverywhere, killWritersOnDevice } from '../system/fence.js';
import { isErrno } from '../system/errno.js';
import { growFilesystem } from '../system/fs-tools.js';
import { mountStagedDevice } from '../system/stage-device.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import {
  attachLoop,
  detachLoop,
  deviceNumber,
  listLoopDevices,
  type LoopDevice,
  loopDevicesFor,
  mountsOfLoopDevice,
  refreshLoopSize,
  writeProtectLoop,
} from '../system/loop.js';
import { findMount, unmountAll } from '../system/mounts.js';
import { assertObjectId } from '../system/object-ids.js';
import { pathExists } from '../system/pool-path.js';
import { publishByBind, unpublishTarget } from '../system/publish.js';
import { fsUsage } from '../system/statfs.js';
import { fsTypeFor, ImageLayout } from './images.js';

/**
 * The loopblock node half. Stage attaches the volume's image to a loop device (reusing one already
 * attached to it) and, for filesystem volumes, makes the filesystem once (never over an existing one) and
 * mounts it at the staging path. Publish bind-mounts the staging path (or, for block volumes, the device
 * node) onto the target. A read-only block publish gets its own read-only loop device, because a
 * read-only bind mount of a device node does not stop writes to the device.
 */
export class LoopblockNodeDriver implements NodeDriver {
  readonly #poolName: string;
  readonly #layout: () => ImageLayout;
  readonly #locks = new KeyedMutex();

  constructor(opts: { poolName: string; layout: () => ImageLayout }) {
    this.#poolName = opts.poolName;
    this.#layout = opts.layout;
  }

  async stage(req: StageRequest): Promise<void> {
    const image = await this.#existingImage(req.backendId);
    const readOnly = req.readOnly === true;
    const wantedFs = fsTypeFor(this.#poolName, req.volumeMode, req.fsType);
    await this.#locks.run(req.backendId, async () => {
      if (wantedFs === undefined) {
        await this.#attached(image, { readOnly });
        return;
      }
      // Filesystem volumes always get a writable device: a first stage may need to make the filesystem.
      const device = await this.#attached(image, { readOnly: false });
      await mountStagedDevice(device, { backendId: req.backendId, stagingPath: req.stagingPath, fsType: wantedFs, readOnly });
    });
  }

  async unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const devices = await this.#devicesOf(req.backendId);
      const staging = await findMount(req.stagingPath);
      for (const d of devices) {
        const busy = (await mountsOfLoopDevice(d.device)).filter((m) => m.mountPoint !== staging?.mountPoint);
        if (busy.length > 0) {
          throw new PollyError('INVALID_STATE', `volume ${req.backendId} is still published at ${busy.map((m) => m.mountPoint).join(', ')}; unpublish it first`);
        }
      }
      if (staging && devices.length > 0) await unmountAll(req.stagingPath);
      for (const d of devices) await detachLoop(d.device);
    });
  }

  async publish(req: PublishRequest): Promise<void> {
    const image = await this.#existingImage(req.backendId);
    await this.#locks.run(req.backendId, async () => {
      if (req.volumeMode === 'block') {
        const devices = await loopDevicesFor(image);
        let device = devices.find((d) => d.readOnly === req.readOnly)?.device;
        if (device === undefined && req.readOnly && devices.length > 0) device = await attachLoop(image, { readOnly: true });
        if (device === undefined) throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged on this node`);
        await publishByBind({ source: device, target: req.targetPath, readOnly: req.readOnly });
        return;
      }
      const staging = await findMount(req.stagingPath);
      const devices = await loopDevicesFor(image);
      const numbers = await Promise.all(devices.map((d) => deviceNumber(d.device).catch(() => '')));
      if (!staging || !numbers.includes(staging.device)) {
        throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged at ${req.stagingPath}`);
      }
      await publishByBind({ source: req.stagingPath, target: req.targetPath, readOnly: req.readOnly });
    });
  }

  async unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const mount = await findMount(req.targetPath);
      await unpublishTarget(req.targetPath);
      // A read-only block publish attached its own device: let it go with its last mount.
      if (mount?.fsType === 'devtmpfs') await this.#detachUnusedReadOnly(req.backendId);
    });
  }

  async stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    let st;
    try {
      st = await stat(req.path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${req.path} does not exist`);
      throw err;
    }
    if (st.isBlockDevice()) {
      const sectors = Number((await readFile(`/sys/dev/block/${major(st.rdev)}:${minor(st.rdev)}/size`, 'utf8')).trim());
      const image = await stat(this.#layout().image('volume', req.backendId));
      const total = sectors * 512;
      const used = Math.min(total, image.blocks * 512);
      return { totalBytes: total, usedBytes: used, availableBytes: total - used };
    }
    const fs = await fsUsage(req.path);
    return { totalBytes: fs.totalBytes, usedBytes: fs.usedBytes, availableBytes: fs.freeBytes, totalInodes: fs.totalInodes, usedInodes: fs.usedInodes };
  }

  async expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const devices = await this.#devicesOf(req.backendId);
      for (const d of devices) await refreshLoopSize(d.device);
      const staging = await findMount(req.stagingPath);
      if (!staging) return; // Not staged here: the next stage grows the filesystem.
      for (const d of devices) {
        if (staging.device === (await deviceNumber(d.device))) {
          await growFilesystem({ device: d.device, mountPoint: req.stagingPath, fsType: staging.fsType });
        }
      }
    });
  }

  async listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    const dir = this.#layout().dir('volume');
    const out: Array<{ backendId: string; description: string }> = [];
    for (const d of await listLoopDevices()) {
      if (!d.backingFile.startsWith(`${dir}/`)) continue;
      const id = ImageLayout.idOf(basename(d.backingFile));
      if (id === undefined) continue;
      const mounts = await mountsOfLoopDevice(d.device);
      const where = mounts.length > 0 ? `, mounted at ${mounts.map((m) => m.mountPoint).join(', ')}` : '';
      const flags = `${d.readOnly ? ' read-only' : ''}${d.backingFileDeleted ? ' (image deleted)' : ''}`;
      out.push({ backendId: id, description: `loop device ${d.device} on ${d.backingFile}${flags}${where}` });
    }
    return out;
  }

  async releaseNodeResources(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, async () => {
      for (const d of await this.#devicesOf(backendId)) {
        for (const m of await mountsOfLoopDevice(d.device)) await unmountAll(m.mountPoint, { lazyFallback: true });
        await detachLoop(d.device);
      }
    });
  }

  /**
   * Self-fence: stops every writer of the volume on this node, in every mount namespace. Processes with a
   * file open for writing on its filesystem are killed (an open descriptor outlives any unmount), the
   * filesystem is remounted read-only (for all its mounts at once), every mount of it is detached in
   * every namespace, and its loop devices are set read-only (`blockdev --setro`), which also stops raw
   * block writers.
   */
  async selfFence(req: SelfFenceRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const devices = await this.#devicesOf(req.backendId);
      const numbers = new Set(await Promise.all(devices.map((d) => deviceNumber(d.device).catch(() => ''))));
      const staging = await findMount(req.stagingPath);
      if (staging && numbers.has(staging.device)) {
        await killWritersOnDevice((await stat(req.stagingPath)).dev);
        await run('mount', ['-o', 'remount,ro', req.stagingPath]).catch(() => undefined);
      }
      await fenceMountsEverywhere((e) => numbers.has(e.device) || (e.fsType === 'devtmpfs' && devices.some((d) => e.root === `/${basename(d.device)}`)));
      for (const d of devices) await writeProtectLoop(d.device).catch(() => undefined);
    });
  }

  async #existingImage(backendId: string): Promise<string> {
    assertObjectId(this.#poolName, 'volume', backendId);
    const image = this.#layout().image('volume', backendId);
    if (!(await pathExists(image))) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: volume ${backendId} does not exist`);
    return image;
  }

  /** A loop device on `image` with the given read-only flag: an attached one, or a newly attached one. */
  async #attached(image: string, opts: { readOnly: boolean }): Promise<string> {
    const existing = (await loopDevicesFor(image)).find((d) => d.readOnly === opts.readOnly && !d.backingFileDeleted);
    return existing?.device ?? attachLoop(image, opts);
  }

  /** Loop devices of a volume's image, also when the image was deleted while attached. */
  async #devicesOf(backendId: string): Promise<LoopDevice[]> {
    const image = this.#layout().image('volume', backendId);
    return (await listLoopDevices()).filter((d) => d.backingFile === image);
  }

  async #detachUnusedReadOnly(backendId: string): Promise<void> {
    for (const d of await this.#devicesOf(backendId)) {
      if (d.readOnly && (await mountsOfLoopDevice(d.device)).length === 0) await detachLoop(d.device);
    }
  }
}

// Linux dev_t encoding (glibc's gnu_dev_major/minor).
function major(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}

function minor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}
