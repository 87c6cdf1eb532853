import { stat } from 'node:fs/promises';
import { PollyError } from '../../core/errors.js';
import { run } from '../system/exec.js';
import { isErrno } from '../system/errno.js';

/** The inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_ROOT_INODE = 256;

/** Whether `path` is the root of a btrfs subvolume (false when it does not exist). */
export async function isSubvolume(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.isDirectory() && st.ino === SUBVOLUME_ROOT_INODE;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export async function createSubvolume(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'create', path]);
}

/** Snapshots subvolume `source` as a new subvolume `target` (O(1), shares every extent). */
export async function snapshotSubvolume(source: string, target: string, opts: { readOnly: boolean }): Promise<void> {
  await run('btrfs', ['subvolume', 'snapshot', ...(opts.readOnly ? ['-r'] : []), source, target]);
}

/** Deletes a subvolume and commits, so its space and qgroup are released promptly. */
export async function deleteSubvolume(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'delete', '--commit-after', path]);
}

/** The subvolume id (= level-0 qgroup id) of the subvolume holding `path`. */
export async function subvolumeId(path: string): Promise<number> {
  const { stdout } = await run('btrfs', ['inspect-internal', 'rootid', path]);
  const id = Number(stdout.trim());
  if (!Number.isSafeInteger(id)) throw new PollyError('BACKEND_FAILED', `btrfs inspect-internal rootid ${path}: unexpected output ${JSON.stringify(stdout)}`);
  return id;
}

/** Whether quota groups are enabled on the filesystem holding `path`. */
export async function quotasEnabled(path: string): Promise<boolean> {
  const { exitCode } = await run('btrfs', ['qgroup', 'show', path], { allowedExitCodes: [1] });
  return exitCode === 0;
}

/** Enables quota groups on the filesystem holding `path` (a no-op when they are on). */
export async function enableQuotas(path: string): Promise<void> {
  await run('btrfs', ['quota', 'enable', path]);
  // Existing data is accounted by a rescan; wait for it so that the first usage figures are right.
  await run('btrfs', ['quota', 'rescan', '-w', path]);
}

/** Sets the referenced-bytes limit of the subvolume at `path`. */
export async function setReferencedLimit(path: string, bytes: number): Promise<void> {
  await run('btrfs', ['qgroup', 'limit', String(bytes), path]);
}

/** Removes a level-0 qgroup; `false` when the kernel refused (already gone, or still busy). */
export async function destroyQgroup(subvolId: number, fsPath: string): Promise<boolean> {
  try {
    await run('btrfs', ['qgroup', 'destroy', `0/${subvolId}`, fsPath]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Drops level-0 qgroups whose subvolume is gone: kernels that do not remove them with the subvolume leave
 * them behind, and a destroy right after a delete can be refused while the subvolume is still being
 * cleaned. Best effort.
 */
export async function clearStaleQgroups(fsPath: string): Promise<void> {
  await run('btrfs', ['qgroup', 'clear-stale', fsPath]).catch(() => undefined);
}

/** Commits the current transaction: quota-group numbers read afterwards include every finished write. */
export async function syncFilesystem(path: string): Promise<void> {
  await run('btrfs', ['filesystem', 'sync', path]);
}

export interface Qgroup {
  referencedBytes: number;
  exclusiveBytes: number;
  /** The referenced-bytes limit, or undefined when there is none. */
  maxReferencedBytes: number | undefined;
}

/**
 * Level-0 quota groups of the filesystem holding `path`, by subvolume id. Parsed from
 * `btrfs qgroup show --raw -re` text: the JSON output crashes on the btrfs-progs we target.
 */
export async function readQgroups(path: string): Promise<Map<number, Qgroup>> {
  const { stdout } = await run('btrfs', ['qgroup', 'show', '--raw', '-r', '-e', path]);
  return parseQgroupShow(stdout);
}

export function parseQgroupShow(text: string): Map<number, Qgroup> {
  const out = new Map<number, Qgroup>();
  for (const line of text.split('\n')) {
    // qgroupid  referenced  exclusive  max-referenced  max-exclusive  [path]
    const m = /^0\/(\d+)\s+(\d+)\s+(\d+)\s+(\d+|none)\s+(\d+|none)\b/.exec(line.trim());
    if (!m) continue;
    out.set(Number(m[1]), {
      referencedBytes: Number(m[2]),
      exclusiveBytes: Number(m[3]),
      maxReferencedBytes: m[4] === 'none' ? undefined : Number(m[4]),
    });
  }
  return out;
}

/** Makes a subvolume read-only (or writable again) for every mount of it at once: the storage-level fence. */
export async function setSubvolumeReadOnly(path: string, readOnly: boolean): Promise<void> {
  await run('btrfs', ['property', 'set', '-ts', path, 'ro', String(readOnly)]);
}
