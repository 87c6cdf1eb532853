import { lstat, mkdir, open, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PollyError } from '../../core/errors.js';
import { isErrno } from './errno.js';
import { bindMount, findMount, unmountAll } from './mounts.js';

/**
 * Publishes `source` (a directory, or a block device node) at `target` with a bind mount, creating the
 * target (a directory, or an empty file for a device). Idempotent: a target already bound to the same
 * source with the same read-only flag succeeds; bound to anything else, or with the other flag, is
 * `INVALID_STATE`. Sameness is checked by device and inode, which a bind mount preserves.
 */
export async function publishByBind(req: { source: string; target: string; readOnly: boolean }): Promise<void> {
  let source;
  try {
    source = await stat(req.source);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new PollyError('NOT_FOUND', `${req.source} does not exist`);
    throw err;
  }
  const existing = await findMount(req.target);
  if (existing) {
    const target = await stat(req.target);
    if (target.dev !== source.dev || target.ino !== source.ino) {
      throw new PollyError('INVALID_STATE', `${req.target} is already a mountpoint of ${existing.source}:${existing.root}, not of ${req.source}`);
    }
    if (existing.readOnly !== req.readOnly) {
      const was = existing.readOnly ? 'read-only' : 'read-write';
      throw new PollyError('INVALID_STATE', `${req.target} is already published ${was}; unpublish it before publishing it ${req.readOnly ? 'read-only' : 'read-write'}`);
    }
    return;
  }
  if (source.isDirectory()) {
    await mkdir(req.target, { recursive: true });
  } else {
    await mkdir(dirname(req.target), { recursive: true });
    await (await open(req.target, 'a')).close();
  }
  await bindMount(req.source, req.target, { readOnly: req.readOnly });
}

/**
 * Unmounts whatever is mounted at `target`, then removes the target (directory or file). Not an error
 * when it is absent. A target that is not mounted but still holds files is left alone and reported:
 * those files are somebody's data.
 */
export async function unpublishTarget(target: string): Promise<void> {
  await unmountAll(target);
  try {
    const st = await lstat(target);
    if (st.isDirectory()) await rmdir(target);
    else await unlink(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    if (isErrno(err, 'ENOTEMPTY', 'EEXIST')) {
      throw new PollyError('INVALID_STATE', `${target} is not mounted but not empty; refusing to delete what is in it`);
    }
    throw err;
  }
}
