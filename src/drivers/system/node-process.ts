import { readFileSync } from 'node:fs';
import { PollyError } from '../../core/errors.js';
import type { PublishContext } from '../../core/ports/driver.js';

/** Sends a signal to a FUSE client (rbd-fuse, ceph-fuse); one that is gone already is not an error. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A key a networked node half stages from, which the controller half's attach put in the publish context. */
export function need(ctx: PublishContext, key: string, backendId: string): string {
  const v = ctx[key];
  if (v === undefined || v === '') {
    throw new PollyError('VALIDATION_FAILED', `volume ${backendId}: the publish context has no ${key} (attach the volume to this node through the server first)`);
  }
  return v;
}
