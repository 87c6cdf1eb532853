import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/drivers/system/exec.js';
import { attachLoop, detachLoop, listLoopDevices, mountsOfLoopDevice } from '../../src/drivers/system/loop.js';
import { mountDevice, mountsUnder, unmountAll } from '../../src/drivers/system/mounts.js';

const MiB = 1024 * 1024;

/**
 * Cleanup steps run last-registered-first, all of them even when some fail. Create one per test file, run
 * it from `afterAll`, and register each step *before* the risky action it undoes.
 */
export class Cleanup {
  readonly #steps: Array<() => Promise<void>> = [];

  add(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.#steps.length > 0) {
      try {
        await this.#steps.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several cleanup steps failed');
  }
}

/** A fresh `polly-test-*` directory under the OS temp dir, torn down (mounts, loop devices, files) by `cleanup`. */
export async function tempDir(cleanup: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'polly-test-'));
  cleanup.add(() => teardownTree(dir));
  return dir;
}

export interface LoopFs {
  /** Where the filesystem is mounted. */
  path: string;
  /** The loop device holding it. */
  device: string;
}

/**
 * A real filesystem (btrfs, ext4 or xfs) in a sparse file, attached to a loop device and mounted in a
 * unique temp dir. Its teardown is registered in `cleanup` before anything is attached or mounted.
 */
export async function createLoopFs(cleanup: Cleanup, opts: { fsType: 'btrfs' | 'ext4' | 'xfs'; sizeBytes?: number }): Promise<LoopFs> {
  const dir = await tempDir(cleanup);
  const image = join(dir, 'fs.img');
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  await writeFile(image, '');
  await truncate(image, opts.sizeBytes ?? 512 * MiB);
  if (opts.fsType === 'btrfs') await run('mkfs.btrfs', ['-q', '-f', image]);
  else if (opts.fsType === 'ext4') await run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard', image]);
  else await run('mkfs.xfs', ['-q', '-f', '-K', image]);
  const device = await attachLoop(image, { readOnly: false });
  await mountDevice(device, mnt, { fsType: opts.fsType });
  return { path: mnt, device };
}

/**
 * Removes `root` and everything that hangs off it: first every loop device backed by a file under it
 * (deepest backing file first, each after unmounting whatever is mounted from it, wherever that is), then
 * any mount left under `root` (deepest first, lazily if it is busy), then the files.
 */
export async function teardownTree(root: string): Promise<void> {
  const base = resolve(root);
  const loops = (await listLoopDevices()).filter((d) => d.backingFile.startsWith(`${base}/`));
  loops.sort((a, b) => b.backingFile.length - a.backingFile.length);
  for (const loop of loops) {
    for (const m of await mountsOfLoopDevice(loop.device)) await unmountAll(m.mountPoint, { lazyFallback: true });
    await detachLoop(loop.device);
  }
  for (const m of await mountsUnder(base)) await unmountAll(m.mountPoint, { lazyFallback: true });
  await rm(base, { recursive: true, force: true });
}
