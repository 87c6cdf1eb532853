import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, stderrOf } from './exec.js';
import { deviceNumberOf, type MountEntry, readMountInfo } from './mounts.js';

/** An attached loop device. */
export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  /** The backing file's path as the kernel recorded it when the device was attached. */
  backingFile: string;
  readOnly: boolean;
  /** The backing file was unlinked while attached. */
  backingFileDeleted: boolean;
}

interface LosetupJson {
  loopdevices?: Array<{ name: string; 'back-file': string | null; ro: boolean | string | number; 'back-ino'?: number | string; 'back-maj:min'?: string }>;
}

const DELETED = ' (deleted)';

/**
 * Every attached loop device on this host, read from sysfs (`/sys/block/loopN/loop/backing_file`, `ro`).
 * Not `losetup --list`: that asks every device with an ioctl (LOOP_GET_STATUS64, which takes the
 * device's lock), so one device stuck in a state change would hang every listing on the host; `losetup
 * -a` was seen hanging machine-wide after an rbd-fuse died with its loop attached. sysfs answers without
 * the lock, and a listing is then only file reads.
 */
export async function listLoopDevices(): Promise<LoopDevice[]> {
  const names = (await readdir('/sys/block').catch(() => [] as string[])).filter((n) => /^loop\d+$/.test(n));
  const found = await Promise.all(
    names.map(async (name): Promise<LoopDevice | undefined> => {
      // Only an attached device has `loop/backing_file`.
      const raw = await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => undefined);
      if (raw === undefined) return undefined;
      const ro = await readFile(`/sys/block/${name}/ro`, 'utf8').catch(() => '0');
      const path = raw.replace(/\n$/, '');
      const deleted = path.endsWith(DELETED);
      return { device: `/dev/${name}`, backingFile: deleted ? path.slice(0, -DELETED.length) : path, readOnly: ro.trim() === '1', backingFileDeleted: deleted };
    }),
  );
  return found.filter((d): d is LoopDevice => d !== undefined).sort((a, b) => loopNumber(a.device) - loopNumber(b.device));
}

function loopNumber(device: string): number {
  return Number(/(\d+)$/.exec(device)?.[1] ?? 0);
}

/**
 * Loop devices backed by `file`, matched by device and inode like `losetup -j`; [] when none or no file.
 * The candidates are the devices whose backing path (sysfs) is the file's; only those are asked for the
 * backing inode (an ioctl), so a stuck device elsewhere cannot hang the lookup, and a device of another
 * mount namespace whose path merely reads the same is not taken for this file's.
 */
export async function loopDevicesFor(file: string): Promise<LoopDevice[]> {
  let path: string;
  let st: { dev: number; ino: number };
  try {
    path = await realpath(file);
    st = await stat(path);
  } catch {
    return [];
  }
  const candidates = (await listLoopDevices()).filter((d) => !d.backingFileDeleted && d.backingFile === path);
  const confirmed: LoopDevice[] = [];
  for (const d of candidates) {
    const { stdout } = await run('losetup', ['--list', '--json', '--output', 'NAME,BACK-INO,BACK-MAJ:MIN', d.device], { timeoutMs: 10_000, allowedExitCodes: [1] });
    const info = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as LosetupJson).loopdevices?.[0];
    if (!info || Number(info['back-ino']) !== st.ino) continue;
    const [major, minor] = (info['back-maj:min'] ?? '').trim().split(':').map(Number);
    if (major === undefined || minor === undefined || deviceNumberOf(st.dev) !== `${major}:${minor}`) continue;
    confirmed.push(d);
  }
  return confirmed;
}

/** Attaches `file` to the first free loop device and returns the device path. */
export async function attachLoop(file: string, opts: { readOnly: boolean; directIo?: boolean | undefined }): Promise<string> {
  await clearFreedWriteProtection();
  const args = ['--find', '--show'];
  if (opts.readOnly) args.push('--read-only');
  if (opts.directIo) args.push('--direct-io=on');
  const { stdout } = await run('losetup', [...args, file]);
  const device = stdout.trim();
  // A free loop device keeps a read-only flag someone set on it earlier (`blockdev --setro`, e.g. a
  // self-fence of the volume it backed then); losetup then silently attaches read-only. A writable
  // attachment clears it: the flag belonged to the device's previous volume, not to this one.
  if (!opts.readOnly && (await run('blockdev', ['--getro', device])).stdout.trim() === '1') await run('blockdev', ['--setrw', device]);
  return device;
}

