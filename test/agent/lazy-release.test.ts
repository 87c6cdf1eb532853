import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { detachedReferences, inFilesystem } from '../../src/agent/lazy-release.js';
import { findMount, isMountPoint } from '../../src/drivers/system/mounts.js';

/**
 * The lazy-release check on a directory pool: the volume is a directory of a filesystem other processes
 * use too (the host's disk), bind-mounted at the target. Processes of other mount namespaces that hold
 * files of that filesystem outside the volume are not its users; those inside it, or on the lazily
 * detached target, are.
 */
describe('detachedReferences on a directory pool (a bind-mounted directory of a shared filesystem)', () => {
  let dir: string;
  let target: string;
  const holders: ChildProcess[] = [];

  /** A process holding `file` open (fd 3); with `ownNamespace`, in a mount namespace of its own. */
  async function hold(file: string, ownNamespace: boolean): Promise<number> {
    const script = `exec 3<"$0"; echo ready; exec sleep 600`;
    const child = ownNamespace
      ? spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('sh', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    holders.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      child.stdout!.once('data', () => resolve());
    });
    return child.pid!;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'polly-lazy-release-'));
    for (const d of ['pool/vol-1', 'pool/vol-2', 'target']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'pool/vol-1/data'), 'in the volume');
    writeFileSync(join(dir, 'pool/vol-2/data'), 'in another volume of the same pool');
    target = join(dir, 'target');
    execFileSync('mount', ['--bind', join(dir, 'pool/vol-1'), target]);
  });
  afterEach(() => {
    for (const h of holders.splice(0)) h.kill('SIGKILL');
  });
  afterAll(async () => {
    for (const h of holders.splice(0)) h.kill('SIGKILL');
    if (await isMountPoint(target).catch(() => false)) execFileSync('umount', ['-l', target]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a process of another namespace inside the volume, and not one outside it on the same filesystem', async () => {
    const mount = await findMount(target);
    expect(mount?.root).toMatch(/\/pool\/vol-1$/);
    const device = statSync(target).dev;
    expect(statSync(join(dir, 'pool/vol-2')).dev).toBe(device); // one filesystem: the device cannot tell them apart

    const inside = await hold(join(dir, 'pool/vol-1/data'), true);
    const outside = await hold(join(dir, 'pool/vol-2/data'), true);

    const refs = await detachedReferences(device, mount!.root);
    expect(refs).toContain(`pid ${inside} fd 3`);
    expect(refs).not.toContain(`pid ${outside} fd 3`);
    // Without the volume's root every user of the filesystem in another namespace would hold it: the bug
    // that kept a directory-pool volume attached for as long as anything ran in another namespace.
    expect(await detachedReferences(device, '/')).toContain(`pid ${outside} fd 3`);
  });

  it('counts a process of this namespace that holds a file through the lazily unmounted target until it lets go', async () => {
    const mount = await findMount(target);
    const device = statSync(target).dev;
    const viaTarget = await hold(join(target, 'data'), false);
    execFileSync('umount', ['-l', target]);
    expect(await isMountPoint(target)).toBe(false);

    expect(await detachedReferences(device, mount!.root)).toContain(`pid ${viaTarget} fd 3`);
    holders.pop()!.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(await detachedReferences(device, mount!.root)).not.toContain(`pid ${viaTarget} fd 3`);
  });

  it('maps a path below a mount point to its place in the filesystem', () => {
    expect(inFilesystem({ root: '/pool/vol-1', mountPoint: '/data' }, '/data/a/b')).toBe('/pool/vol-1/a/b');
    expect(inFilesystem({ root: '/', mountPoint: '/' }, '/etc/hosts')).toBe('/etc/hosts');
    expect(inFilesystem({ root: '/x', mountPoint: '/data' }, '/elsewhere')).toBeUndefined();
  });
});
