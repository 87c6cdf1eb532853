import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PollyError } from '../../core/errors.js';
import type { DriverContext, NodeDriver, NodeHalf, PublishRequest, SelfFenceRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { run } from '../system/exec.js';
import { fenceMountsEverywhere, killWritersOnDevice } from '../system/fence.js';
import { isErrno } from '../system/errno.js';
import { growFilesystem } from '../system/fs-tools.js';
import { mountStagedDevice } from '../system/stage-device.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { attachLoop, blockDeviceBytes, detachLoop, deviceNumber, listLoopDevices, mountsOfLoopDevice, refreshLoopSize, writeProtectLoop } from '../system/loop.js';
import { findMount, isMountPoint, unmountAll } from '../system/mounts.js';
import { assertObjectId } from '../system/object-ids.js';
import { pathExists } from '../system/pool-path.js';
import { publishByBind, unpublishTarget } from '../system/publish.js';
import { fsUsage } from '../system/statfs.js';
import { fsTypeFor } from '../loopblock/images.js';
import { CephClient } from './ceph-client.js';
import { alive, need, signal } from '../system/node-process.js';
import { RBD_CONTEXT as CONTEXT, RBD_IMAGE_PREFIX } from './rbd-names.js';


/**
 * librbd settings of a node's mapping. No librbd cache: rbd-fuse answers fsync without looking at what
 * `rbd_flush` returned (some versions do not even flush), so with the writeback cache a write is
 * acknowledged to the container once it is in rbd-fuse's memory — and one that then fails at the OSDs
 * (a blocklisted client's) is lost although fsync said it was durable. Uncached, `rbd_write` returns
 * once the OSDs have the data, and a failed one fails the container's write (EIO).
 */
export const RBD_FUSE_CLIENT_SETTINGS: Readonly<Record<string, string>> = { 'rbd cache': 'false' };

/**
 * The rbd node half. Stage maps the image from the publish context — with krbd (`rbd device map`) where
 * the kernel has it, else with rbd-fuse (the image appears as a file) and a loop device on that file —
 * then makes the filesystem once and mounts it at the staging path (or hands the device over raw). The
 * key (a node-scoped secret of the stage call) is written to a root-only keyring for the moment the
 * mapping starts and removed right after; nothing secret stays on the node.
 */
export class RbdNodeDriver implements NodeDriver, NodeHalf {
  readonly #poolName: string;
  /** Per-volume working directories (rbd-fuse mountpoints, transient client files). */
  readonly #root: string;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#root = join(ctx.dataDir, 'rbd', ctx.poolName, 'node');
  }

  get node(): NodeDriver {
    return this;
  }

  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {
    // Mappings stay: a restarted agent restores or releases them.
  }

  #work(backendId: string): string {
    return join(this.#root, backendId);
  }

  #fuseDir(backendId: string): string {
    return join(this.#work(backendId), 'fuse');
  }

  async stage(req: StageRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    const readOnly = req.readOnly === true;
    const wantedFs = fsTypeFor(this.#poolName, req.volumeMode, req.fsType);
    await this.#locks.run(req.backendId, async () => {
      const device = await this.#map(req);
      if (wantedFs === undefined) return;
      await mountStagedDevice(device, { backendId: req.backendId, stagingPath: req.stagingPath, fsType: wantedFs, readOnly });
    });
  }

  /** The block device of the volume on this node: an existing mapping, or a new one from the publish context. */
  async #map(req: StageRequest): Promise<string> {
    const existing = await this.#deviceOf(req.backendId);
    if (existing) return existing;
    const ctx = req.publishContext ?? {};
    const image = need(ctx, CONTEXT.image, req.backendId);
    const pool = need(ctx, CONTEXT.pool, req.backendId);
    const user = need(ctx, CONTEXT.user, req.backendId);
    const monHost = need(ctx, CONTEXT.monHost, req.backendId);
    const key = req.secrets?.nodeKey ?? (ctx[CONTEXT.keyring] === undefined ? req.secrets?.key : undefined);
    const keyring = ctx[CONTEXT.keyring];
    if (key === undefined && keyring === undefined) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: no Ceph key for user ${user} reached this node (pool parameter nodeKey or nodeKeyring)`);
    }
    const client = new CephClient(join(this.#work(req.backendId), 'client'), { monHost, user, key, keyring, clientSettings: RBD_FUSE_CLIENT_SETTINGS });
    try {
      await client.prepare();
      if (await useKrbd(ctx[CONTEXT.mapper])) {
        const { stdout } = await run('rbd', [...client.args(), 'device', 'map', '--options', 'exclusive', `${pool}/${image}`]);
        return stdout.trim();
      }
      const fuse = this.#fuseDir(req.backendId);
      if (!(await isMountPoint(fuse))) {
        await mkdir(fuse, { recursive: true });
        await run('rbd-fuse', [...client.args(), '-p', pool, '-r', image, fuse]);
      }
      const file = join(fuse, image);
      if (!(await pathExists(file))) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: image ${pool}/${image} does not exist`);
      // attachLoop also clears a read-only flag a previous self-fence left on the free device it picks.
      return await attachLoop(file, { readOnly: false, directIo: true });
    } finally {
      await client.forget();
    }
  }

  /** The loop device on this volume's rbd-fuse file (or its krbd device), if mapped. */
  async #deviceOf(backendId: string): Promise<string | undefined> {
    const mine = (await this.#loopsOf(backendId)).find((d) => !d.backingFileDeleted);
    if (mine) return mine.device;
    return (await krbdDevices()).find((d) => d.backendId === backendId)?.device;
  }

  async #loopsOf(backendId: string) {
    const prefix = `${this.#fuseDir(backendId)}/`;
    return (await listLoopDevices()).filter((d) => d.backingFile.startsWith(prefix));
  }

  async unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const device = await this.#deviceOf(req.backendId);
      const staging = await findMount(req.stagingPath);
      if (device) {
        const busy = (await mountsOfLoopDevice(device)).filter((m) => m.mountPoint !== staging?.mountPoint);
        if (busy.length > 0) {
          throw new PollyError('INVALID_STATE', `volume ${req.backendId} is still published at ${busy.map((m) => m.mountPoint).join(', ')}; unpublish it first`);
        }
        if (staging) await unmountAll(req.stagingPath);
      }
      await this.#unmap(req.backendId);
    });
  }

  /**
   * Detaches the loop device, stops rbd-fuse, or unmaps the krbd device. rbd-fuse is stopped by signal
   * (SIGTERM: it unmounts itself; SIGKILL when a fenced, blocklisted client hangs in librbd), never by an
   * unmount that would wait for it.
   */
  async #unmap(backendId: string): Promise<void> {
    for (const d of await this.#loopsOf(backendId)) await detachLoop(d.device);
    const fuse = this.#fuseDir(backendId);
    await this.#stopFuse(backendId, 5_000);
    if (await isMountPoint(fuse)) await unmountAll(fuse, { lazyFallback: true });
    for (const d of (await krbdDevices()).filter((x) => x.backendId === backendId)) await run('rbd', ['device', 'unmap', d.device]);
    await rm(this.#work(backendId), { recursive: true, force: true }).catch(() => undefined);
  }

  async publish(req: PublishRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const device = await this.#deviceOf(req.backendId);
      if (device === undefined) throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged on this node`);
      if (req.volumeMode === 'block') {
        if (req.readOnly) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: read-only raw block publishes are not offered by rbd`);
        await publishByBind({ source: device, target: req.targetPath, readOnly: false });
        return;
      }
      const staging = await findMount(req.stagingPath);
      if (!staging || staging.device !== (await deviceNumber(device))) {
        throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged at ${req.stagingPath}`);
      }
      await publishByBind({ source: req.stagingPath, target: req.targetPath, readOnly: req.readOnly });
    });
  }

  async unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, () => unpublishTarget(req.targetPath));
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
      const device = await this.#deviceOf(req.backendId);
      const total = device ? await blockDeviceBytes(device) : 0;
      return { totalBytes: total, usedBytes: 0, availableBytes: total };
    }
    const fs = await fsUsage(req.path);
    return { totalBytes: fs.totalBytes, usedBytes: fs.usedBytes, availableBytes: fs.freeBytes, totalInodes: fs.totalInodes, usedInodes: fs.usedInodes };
  }

  async expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const loops = await this.#loopsOf(req.backendId);
      for (const d of loops) {
        // rbd-fuse reports the new image size once librbd heard of the resize (a watch notification).
        for (let waited = 0; waited < 10_000; waited += 100) {
          if ((await stat(d.backingFile)).size >= req.sizeBytes) break;
          await sleep(100);
        }
        await refreshLoopSize(d.device);
      }
      const device = await this.#deviceOf(req.backendId);
      const staging = await findMount(req.stagingPath);
      if (!staging || !device || staging.device !== (await deviceNumber(device))) return;
      await growFilesystem({ device, mountPoint: req.stagingPath, fsType: staging.fsType });
    });
  }

  async listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    const out: Array<{ backendId: string; description: string }> = [];
    const seen = new Set<string>();
    for (const d of await listLoopDevices()) {
      if (!d.backingFile.startsWith(`${this.#root}/`)) continue;
      const backendId = d.backingFile.slice(this.#root.length + 1).split('/')[0] ?? '';
      const mounts = await mountsOfLoopDevice(d.device);
      const where = mounts.length > 0 ? `, mounted at ${mounts.map((m) => m.mountPoint).join(', ')}` : '';
      out.push({ backendId, description: `loop device ${d.device} on rbd-fuse ${d.backingFile}${where}` });
      seen.add(backendId);
    }
    for (const name of await readdir(this.#root).catch(() => [] as string[])) {
      if (seen.has(name) || !(await isMountPoint(this.#fuseDir(name)))) continue;
      out.push({ backendId: name, description: `rbd-fuse mount ${this.#fuseDir(name)}` });
    }
    for (const d of await krbdDevices()) out.push({ backendId: d.backendId, description: `krbd device ${d.device}` });
    return out;
  }

  async releaseNodeResources(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, async () => {
      const device = await this.#deviceOf(backendId);
      // A clean unmount first; when the image's client is cut off (blocklisted), the filesystem's last
      // writes hang in it: the client is killed, which fails them, and the unmount completes.
      const clean = (async () => {
        if (device) for (const m of await mountsOfLoopDevice(device)) await unmountAll(m.mountPoint, { lazyFallback: true });
      })();
      const done = await Promise.race([clean.then(() => true), sleep(RELEASE_WAIT_MS).then(() => false)]);
      if (!done) {
        await this.#stopFuse(backendId, 0);
        await clean.catch(() => undefined);
      }
      await this.#unmap(backendId);
    });
  }

  /** The rbd-fuse process serving this volume's mapping (found by its mountpoint argument), stopped. */
  async #stopFuse(backendId: string, graceMs: number): Promise<void> {
    const fuse = this.#fuseDir(backendId);
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (!(argv[0] ?? '').endsWith('rbd-fuse') || !argv.includes(fuse)) continue;
      const pid = Number(entry);
      if (graceMs > 0) signal(pid, 'SIGTERM');
      for (let waited = 0; waited < graceMs && alive(pid); waited += 100) await sleep(100);
      if (alive(pid)) signal(pid, 'SIGKILL');
      for (let waited = 0; waited < 5_000 && alive(pid); waited += 50) await sleep(50);
    }
  }

  /**
   * Self-fence, as loopblock does on its loop devices: writers killed, the filesystem remounted
   * read-only, every mount of it detached in every namespace, the device set read-only. (A node that
   * cannot do this — its agent is dead — is fenced at the cluster by the blocklist instead.)
   */
  async selfFence(req: SelfFenceRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const device = await this.#deviceOf(req.backendId);
      if (!device) return;
      const number = await deviceNumber(device).catch(() => '');
      const staging = await findMount(req.stagingPath);
      if (staging && staging.device === number) {
        await killWritersOnDevice((await stat(req.stagingPath)).dev);
        await run('mount', ['-o', 'remount,ro', req.stagingPath]).catch(() => undefined);
      }
      const base = device.split('/').pop() ?? '';
      await fenceMountsEverywhere((e) => e.device === number || (e.fsType === 'devtmpfs' && e.root === `/${base}`));
      await writeProtectLoop(device).catch(() => undefined);
    });
  }
}

const RELEASE_WAIT_MS = 10_000;

async function useKrbd(mapper: string | undefined): Promise<boolean> {
  if (mapper === 'rbd-fuse') return false;
  const has = await pathExists('/sys/bus/rbd/add_single_major');
  if (mapper === 'krbd' && !has) throw new PollyError('UNSUPPORTED', 'mapper krbd: this kernel has no rbd module (/sys/bus/rbd); use mapper rbd-fuse');
  return has;
}

/** krbd devices mapped from Polly images (none where the kernel has no rbd). */
async function krbdDevices(): Promise<Array<{ device: string; backendId: string }>> {
  if (!(await pathExists('/sys/bus/rbd/devices'))) return [];
  const out: Array<{ device: string; backendId: string }> = [];
  for (const id of await readdir('/sys/bus/rbd/devices')) {
    const name = (await readFile(`/sys/bus/rbd/devices/${id}/name`, 'utf8').catch(() => '')).trim();
    if (name.startsWith(RBD_IMAGE_PREFIX.volume)) out.push({ device: `/dev/rbd${id}`, backendId: name.slice(RBD_IMAGE_PREFIX.volume.length) });
  }
  return out;
}

