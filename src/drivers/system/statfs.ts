import { statfs } from 'node:fs/promises';

/** `f_type` of btrfs (BTRFS_SUPER_MAGIC). */
export const BTRFS_MAGIC = 0x9123683e;

export interface FsUsage {
  /** `f_type`, the filesystem's magic number. */
  type: number;
  totalBytes: number;
  /** Bytes an unprivileged writer may still use (`f_bavail`), the honest "free". */
  freeBytes: number;
  usedBytes: number;
  totalInodes: number;
  usedInodes: number;
}

/** statfs(2) of the filesystem holding `path`, in bytes. */
export async function fsUsage(path: string): Promise<FsUsage> {
  const s = await statfs(path);
  return {
    type: s.type,
    totalBytes: s.blocks * s.bsize,
    freeBytes: s.bavail * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    totalInodes: s.files,
    usedInodes: s.files - s.ffree,
  };
}
