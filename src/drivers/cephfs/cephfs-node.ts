import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PollyError } from '../../core/errors.js';
import type { DriverContext, NodeDriver, NodeHalf, PublishRequest, SelfFenceRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { CephClient } from '../rbd/ceph-client.js';
import { run } from '../system/exec.js';
import { isErrno } from '../system/errno.js';
import { fenceMountsEverywhere, killWritersOnDevice } from '../system/fence.js';
import { KeyedMutex } from '../system/keyed-mutex.js';
import { findMount, readMountInfo, unmountAll, type MountEntry } from '../system/mounts.js';
import { assertObjectId } from '../system/object-ids.js';
import { publishByBind, unpublishTarget } from '../system/publish.js';
import { fsUsage } from '../system/statfs.js';
import { alive, need, signal } from '../system/node-process.js';
import { CEPHFS_CONTEXT as CONTEXT, CEPHFS_NODE_METADATA, CEPHFS_PREFIX } from './cephfs-names.js';

/** One CephFS mount of a Polly volume on this node. */
interface VolumeMount {
  backendId: string;
  mountPoint: string;
  /** The ceph-fuse process serving it (undefined for a kernel mount). */
  pid?: number | undefined;
}

/**
 * The cephfs node half. Stage mounts the volume's subvolume path at the staging path — with the kernel
 * client where the kernel has one (`mount -t ceph`), else with `ceph-fuse -r <path>` — as the node user
 * of the publish context, with the node's name as client metadata (a storage-side fence finds the node's
 * sessions by it). The key (a node-scoped secret of the stage call) is written to a root-only keyring for
 * the moment the client starts and removed right after; nothing secret stays on the node. Publish is a
 * bind mount of the staging path; the size is the subvolume's quota, which statfs reports.
 */
export class CephfsNodeDriver implements NodeDriver, NodeHalf {
  readonly #poolName: string;
  /** Per-volume working directories (transient client files; ceph-fuse's command line names them). */
  readonly #root: string;
  readonly #locks = new KeyedMutex();

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#root = resolve(ctx.dataDir, 'cephfs', ctx.poolName, 'node');
  }

  get node(): NodeDriver {
    return this;
  }

  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {
    // Mounts stay: a restarted agent restores or releases them.
  }

  #clientDir(backendId: string): string {
    return join(this.#root, backendId, 'client');
  }

  async stage(req: StageRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    if (req.volumeMode === 'block') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: cephfs volumes are file systems, not raw block devices`);
    const readOnly = req.readOnly === true;
    const stagingPath = resolve(req.stagingPath);
    await this.#locks.run(req.backendId, async () => {
      const existing = (await this.#mounts(req.backendId)).find((m) => m.mountPoint === stagingPath);
      if (existing) {
        const entry = await findMount(stagingPath);
        if (entry && entry.readOnly !== readOnly) {
          throw new PollyError('INVALID_STATE', `volume ${req.backendId} is already staged ${entry.readOnly ? 'read-only' : 'read-write'} at ${stagingPath}`);
        }
        return;
      }
      if (await findMount(stagingPath)) throw new PollyError('INVALID_STATE', `${stagingPath} is already a mountpoint of something else`);
      await this.#mount(req, stagingPath, readOnly);
    });
  }

  async #mount(req: StageRequest, stagingPath: string, readOnly: boolean): Promise<void> {
    const ctx = req.publishContext ?? {};
    const path = need(ctx, CONTEXT.path, req.backendId);
    const fsName = need(ctx, CONTEXT.fsName, req.backendId);
    const user = need(ctx, CONTEXT.user, req.backendId);
    const monHost = need(ctx, CONTEXT.monHost, req.backendId);
    const node = ctx[CONTEXT.node] ?? '';
    const keyring = ctx[CONTEXT.keyring];
    const key = req.secrets?.nodeKey ?? (keyring === undefined ? req.secrets?.key : undefined);
    if (key === undefined && keyring === undefined) {
      throw new PollyError('VALIDATION_FAILED', `pool ${this.#poolName}: no Ceph key for user ${user} reached this node (pool parameter nodeKey or nodeKeyring)`);
    }
    const client = new CephClient(this.#clientDir(req.backendId), { monHost, user, key, keyring });
    await mkdir(stagingPath, { recursive: true });
    try {
      await client.prepare();
      const metadata = `${CEPHFS_NODE_METADATA}=${node.replace(/[,=]/g, '_')},polly_volume=${req.backendId}`;
      if (await useKernel(ctx[CONTEXT.mounter])) {
        const options = [`name=${user}`, `conf=${client.conf}`, `mds_namespace=${fsName}`, readOnly ? 'ro' : 'rw'];
        if (key !== undefined) options.push(`secretfile=${join(this.#clientDir(req.backendId), 'secret')}`);
        await writeSecretFile(this.#clientDir(req.backendId), key);
        await run('mount', ['-t', 'ceph', `:${path}`, stagingPath, '-o', options.join(',')]);
        return;
      }
      const args = [...client.args(), '-r', path, `--client_mds_namespace=${fsName}`, `--client_metadata=${metadata}`];
      if (readOnly) args.push('-o', 'ro');
      // ceph-fuse returns once the file system is mounted (its daemon keeps the keyring in memory).
      await run('ceph-fuse', [...args, stagingPath], { timeoutMs: 60_000 });
    } finally {
      await client.forget();
      await rm(join(this.#clientDir(req.backendId), 'secret'), { force: true });
    }
  }

  /** This pool's CephFS mounts of a volume (every volume when `backendId` is undefined) on this node. */
  async #mounts(backendId?: string): Promise<VolumeMount[]> {
    const out: VolumeMount[] = [];
    const prefix = `${this.#root}/`;
    const mounted = new Set((await readMountInfo()).filter((e) => e.fsType === 'fuse.ceph-fuse').map((e) => e.mountPoint));
    for (const p of await cephFuseProcesses()) {
      const conf = p.conf;
      if (conf === undefined || !conf.startsWith(prefix)) continue;
      const id = conf.slice(prefix.length).split('/')[0] ?? '';
      if (backendId !== undefined && id !== backendId) continue;
      if (p.mountPoint === undefined || !mounted.has(p.mountPoint)) continue;
      out.push({ backendId: id, mountPoint: p.mountPoint, pid: p.pid });
    }
    for (const e of await readMountInfo()) {
      if (e.fsType !== 'ceph') continue;
      const m = /\/(polly-volume-[^/]+)\//.exec(`${e.source}/`);
      const id = m?.[1]?.slice(CEPHFS_PREFIX.volume.length);
      if (id === undefined || (backendId !== undefined && id !== backendId)) continue;
      // Published bind mounts of the subvolume are not staging mounts (their root is not the subvolume's).
      if (e.root !== '/') continue;
      out.push({ backendId: id, mountPoint: e.mountPoint });
    }
    return out;
  }

  async #stagedAt(backendId: string, stagingPath: string): Promise<MountEntry | undefined> {
    const staging = resolve(stagingPath);
    if (!(await this.#mounts(backendId)).some((m) => m.mountPoint === staging)) return undefined;
    return findMount(staging);
  }

  async unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      const staging = await this.#stagedAt(req.backendId, req.stagingPath);
      if (staging) {
        const busy = (await readMountInfo()).filter((e) => e.device === staging.device && e.mountPoint !== staging.mountPoint);
        if (busy.length > 0) {
          throw new PollyError('INVALID_STATE', `volume ${req.backendId} is still published at ${busy.map((m) => m.mountPoint).join(', ')}; unpublish it first`);
        }
        await this.#unmount(req.backendId, staging.mountPoint);
      }
      if ((await this.#mounts(req.backendId)).length === 0) await rm(join(this.#root, req.backendId), { recursive: true, force: true });
    });
  }

  /**
   * Unmounts one staging mount and waits for its ceph-fuse to exit. A client cut off by a fence cannot
   * flush: after a grace period it is killed (its unflushed writes were refused anyway) and the mount
   * detached lazily.
   */
  async #unmount(backendId: string, mountPoint: string): Promise<void> {
    const pid = (await this.#mounts(backendId)).find((m) => m.mountPoint === mountPoint)?.pid;
    const clean = unmountAll(mountPoint, { lazyFallback: true });
    const done = await Promise.race([clean.then(() => true), sleep(UNMOUNT_WAIT_MS).then(() => false)]);
    if (!done && pid !== undefined) signal(pid, 'SIGKILL');
    await clean.catch(() => undefined);
    if (pid !== undefined) {
      for (let waited = 0; waited < UNMOUNT_WAIT_MS && alive(pid); waited += 50) await sleep(50);
      if (alive(pid)) signal(pid, 'SIGKILL');
    }
  }

  async publish(req: PublishRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    if (req.volumeMode === 'block') throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: cephfs volumes are file systems, not raw block devices`);
    await this.#locks.run(req.backendId, async () => {
      if (!(await this.#stagedAt(req.backendId, req.stagingPath))) throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged at ${req.stagingPath}`);
      await publishByBind({ source: req.stagingPath, target: req.targetPath, readOnly: req.readOnly });
    });
  }

  async unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, () => unpublishTarget(req.targetPath));
  }

  async stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    try {
      await stat(req.path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new PollyError('NOT_FOUND', `pool ${this.#poolName}: ${req.path} does not exist`);
      throw err;
    }
    // With a quota on the mounted root, the client reports the quota as the size (client_quota_df).
    const fs = await fsUsage(req.path);
    return { totalBytes: fs.totalBytes, usedBytes: fs.usedBytes, availableBytes: fs.freeBytes, totalInodes: fs.totalInodes, usedInodes: fs.usedInodes };
  }

  /** Nothing to grow on the node: waits until the client sees the raised quota (the MDS pushes it). */
  async expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    if (!(await this.#stagedAt(req.backendId, req.stagingPath))) return;
    for (let waited = 0; waited < QUOTA_WAIT_MS; waited += 100) {
      if ((await fsUsage(req.stagingPath)).totalBytes >= req.sizeBytes) return;
      await sleep(100);
    }
    throw new PollyError('BACKEND_FAILED', `volume ${req.backendId}: the CephFS client at ${req.stagingPath} still reports less than ${req.sizeBytes} bytes after ${QUOTA_WAIT_MS} ms`);
  }

  async listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    return (await this.#mounts()).map((m) => ({
      backendId: m.backendId,
      description: m.pid === undefined ? `CephFS kernel mount at ${m.mountPoint}` : `ceph-fuse (pid ${m.pid}) mounted at ${m.mountPoint}`,
    }));
  }

  async releaseNodeResources(backendId: string): Promise<void> {
    assertObjectId(this.#poolName, 'volume', backendId);
    await this.#locks.run(backendId, async () => {
      for (const m of await this.#mounts(backendId)) {
        const entry = await findMount(m.mountPoint);
        // Published bind mounts first (deepest last in the table), then the staging mount itself.
        if (entry) {
          for (const e of (await readMountInfo()).filter((x) => x.device === entry.device && x.mountPoint !== m.mountPoint).reverse()) {
            await unmountAll(e.mountPoint, { lazyFallback: true }).catch(() => undefined);
          }
        }
        await this.#unmount(backendId, m.mountPoint);
      }
      await rm(join(this.#root, backendId), { recursive: true, force: true });
    });
  }

  /**
   * Self-fence: every mount of the volume detached in every namespace of this host (no new opens);
   * with nothing left open the ceph-fuse client then unmounts itself and closes its session cleanly
   * (its caps go back to the MDS, so other nodes' clients do not wait for this session to time out).
   * A client still alive after a short grace — files are open — is killed: every open file on its
   * mount then fails (the kernel aborts the FUSE connection), without walking other processes'
   * descriptors (a stat through a hung network mount would hang the fence). A kernel mount has its
   * writers killed instead. (A node whose agent is dead is fenced at the cluster: its sessions are evicted.)
   */
  async selfFence(req: SelfFenceRequest): Promise<void> {
    assertObjectId(this.#poolName, 'volume', req.backendId);
    await this.#locks.run(req.backendId, async () => {
      for (const m of await this.#mounts(req.backendId)) {
        const entry = await findMount(m.mountPoint);
        if (!entry) continue;
        if (m.pid === undefined) await killWritersOnDevice((await stat(m.mountPoint)).dev).catch(() => []);
        await fenceMountsEverywhere((e) => e.device === entry.device);
        await unmountAll(m.mountPoint, { lazyFallback: true }).catch(() => undefined);
        if (m.pid !== undefined) {
          for (let waited = 0; waited < SELF_FENCE_GRACE_MS && alive(m.pid); waited += 50) await sleep(50);
          if (alive(m.pid)) signal(m.pid, 'SIGKILL');
          for (let waited = 0; waited < UNMOUNT_WAIT_MS && alive(m.pid); waited += 50) await sleep(50);
        }
      }
    });
  }
}

