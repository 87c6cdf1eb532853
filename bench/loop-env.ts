/**
 * What P4 and P6 need from the host: root, loop devices, mkfs tools, and dropping the page cache; plus
 * sequential I/O helpers that time durable writes and cold reads.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { MiB, msSince } from './harness.js';

function hasProgram(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why loop-mounted filesystems cannot be used here, or undefined when they can. */
export function loopBlocker(programs: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mounts, dropping caches)';
  if (!existsSync('/dev/loop-control')) return 'no loop device support (/dev/loop-control)';
  const missing = ['losetup', 'mount', ...programs].filter((p) => !hasProgram(p));
  if (missing.length > 0) return `missing programs: ${missing.join(', ')} (run \`bash scripts/pretest.sh\`)`;
  return undefined;
}

/** Flushes dirty pages and drops the page cache, dentries and inodes, so the next read comes from the device. */
export function dropCaches(): void {
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

const CHUNK = 4 * MiB;
let chunk: Buffer | undefined;

/** Incompressible data, made once. */
function dataChunk(): Buffer {
  chunk ??= randomFillSync(Buffer.allocUnsafe(CHUNK));
  return chunk;
}

/** Writes `bytes` sequentially to a new file and fsyncs it; MiB/s including the fsync. */
export function timedWrite(file: string, bytes: number): number {
  const buf = dataChunk();
  const start = process.hrtime.bigint();
  const fd = openSync(file, 'w');
  try {
    for (let done = 0; done < bytes; ) {
      const n = writeSync(fd, buf, 0, Math.min(CHUNK, bytes - done));
      done += n;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return bytes / MiB / (msSince(start) / 1000);
}

/** Reads a whole file sequentially (call `dropCaches` first for a cold read); MiB/s. */
export function timedRead(file: string): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  const start = process.hrtime.bigint();
  const fd = openSync(file, 'r');
  let total = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  return total / MiB / (msSince(start) / 1000);
}
