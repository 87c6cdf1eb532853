/**
 * P4 data path: sequential write (with fsync) then cold read (after `sync; echo 3 > drop_caches`) of
 * 512 MiB (quick: 128 MiB) inside a volume that Polly's driver created, staged and published (the path a
 * container sees), ÷ the same on the pool filesystem directly. btrfs: a subvolume with a qgroup limit,
 * bind-mounted; the pool is btrfs in a loop file. loopblock: an image file on the pool filesystem (ext4 in
 * a loop file) attached to a loop device, ext4 made and mounted by the driver, bind-mounted. Goals: ≥ 0.95
 * (btrfs), ≥ 0.8 (loopblock). Polly's side and the reference alternate, several times; the ratio is the
 * median of the per-repetition ratios.
 * Driven through the driver API (`createDriver`, node half `stage`/`publish`), since attachments and the
 * agent do not exist yet.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../src/core/ids.js';
import type { StorageDriver } from '../src/core/ports/driver.js';
import { createDriver } from '../src/drivers/registry.js';
import { Cleanup, createLoopFs } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, median, MiB, skippedRow } from './harness.js';
import { dropCaches, loopBlocker, timedRead, timedWrite } from './loop-env.js';

export interface DataPathOptions {
  quick: boolean;
  sizeBytes?: number;
  repetitions?: number;
}

interface Side {
  write: number[];
  read: number[];
}

type DriverName = 'btrfs' | 'loopblock';

const GOALS: Record<DriverName, number> = { btrfs: 0.95, loopblock: 0.8 };

/** A published volume of `driverName` on a fresh loop-mounted pool filesystem, and that filesystem's path. */
async function publishedVolume(cleanup: Cleanup, driverName: DriverName, sizeBytes: number): Promise<{ volumeDir: string; poolFsDir: string; details: Record<string, unknown> }> {
  const poolFsType = driverName === 'btrfs' ? 'btrfs' : 'ext4';
  // Room for the volume's data, the reference file and the filesystems' own overhead.
  const fsBytes = Math.max(GiB, Math.ceil((2.5 * sizeBytes + 512 * MiB) / MiB) * MiB);
  const fs = await createLoopFs(cleanup, { fsType: poolFsType, sizeBytes: fsBytes });
  const poolPath = join(fs.path, 'pool');
  mkdirSync(poolPath);
  const scratch = mkdtempSync(join(tmpdir(), 'polly-bench-node-'));
  cleanup.add(async () => rmSync(scratch, { recursive: true, force: true }));
  const driver: StorageDriver = createDriver(driverName, { poolName: `bench-${driverName}`, parameters: { path: poolPath }, dataDir: scratch });
  cleanup.add(() => driver.close());
  await driver.init();
  const volumeId = newId('vol');
  // The volume holds the test file plus its filesystem's overhead (loopblock makes ext4 in the image).
  const volumeBytes = driverName === 'btrfs' ? sizeBytes + 64 * MiB : Math.ceil((sizeBytes * 1.2 + 64 * MiB) / MiB) * MiB;
  cleanup.add(() => driver.delete(volumeId));
  const created = await driver.create({ volumeId, sizeBytes: volumeBytes, volumeMode: 'filesystem', fsType: 'ext4' });
  const stagingPath = join(scratch, 'staging');
  const targetPath = join(scratch, 'target');
  cleanup.add(() => driver.node.unstage({ backendId: created.backendId, volumeId, stagingPath }));
  await driver.node.stage({ backendId: created.backendId, volumeId, stagingPath, volumeMode: 'filesystem', fsType: 'ext4' });
  cleanup.add(() => driver.node.unpublish({ backendId: created.backendId, volumeId, targetPath }));
  await driver.node.publish({ backendId: created.backendId, volumeId, stagingPath, targetPath, volumeMode: 'filesystem', readOnly: false });
  const poolFsDir = join(fs.path, 'direct');
  mkdirSync(poolFsDir);
  return {
    volumeDir: targetPath,
    poolFsDir,
    details: {
      poolFilesystem: `${poolFsType} on ${fs.device} (sparse file in ${tmpdir()}, ${fsBytes / MiB} MiB)`,
      volume: driverName === 'btrfs' ? `subvolume, qgroup limit ${volumeBytes / MiB} MiB, bind-mounted` : `${volumeBytes / MiB} MiB image, loop device, ext4, bind-mounted`,
    },
  };
}

