/**
 * P6 snapshot cost (btrfs): time of the driver's `snapshot` of a volume full of data (1 GiB; quick:
 * 256 MiB) ÷ the same for a 1 MiB volume, on the same pool, alternating, median of several. Goal ≤ 2
 * (snapshots are O(1) in the data). Both volumes are filled through their published path and flushed
 * (`sync`) before timing, so no dirty data is charged to a snapshot; each snapshot is deleted and the
 * deletion finished (`btrfs subvolume sync`) before the next. Driven through the driver API.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../src/core/ids.js';
import type { StorageDriver } from '../src/core/ports/driver.js';
import { createDriver } from '../src/drivers/registry.js';
import { Cleanup, createLoopFs } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, median, MiB, msSince, ratioOf, skippedRow } from './harness.js';
import { loopBlocker, timedWrite } from './loop-env.js';

export interface SnapshotCostOptions {
  quick: boolean;
  bigBytes?: number;
  repetitions?: number;
}

const SMALL_BYTES = MiB;

async function filledVolume(cleanup: Cleanup, driver: StorageDriver, scratch: string, sizeBytes: number, label: string): Promise<string> {
  const volumeId = newId('vol');
  cleanup.add(() => driver.delete(volumeId));
  // The data fills the volume; the limit leaves btrfs room for the metadata it charges to the qgroup.
  const created = await driver.create({ volumeId, sizeBytes: sizeBytes + 16 * MiB, volumeMode: 'filesystem' });
  const targetPath = join(scratch, label);
  cleanup.add(() => driver.node.unpublish({ backendId: created.backendId, volumeId, targetPath }));
  await driver.node.stage({ backendId: created.backendId, volumeId, stagingPath: join(scratch, `${label}-staging`), volumeMode: 'filesystem' });
  await driver.node.publish({ backendId: created.backendId, volumeId, stagingPath: join(scratch, `${label}-staging`), targetPath, volumeMode: 'filesystem', readOnly: false });
  // Several files, as a volume in use has.
  const files = sizeBytes >= 64 * MiB ? 8 : 1;
  for (let i = 0; i < files; i++) timedWrite(join(targetPath, `data-${i}.bin`), Math.floor(sizeBytes / files));
  return created.backendId;
}

export async function runSnapshotCostBench(ctx: BenchContext, opts: SnapshotCostOptions): Promise<BenchRow[]> {
  const bigBytes = opts.bigBytes ?? (opts.quick ? 256 * MiB : GiB);
  const repetitions = opts.repetitions ?? (opts.quick ? 3 : 7);
  const name = `P6 btrfs snapshot of ${bigBytes / MiB} MiB volume ÷ of 1 MiB volume`;
  const goal = 'ratio ≤ 2';
  const blocker = loopBlocker(['mkfs.btrfs', 'btrfs']);
  if (blocker !== undefined) return [skippedRow(name, goal, blocker)];

  const cleanup = new Cleanup();
  try {
    ctx.progress(`preparing a btrfs pool with a ${bigBytes / MiB} MiB and a 1 MiB volume`);
    const fsBytes = Math.max(2 * GiB, Math.ceil((1.5 * bigBytes + 768 * MiB) / MiB) * MiB);
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: fsBytes });
    const poolPath = join(fs.path, 'pool');
    mkdirSync(poolPath);
    const scratch = mkdtempSync(join(tmpdir(), 'polly-bench-node-'));
    cleanup.add(async () => rmSync(scratch, { recursive: true, force: true }));
    const driver = createDriver('btrfs', { poolName: 'bench-btrfs', parameters: { path: poolPath }, dataDir: scratch });
    cleanup.add(() => driver.close());
    await driver.init();
    const big = await filledVolume(cleanup, driver, scratch, bigBytes, 'big');
    const small = await filledVolume(cleanup, driver, scratch, SMALL_BYTES, 'small');
    execFileSync('sync');

    const times: Record<'big' | 'small', number[]> = { big: [], small: [] };
    const snapshotOnce = async (which: 'big' | 'small') => {
      const snapshotId = newId('snap');
      cleanup.add(() => driver.deleteSnapshot(snapshotId));
      execFileSync('sync');
      const t = process.hrtime.bigint();
      await driver.snapshot(which === 'big' ? big : small, snapshotId);
      times[which].push(msSince(t));
      await driver.deleteSnapshot(snapshotId);
      execFileSync('btrfs', ['subvolume', 'sync', fs.path]);
    };
    // One untimed round first: the first btrfs calls pay for loading programs and metadata.
    await snapshotOnce('small');
    await snapshotOnce('big');
    times.big.length = 0;
    times.small.length = 0;
    for (let r = 0; r < repetitions; r++) {
      const order: Array<'big' | 'small'> = r % 2 === 0 ? ['small', 'big'] : ['big', 'small'];
      for (const which of order) await snapshotOnce(which);
      ctx.progress(`${r + 1}/${repetitions}: ${bigBytes / MiB} MiB ${times.big.at(-1)!.toFixed(1)} ms, 1 MiB ${times.small.at(-1)!.toFixed(1)} ms`);
    }
    const bigMs = median(times.big);
    const smallMs = median(times.small);
    const ratio = ratioOf(bigMs, smallMs);
    return [
      {
        name,
        polly: bigMs,
        reference: smallMs,
        ratio,
        goal,
        unit: 'ms',
        pass: ratio !== null && ratio <= 2,
        params: {
          bigMiB: bigBytes / MiB,
          smallMiB: SMALL_BYTES / MiB,
          repetitions,
          measured: 'BtrfsDriver.snapshot (read-only subvolume snapshot + qgroup read), data flushed first',
          pool: `btrfs with quotas on a ${fsBytes / MiB} MiB loop file`,
          samples: times,
        },
      },
    ];
  } finally {
    await cleanup.run();
  }
}

export const snapshotCostBenchmark: Benchmark = {
  id: 'P6',
  name: 'snapshot-cost',
  title: 'snapshot cost (btrfs)',
  run: (ctx) => runSnapshotCostBench(ctx, { quick: ctx.quick }),
};
