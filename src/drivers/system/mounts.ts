import { readFile, rmdir } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { PollyError } from '../../core/errors.js';
import { run, stderrOf } from './exec.js';

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  mountId: number;
  parentId: number;
  /** `major:minor` of the filesystem's device (0:N for virtual filesystems and btrfs). */
  device: string;
  /** The path inside the filesystem that is mounted here ('/' unless it is a bind mount of a subtree). */
  root: string;
  mountPoint: string;
  readOnly: boolean;
  fsType: string;
  source: string;
}

/** `\040`-style octal escapes the kernel uses for spaces, tabs, newlines and backslashes. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const [id, parent, device, root, mountPoint, options] = left;
    if (!id || !parent || !device || !root || !mountPoint || !options) continue;
    entries.push({
      mountId: Number(id),
      parentId: Number(parent),
      device,
      root: unescapeOctal(root),
      mountPoint: unescapeOctal(mountPoint),
      readOnly: options.split(',').includes('ro'),
      fsType: right[0] ?? '',
      source: unescapeOctal(right[1] ?? ''),
    });
  }
  return entries;
}

/** `major:minor` of a stat `dev` (glibc's encoding: 12 bits of major and 20 of minor, split). */
export function deviceNumberOf(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}
/** The mount table of this process's mount namespace, in mount order (later entries cover earlier ones). */
export async function readMountInfo(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at exactly `path`, or undefined when `path` is not a mountpoint. */
export async function findMount(path: string): Promise<MountEntry | undefined> {
  const target = resolve(path);
  const entries = await readMountInfo();
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.mountPoint === target) return entries[i];
  }
  return undefined;
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await findMount(path)) !== undefined;
}

/** Mounts at or below `root`, deepest first (the order in which they can be unmounted). */
export async function mountsUnder(root: string): Promise<MountEntry[]> {
  const base = resolve(root);
  const entries = (await readMountInfo()).filter((m) => m.mountPoint === base || m.mountPoint.startsWith(`${base}/`));
  // Later mounts may sit on top of earlier ones at the same place: reverse mount order within a depth.
  return entries.map((m, i) => ({ m, i })).sort((a, b) => depth(b.m.mountPoint) - depth(a.m.mountPoint) || b.i - a.i).map((x) => x.m);
}

function depth(p: string): number {
  return p.split('/').length;
}

export interface MountOptions {
  fsType?: string | undefined;
  options?: readonly string[] | undefined;
}

/** Mounts a device (or anything `mount` accepts) at `target`. */
export async function mountDevice(source: string, target: string, opts: MountOptions = {}): Promise<void> {
  const args: string[] = [];
  if (opts.fsType) args.push('-t', opts.fsType);
  if (opts.options && opts.options.length > 0) args.push('-o', opts.options.join(','));
  await run('mount', [...args, source, target]);
}

/**
 * Bind-mounts `source` (a directory, file or device node) onto `target`, then makes the bind read-only
 * when asked. If the remount fails the bind is undone, so a read-only request never leaves a writable
 * mount behind.
 */
export async function bindMount(source: string, target: string, opts: { readOnly: boolean }): Promise<void> {
  await run('mount', ['--bind', source, target]);
  if (!opts.readOnly) return;
  try {
    await run('mount', ['-o', 'remount,bind,ro', target]);
  } catch (err) {
    await unmount(target).catch(() => undefined);
    throw err;
  }
}

/** Unmounts the topmost mount at `target`; falls back to a lazy unmount only when asked. */
export async function unmount(target: string, opts: { lazyFallback?: boolean } = {}): Promise<void> {
  try {
    await run('umount', [target]);
  } catch (err) {
    if (/not mounted|no mount point specified/i.test(stderrOf(err))) return;
    if (!opts.lazyFallback) throw err;
    await run('umount', ['-l', target]);
  }
}

/**
 * Detaches every mount stacked at `target` at once (`umount -l`), busy or not, and removes the empty
 * mountpoint directory. The kernel frees a detached mount when its last user lets go.
 */
export async function unmountLazily(target: string): Promise<void> {
  for (let i = 0; i < 16 && (await isMountPoint(target)); i++) await run('umount', ['-l', target]);
  if (await isMountPoint(target)) throw new PollyError('BACKEND_FAILED', `${target} is still mounted after 16 lazy unmounts`);
  await rmdir(target).catch(() => undefined);
}

/** Unmounts every mount stacked at `target` until it is no longer a mountpoint. Not an error when none. */
export async function unmountAll(target: string, opts: { lazyFallback?: boolean } = {}): Promise<void> {
  // Bounded: a mount that cannot go away must fail loudly, not loop forever.
  for (let i = 0; i < 16; i++) {
    if (!(await isMountPoint(target))) return;
    await unmount(target, opts);
  }
  if (await isMountPoint(target)) throw new PollyError('BACKEND_FAILED', `${target} is still mounted after 16 unmounts`);
}

/** A mount whose mounted subtree lies inside a given directory (a bind mount of something in it). */
export interface SubtreeMount {
  entry: MountEntry;
  /** The mounted subtree's path relative to the directory, e.g. `vol-1` or `vol-1/sub`. */
  relativePath: string;
}

/**
 * Mounts anywhere on the host whose source is a subtree of `dir` (bind mounts of a pool's volumes), found
 * by the filesystem's device number and the mounted root in /proc/self/mountinfo. The mount that holds
 * `dir` itself is not included.
 */
export async function mountsOfSubtree(dir: string): Promise<SubtreeMount[]> {
  const entries = await readMountInfo();
  const where = subtreeLocation(dir, entries);
  if (!where) return [];
  const { host, prefix } = where;
  return entries
    .filter((e) => e !== host && e.device === host.device && e.root.startsWith(prefix) && e.root.length > prefix.length)
    .map((entry) => ({ entry, relativePath: entry.root.slice(prefix.length) }));
}

/**
 * Where `dir` lies inside its filesystem: the mount holding it and the path prefix (in that filesystem)
 * of what is below it. The device and path are the same in every mount namespace, so other namespaces'
 * bind mounts of something in `dir` match `{device, root starts with prefix}` too.
 */
export function subtreeLocation(dir: string, entries: MountEntry[]): { host: MountEntry; prefix: string } | undefined {
  const base = resolve(dir);
  let host: MountEntry | undefined;
  for (const e of entries) {
    const inside = e.mountPoint === '/' || base === e.mountPoint || base.startsWith(`${e.mountPoint}/`);
    if (inside && (!host || e.mountPoint.length >= host.mountPoint.length)) host = e;
  }
  if (!host) return undefined;
  const relativeToHost = host.mountPoint === '/' ? base : base.slice(host.mountPoint.length);
  const rootInFs = posix.join(host.root, relativeToHost);
  return { host, prefix: rootInFs === '/' ? '/' : `${rootInFs}/` };
}