function measureOnce(dir: string, bytes: number, side: Side): void {
  const file = join(dir, 'bench.dat');
  dropCaches();
  side.write.push(timedWrite(file, bytes));
  dropCaches();
  side.read.push(timedRead(file));
  unlinkSync(file);
}

async function measureDriver(ctx: BenchContext, driverName: DriverName, bytes: number, repetitions: number): Promise<BenchRow[]> {
  const cleanup = new Cleanup();
  try {
    ctx.progress(`${driverName}: preparing a pool filesystem and a published volume`);
    const { volumeDir, poolFsDir, details } = await publishedVolume(cleanup, driverName, bytes);
    const polly: Side = { write: [], read: [] };
    const direct: Side = { write: [], read: [] };
    for (let r = 0; r < repetitions; r++) {
      // Alternate who goes first, so neither side always meets a colder or warmer machine.
      const order: Array<[string, Side]> = r % 2 === 0 ? [[poolFsDir, direct], [volumeDir, polly]] : [[volumeDir, polly], [poolFsDir, direct]];
      for (const [dir, side] of order) measureOnce(dir, bytes, side);
      ctx.progress(
        `${driverName} ${r + 1}/${repetitions}: volume write ${polly.write.at(-1)!.toFixed(0)} read ${polly.read.at(-1)!.toFixed(0)} MiB/s; ` +
          `pool fs write ${direct.write.at(-1)!.toFixed(0)} read ${direct.read.at(-1)!.toFixed(0)} MiB/s`,
      );
    }
    const params = { sizeMiB: bytes / MiB, repetitions, method: 'write 4 MiB chunks + fsync, then drop caches and read', ...details, samples: { polly, direct } };
    const row = (what: 'write' | 'read'): BenchRow => {
      // Each repetition measures both sides back to back, so their quotient is what shares the disk's
      // weather; the ratio is the median of those quotients (the medians of each side are shown too).
      const ratios = polly[what].map((p, i) => p / direct[what][i]!);
      const ratio = median(ratios);
      return {
        name: `P4 ${driverName} sequential ${what} ${bytes / MiB} MiB`,
        polly: median(polly[what]),
        reference: median(direct[what]),
        ratio,
        goal: `ratio ≥ ${GOALS[driverName]}`,
        unit: 'MiB/s',
        pass: ratio >= GOALS[driverName],
        params: { ...params, ratio: 'median over repetitions of (volume ÷ pool filesystem)', ratios, ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios) },
      };
    };
    return [row('write'), row('read')];
  } finally {
    await cleanup.run();
  }
}

export async function runDataPathBench(ctx: BenchContext, opts: DataPathOptions): Promise<BenchRow[]> {
  const bytes = opts.sizeBytes ?? (opts.quick ? 128 * MiB : 512 * MiB);
  const repetitions = opts.repetitions ?? (opts.quick ? 3 : 7);
  const rows: BenchRow[] = [];
  for (const driverName of ['btrfs', 'loopblock'] as const) {
    const blocker = loopBlocker(driverName === 'btrfs' ? ['mkfs.btrfs', 'btrfs'] : ['mkfs.ext4', 'blkid']);
    if (blocker !== undefined) {
      for (const what of ['write', 'read']) rows.push(skippedRow(`P4 ${driverName} sequential ${what} ${bytes / MiB} MiB`, `ratio ≥ ${GOALS[driverName]}`, blocker));
      continue;
    }
    rows.push(...(await measureDriver(ctx, driverName, bytes, repetitions)));
  }
  return rows;
}

export const dataPathBenchmark: Benchmark = {
  id: 'P4',
  name: 'data-path',
  title: 'data path (btrfs, loopblock)',
  run: (ctx) => runDataPathBench(ctx, { quick: ctx.quick }),
};
