import { spawn } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attachLoop, clearFreedWriteProtection, detachLoop, writeProtectLoop } from '../../src/drivers/system/loop.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** The block device's read-only flag as the kernel reports it (BLKROSET included). */
async function readOnlyFlag(device: string): Promise<string> {
  return (await readFile(`/sys/block/${basename(device)}/ro`, 'utf8')).trim();
}

async function image(): Promise<string> {
  const file = join(await tempDir(cleanup), 'img');
  await writeFile(file, '');
  await truncate(file, 16 * 2 ** 20);
  return file;
}

describe('loop devices a fence write-protected', () => {
  it('are writable again for their next user once Polly detaches them', async () => {
    const device = await attachLoop(await image(), { readOnly: false });
    await writeProtectLoop(device);
    expect(await readOnlyFlag(device)).toBe('1');
    await detachLoop(device);
    // The flag is the block device's, not the attachment's: left set, the next `losetup --find` user of
    // this device (a filesystem mounted from it) would silently get it read-only.
    expect(await readOnlyFlag(device)).toBe('0');
  });

  it('stay write-protected while a holder keeps them, and are cleared once free', async () => {
    const device = await attachLoop(await image(), { readOnly: false });
    const holder = spawn('sh', ['-c', `exec 3<${device}; exec sleep 120`], { stdio: 'ignore' });
    const gone = new Promise((resolve) => holder.once('exit', resolve));
    cleanup.add(async () => {
      holder.kill('SIGKILL');
      await gone;
    });
    // The holder's open is in place once its fd 3 shows up.
    for (let i = 0; i < 100; i++) {
      const fd = await readFile(`/proc/${holder.pid}/fdinfo/3`, 'utf8').catch(() => '');
      if (fd !== '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await writeProtectLoop(device);
    await detachLoop(device);
    // Still held, so still attached (the kernel detaches it at the last close) and still protected: a
    // fenced writer must not get its device back writable.
    await clearFreedWriteProtection();
    expect(await readOnlyFlag(device)).toBe('1');
    holder.kill('SIGKILL');
    await gone;
    for (let i = 0; i < 100; i++) {
      const attached = await readFile(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8').catch(() => undefined);
      if (attached === undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await clearFreedWriteProtection();
    expect(await readOnlyFlag(device)).toBe('0');
  });
});
