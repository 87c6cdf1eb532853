import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import type { VolumeMode } from '../../core/ports/driver.js';
import { isSupportedFsType, MIN_FS_BYTES, SUPPORTED_FS_TYPES, type SupportedFsType } from '../system/fs-tools.js';
import { isObjectId } from '../system/object-ids.js';

const MiB = 1024 * 1024;
const SUFFIX = '.img';

/** Where the images of one loopblock pool live: `<root>/volumes/<id>.img` and `<root>/snapshots/<id>.img`. */
export class ImageLayout {
  constructor(readonly root: string) {}

  dir(kind: 'volume' | 'snapshot'): string {
    return join(this.root, `${kind}s`);
  }

  image(kind: 'volume' | 'snapshot', id: string): string {
    return join(this.dir(kind), `${id}${SUFFIX}`);
  }

  /** A hidden name a copy is made under before it is renamed into place. */
  partial(kind: 'volume' | 'snapshot', id: string): string {
    return join(this.dir(kind), `.${id}${SUFFIX}.partial`);
  }

  /** The object id an image file name stands for, or undefined for anything else in the directory. */
  static idOf(fileName: string): string | undefined {
    if (!fileName.endsWith(SUFFIX)) return undefined;
    const id = fileName.slice(0, -SUFFIX.length);
    return isObjectId(id) ? id : undefined;
  }
}

/** The filesystem a filesystem-mode volume gets: the requested one (ext4 by default) if supported. */
export function fsTypeFor(poolName: string, volumeMode: VolumeMode, fsType: string | undefined): SupportedFsType | undefined {
  if (volumeMode === 'block') return undefined;
  const wanted = fsType === undefined || fsType === '' ? 'ext4' : fsType;
  if (!isSupportedFsType(wanted)) {
    throw new PollyError('UNSUPPORTED', `pool ${poolName} (driver loopblock) cannot make a ${wanted} filesystem (supported: ${SUPPORTED_FS_TYPES.join(', ')})`);
  }
  return wanted;
}

/**
 * The image size provisioned for a request: whole MiB (loop devices count 512-byte sectors, filesystems
 * like aligned sizes), and at least what the filesystem's mkfs accepts (300 MiB for xfs).
 */
export function provisionedSize(sizeBytes: number, fsType: SupportedFsType | undefined): number {
  const min = fsType ? MIN_FS_BYTES[fsType] : 0;
  return Math.ceil(Math.max(sizeBytes, min) / MiB) * MiB;
}