/** Makes the loop device pick up a new size of its backing file. */
export async function refreshLoopSize(device: string): Promise<void> {
  await run('losetup', ['--set-capacity', device]);
}

/**
 * Detaches a loop device. Not an error when it is already gone. When somebody holds the device open at
 * that moment (another `losetup` probing devices, a lazily unmounted filesystem) the kernel only marks it
 * for release when the last user lets go (autoclear): wait a little for that, so that callers that
 * check right after see the device gone in the usual case.
 */
export async function detachLoop(device: string): Promise<void> {
  await clearFreedWriteProtection();
  const before = await backingFileOf(device);
  try {
    await run('losetup', ['--detach', device]);
  } catch (err) {
    if (/No such device|No such file/i.test(stderrOf(err))) return;
    throw err;
  }
  for (let waited = 0; waited < DETACH_WAIT_MS; waited += DETACH_POLL_MS) {
    const now = await backingFileOf(device);
    if (now === undefined) {
      await clearWriteProtection(device);
      return;
    }
    // Already reused for another file: that is someone else's device now.
    if (now !== before) return;
    await sleep(DETACH_POLL_MS);
  }
  // Still held (a lazily unmounted filesystem): the kernel detaches it at the last close.
  writeProtectedUntilFree.add(device);
}

/**
 * Makes a loop device read-only (`blockdev --setro`, the BLKROSET flag): a fence, which stops every
 * writer of the device, raw or through a filesystem, at once.
 *
 * The flag belongs to the block device, not to the attachment, so it outlives the detach: whoever is
 * given that loop device next (any program on the host, `losetup --find` hands out the lowest free
 * one) would get it write-protected, and a filesystem mounted from it would silently come up read-only.
 * `detachLoop` therefore clears it once the device is free, and remembers a device it could not
 * clear yet (still held) for the next attach or detach.
 */
export async function writeProtectLoop(device: string): Promise<void> {
  await run('blockdev', ['--setro', device]);
}

const writeProtectedUntilFree = new Set<string>();

async function clearWriteProtection(device: string): Promise<void> {
  await run('blockdev', ['--setrw', device]).catch(() => undefined);
}

/** Clears the write protection of remembered loop devices that are free by now. */
export async function clearFreedWriteProtection(): Promise<void> {
  for (const device of [...writeProtectedUntilFree]) {
    if ((await backingFileOf(device)) !== undefined) continue;
    writeProtectedUntilFree.delete(device);
    await clearWriteProtection(device);
  }
}

const DETACH_WAIT_MS = 2_000;
const DETACH_POLL_MS = 20;

/** The backing file the kernel has for a loop device, or undefined when it is not attached. */
async function backingFileOf(device: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/class/block/${basename(device)}/loop/backing_file`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Size in bytes of a block device as the kernel sees it now. */
export async function blockDeviceBytes(device: string): Promise<number> {
  return Number((await readFile(`/sys/class/block/${basename(device)}/size`, 'utf8')).trim()) * 512;
}

/** `major:minor` of a block device, as /proc/self/mountinfo spells it. */
export async function deviceNumber(device: string): Promise<string> {
  return (await readFile(`/sys/class/block/${basename(device)}/dev`, 'utf8')).trim();
}

/**
 * Everything mounted from a loop device: filesystems on it (matched by device number) and bind mounts of
 * its device node (a devtmpfs mount whose root is `/loopN`). Deepest mountpoints first.
 */
export async function mountsOfLoopDevice(device: string): Promise<MountEntry[]> {
  let number: string;
  try {
    number = await deviceNumber(device);
  } catch {
    return [];
  }
  const node = `/${basename(device)}`;
  const entries = await readMountInfo();
  return entries
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.device === number || (e.fsType === 'devtmpfs' && e.root === node))
    .sort((a, b) => b.e.mountPoint.length - a.e.mountPoint.length || b.i - a.i)
    .map(({ e }) => e);
}
