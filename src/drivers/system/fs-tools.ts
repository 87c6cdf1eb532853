import { PollyError } from '../../core/errors.js';
import { run, stderrOf } from './exec.js';

/** Filesystems the block-backed drivers can put on a device. */
export const SUPPORTED_FS_TYPES = ['ext4', 'xfs'] as const;
export type SupportedFsType = (typeof SUPPORTED_FS_TYPES)[number];

export function isSupportedFsType(fsType: string): fsType is SupportedFsType {
  return (SUPPORTED_FS_TYPES as readonly string[]).includes(fsType);
}

/** The smallest device each filesystem's mkfs accepts (mkfs.xfs ≥ 5.19 refuses anything under 300 MB). */
export const MIN_FS_BYTES: Record<SupportedFsType, number> = {
  ext4: 1024 * 1024,
  xfs: 300 * 1024 * 1024,
};

/** The filesystem type on a device (probed, bypassing blkid's cache), or undefined when it holds none. */
export async function detectFilesystem(device: string): Promise<string | undefined> {
  // Exit 2: nothing recognisable on the device.
  const { stdout, exitCode } = await run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], { allowedExitCodes: [2] });
  const type = stdout.trim();
  return exitCode === 0 && type !== '' ? type : undefined;
}

/** Creates a filesystem on a device that holds none; callers check with `detectFilesystem` first. */
export async function makeFilesystem(device: string, fsType: SupportedFsType): Promise<void> {
  if (fsType === 'ext4') {
    // No lazy init: the background zeroing thread would write for seconds after mount and skew usage.
    await run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard', device]);
  } else {
    await run('mkfs.xfs', ['-q', '-K', device]);
  }
}

const EXT_TYPES = ['ext2', 'ext3', 'ext4'];

/**
 * Grows a mounted filesystem to fill its device. A no-op when it already does. Online ext4 growth needs
 * CAP_SYS_RESOURCE; without it the error says so, and `growExtOffline` before the next mount does the job.
 */
export async function growFilesystem(opts: { device: string; mountPoint: string; fsType: string }): Promise<void> {
  if (EXT_TYPES.includes(opts.fsType)) {
    try {
      await run('resize2fs', [opts.device]);
    } catch (err) {
      if (/Permission denied to resize/.test(stderrOf(err))) {
        throw new PollyError(
          'BACKEND_FAILED',
          `online resize of the ${opts.fsType} filesystem on ${opts.device} was refused: this process lacks CAP_SYS_RESOURCE; unstage and stage the volume again to grow it offline`,
        );
      }
      throw err;
    }
  } else if (opts.fsType === 'xfs') {
    await run('xfs_growfs', ['-d', opts.mountPoint]);
  } else {
    throw new PollyError('UNSUPPORTED', `cannot grow a ${opts.fsType} filesystem on ${opts.device}`);
  }
}

/** Size in bytes of the ext2/3/4 filesystem on an unmounted device (from its superblock). */
export async function extFilesystemBytes(device: string): Promise<number> {
  const { stdout } = await run('dumpe2fs', ['-h', device]);
  const count = /^Block count:\s+(\d+)/m.exec(stdout)?.[1];
  const size = /^Block size:\s+(\d+)/m.exec(stdout)?.[1];
  if (count === undefined || size === undefined) throw new PollyError('BACKEND_FAILED', `dumpe2fs -h ${device}: no block count or block size`);
  return Number(count) * Number(size);
}

/**
 * Grows the ext2/3/4 filesystem on an unmounted device to fill it, when the device is larger (after an
 * expand while it was not mounted). resize2fs insists on a fresh check first; e2fsck's exit 1 means it
 * fixed something and is fine.
 */
export async function growExtOffline(device: string, deviceBytes: number): Promise<void> {
  if ((await extFilesystemBytes(device)) >= deviceBytes) return;
  await run('e2fsck', ['-f', '-p', device], { allowedExitCodes: [1] });
  await run('resize2fs', [device]);
}

export function isExtFilesystem(fsType: string): boolean {
  return EXT_TYPES.includes(fsType);
}

/** Apparent size in bytes of everything under `path` (`du -sb`). */
export async function diskUsage(path: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', path]);
  const bytes = Number(stdout.split('\t')[0]);
  if (!Number.isSafeInteger(bytes)) throw new PollyError('BACKEND_FAILED', `du -sb ${path}: unexpected output ${JSON.stringify(stdout)}`);
  return bytes;
}

/**
 * Copies a file or directory tree preserving everything (`cp -a`), sharing extents where the filesystem
 * can (`--reflink=auto`: btrfs, xfs) and keeping holes in sparse files. `target` must not exist.
 */
export async function copyTree(source: string, target: string): Promise<void> {
  await run('cp', ['-a', '--reflink=auto', '--sparse=always', '--no-target-directory', source, target]);
}
