import { constants } from 'node:fs';
import { open, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { type MountEntry, parseMountInfo, readMountInfo } from '../drivers/system/mounts.js';

/**
 * After a lazy unmount (`umount -l`) the kernel keeps the detached mount alive for as long as a process
 * holds a file, a working directory or a root in it. Until then the volume is still being written on this
 * node, so it must count as held here: its attachment stays live (no other node gets it) until
 * {@link detachedReferences} finds nobody left.
 *
 * A reference is an open file, cwd or root of any process on the detached mount's filesystem (`st_dev`)
 * that was reached through a mount this mount namespace no longer has (the kernel names the mount in
 * `/proc/<pid>/fdinfo/<fd>` as `mnt_id`). Files opened through a mount that still exists here (the
 * pool's own filesystem, say, deleted files included) are not references. A process of another mount
 * namespace counts when it uses the volume (a container's bind mount of it) or when where it points cannot
 * be told: the check errs on the side of "still held", never the other.
 *
 * `root` is the path inside the filesystem that the unmounted target showed (its mountinfo root: '/' for
 * a filesystem of the volume's own, the volume's directory for a directory pool's bind mount). A file
 * that another namespace reaches through a live mount of its own resolves to a path in the filesystem
 * (that mount's root + the file's path below its mount point); outside `root` it is someone else's file
 * on a shared filesystem (a directory pool on the host's disk), not a user of the volume.
 */
export async function detachedReferences(device: number, root = '/', procRoot = '/proc'): Promise<string[]> {
  const live = new Set((await readMountInfo()).map((m) => m.mountId));
  const found: string[] = [];
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((p) => /^\d+$/.test(p) && p !== String(process.pid));
  } catch {
    return found;
  }
  for (const pid of pids) {
    const base = `${procRoot}/${pid}`;
    let theirs: MountEntry[] | undefined;
    const outside = async (link: string, mountId: number): Promise<boolean> => {
      if (root === '/') return false;
      theirs ??= parseMountInfo(await readFile(`${base}/mountinfo`, 'utf8').catch(() => ''));
      const mount = theirs.find((m) => m.mountId === mountId);
      const where = await readlink(link).catch(() => undefined);
      if (!mount || where === undefined) return false;
      const path = inFilesystem(mount, where.replace(/ \(deleted\)$/, ''));
      return path !== undefined && !within(path, root);
    };
    let fds: string[] = [];
    try {
      fds = await readdir(`${base}/fd`);
    } catch {
      continue; // the process ended
    }
    for (const fd of fds) {
      const dev = (await stat(`${base}/fd/${fd}`).catch(() => undefined))?.dev;
      if (dev !== device) continue;
      const mountId = await fdMountId(`${base}/fdinfo/${fd}`);
      if (mountId !== undefined && (live.has(mountId) || (await outside(`${base}/fd/${fd}`, mountId)))) continue;
      found.push(`pid ${pid} fd ${fd}`);
    }
    for (const link of ['cwd', 'root']) {
      const dev = (await stat(`${base}/${link}`).catch(() => undefined))?.dev;
      if (dev !== device) continue;
      const mountId = await directoryMountId(`${base}/${link}`);
      if (mountId !== undefined && (live.has(mountId) || (await outside(`${base}/${link}`, mountId)))) continue;
      found.push(`pid ${pid} ${link}`);
    }
  }
  return found;
}

async function fdMountId(fdinfo: string): Promise<number | undefined> {
  const text = await readFile(fdinfo, 'utf8').catch(() => '');
  const m = /^mnt_id:\s*(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The mount a process's cwd or root lies on: opened here (a directory: no side effects), then read from our fdinfo. */
async function directoryMountId(path: string): Promise<number | undefined> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
  if (!handle) return undefined;
  try {
    return await fdMountId(`/proc/self/fdinfo/${handle.fd}`);
  } finally {
    await handle.close();
  }
}

/** Where `path` (as a process sees it, below `mount`'s mount point) lies inside the mounted filesystem. */
export function inFilesystem(mount: Pick<MountEntry, 'root' | 'mountPoint'>, path: string): string | undefined {
  const rel = posix.relative(mount.mountPoint, path);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  return posix.join(mount.root, rel);
}

function within(path: string, dir: string): boolean {
  const rel = posix.relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel));
}