const UNMOUNT_WAIT_MS = 5_000;
/** How long a self-fenced ceph-fuse may take to unmount itself before it is killed. */
const SELF_FENCE_GRACE_MS = 2_000;
const QUOTA_WAIT_MS = 10_000;

/** ceph-fuse processes with their `-c` conf and mountpoint (the last argument). */
async function cephFuseProcesses(): Promise<Array<{ pid: number; conf: string | undefined; mountPoint: string | undefined }>> {
  const out: Array<{ pid: number; conf: string | undefined; mountPoint: string | undefined }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').filter((a) => a !== '');
    if (!(argv[0] ?? '').endsWith('ceph-fuse')) continue;
    const c = argv.indexOf('-c');
    const last = argv[argv.length - 1];
    out.push({ pid: Number(entry), conf: c >= 0 ? argv[c + 1] : undefined, mountPoint: last === undefined ? undefined : resolve(last) });
  }
  return out;
}

async function writeSecretFile(dir: string, key: string | undefined): Promise<void> {
  if (key === undefined) return;
  await writeFile(join(dir, 'secret'), key, { mode: 0o600 });
}

/** Whether to mount with the kernel client: it is there (`ceph` in /proc/filesystems) and not ruled out. */
async function useKernel(mounter: string | undefined): Promise<boolean> {
  if (mounter === 'ceph-fuse') return false;
  const has = /\tceph\n/.test(await readFile('/proc/filesystems', 'utf8').catch(() => ''));
  if (mounter === 'kernel' && !has) throw new PollyError('UNSUPPORTED', 'mounter kernel: this kernel has no CephFS client (no "ceph" in /proc/filesystems); use mounter ceph-fuse');
  return has;
}
