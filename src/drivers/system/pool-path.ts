import { mkdir, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PollyError } from '../../core/errors.js';
import { isErrno } from './errno.js';

/**
 * The pool's `path` parameter as an absolute path (a relative one is taken from the working directory, like
 * the data directory); `VALIDATION_FAILED` when it is missing and there is no default.
 */
export function poolPathParameter(poolName: string, parameters: Record<string, string>, fallback?: string): string {
  const path = parameters.path ?? fallback;
  if (path === undefined || path === '') throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: parameter "path" is required`);
  return resolve(path);
}

/**
 * Resolves an existing pool directory to its canonical path (symlinks resolved, so that comparisons with
 * paths the kernel reports hold). `VALIDATION_FAILED` naming the problem when it is missing or a file.
 */
export async function resolvePoolDir(poolName: string, path: string, opts: { create: boolean }): Promise<string> {
  if (opts.create) await makePoolDirs(poolName, [path]);
  try {
    const st = await stat(path);
    if (!st.isDirectory()) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: path ${path} is not a directory`);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: path ${path} does not exist`);
    if (isErrno(err, 'ENOTDIR')) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: path ${path} is not a directory`);
    throw err;
  }
  return realpath(path);
}

/**
 * `mkdir -p` that says why it failed. Node's recursive mkdir reports any failure other than a missing
 * parent as the `stat` that follows it: a directory it cannot create on a read-only filesystem comes out
 * as ENOENT (seen when a pool's filesystem had been mounted read-only from a loop device left
 * write-protected). A plain mkdir of the same path then gives the real error.
 */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    try {
      await mkdir(path);
    } catch (plain) {
      if (isErrno(plain, 'EEXIST')) return;
      throw isErrno(plain, 'ENOENT') ? err : plain;
    }
  }
}

/**
 * Creates a pool's directories; a filesystem that is read-only or not writable is the pool's
 * configuration problem (`VALIDATION_FAILED` naming it), not an internal error.
 */
export async function makePoolDirs(poolName: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    try {
      await makeDirectory(path);
    } catch (err) {
      if (isErrno(err, 'EROFS')) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: cannot create ${path}: the filesystem is mounted read-only`);
      if (isErrno(err, 'EACCES', 'EPERM')) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: cannot create ${path}: permission denied`);
      if (isErrno(err, 'ENOTDIR')) throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: cannot create ${path}: a part of it is a file`);
      throw err;
    }
  }
}

/** Whether something exists at `path` (without following a final symlink's absence as an error). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}
