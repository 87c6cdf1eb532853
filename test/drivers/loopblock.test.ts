import { mkdir, open, readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageRequest } from '../../src/core/ports/driver.js';
import { LoopblockDriver } from '../../src/drivers/loopblock/loopblock-driver.js';
import { detectFilesystem } from '../../src/drivers/system/fs-tools.js';
import { attachLoop, loopDevicesFor } from '../../src/drivers/system/loop.js';
import { findMount, mountDevice } from '../../src/drivers/system/mounts.js';
import { Cleanup, createLoopFs, tempDir } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let pool: string;
let driver: LoopblockDriver;
let scratch: string;
let n = 0;

beforeAll(async () => {
  // ext4 underneath: no reflinks, so copies take the sparse-copy path.
  const fs = await createLoopFs(cleanup, { fsType: 'ext4', sizeBytes: 1024 * MiB });
  pool = join(fs.path, 'pool');
  await mkdir(pool);
  driver = new LoopblockDriver({ poolName: 'lb', parameters: { path: pool }, dataDir: '/nonexistent' });
  await driver.init();
  scratch = await tempDir(cleanup);
});
afterAll(() => cleanup.run());

function paths() {
  const dir = join(scratch, `t${++n}`);
  return { stagingPath: join(dir, 'staging'), targetPath: join(dir, 'target') };
}

async function durableWrite(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAt(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const image = (id: string) => join(pool, 'volumes', `${id}.img`);
const hasCapSysResource = async () => {
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
};

describe('loopblock filesystems', () => {
  it('makes ext4 once and never reformats it', async () => {
    await driver.create({ volumeId: 'vol-e', sizeBytes: 32 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const req: StageRequest = { backendId: 'vol-e', volumeId: 'vol-e', volumeMode: 'filesystem', fsType: 'ext4', ...paths() };
    await driver.node.stage(req);
    expect((await findMount(req.stagingPath))?.fsType).toBe('ext4');
    await durableWrite(join(req.stagingPath, 'keep'), Buffer.from('kept'));
    await driver.node.unstage(req);
    expect(await loopDevicesFor(image('vol-e'))).toEqual([]);
    // A stage asking for another filesystem mounts what is there: data is never formatted away.
    await driver.node.stage({ ...req, fsType: 'xfs' });
    expect(await readFile(join(req.stagingPath, 'keep'), 'utf8')).toBe('kept');
    await driver.node.unstage(req);
  });

  it('rounds xfs volumes up to what mkfs.xfs accepts, and refuses unknown filesystems', async () => {
    const made = await driver.create({ volumeId: 'vol-x', sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'xfs' });
    expect(made.sizeBytes).toBe(300 * MiB);
    await expect(driver.create({ volumeId: 'vol-z', sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'zfs' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
  });

  it('keeps images sparse', async () => {
    await driver.create({ volumeId: 'vol-big', sizeBytes: 8 * 1024 * MiB, volumeMode: 'block' });
    expect(await driver.usage('vol-big')).toBeLessThan(MiB);
    await driver.delete('vol-big');
  });

  it('fills up with ENOSPC on ext4', async () => {
    await driver.create({ volumeId: 'vol-full', sizeBytes: 16 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const req: StageRequest = { backendId: 'vol-full', volumeId: 'vol-full', volumeMode: 'filesystem', fsType: 'ext4', ...paths() };
    await driver.node.stage(req);
    try {
      await expect(durableWrite(join(req.stagingPath, 'big'), Buffer.alloc(20 * MiB, 1))).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      await driver.node.unstage(req);
    }
    await driver.delete('vol-full');
  });

  it('grows ext4 offline at the next stage after an expand', async () => {
    await driver.create({ volumeId: 'vol-g', sizeBytes: 32 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const req: StageRequest = { backendId: 'vol-g', volumeId: 'vol-g', volumeMode: 'filesystem', fsType: 'ext4', ...paths() };
    await driver.node.stage(req);
    await durableWrite(join(req.stagingPath, 'keep'), Buffer.from('kept'));
    const before = await statfs(req.stagingPath);
    await driver.node.unstage(req);
    await driver.expand('vol-g', 64 * MiB);
    await driver.node.stage(req);
    const after = await statfs(req.stagingPath);
    expect(after.blocks * after.bsize).toBeGreaterThan(before.blocks * before.bsize + 24 * MiB);
    expect(await readFile(join(req.stagingPath, 'keep'), 'utf8')).toBe('kept');
    await driver.node.unstage(req);
  });

  it('grows ext4 online where the process may (CAP_SYS_RESOURCE), else says how to grow it', async () => {
    await driver.create({ volumeId: 'vol-o', sizeBytes: 32 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const req: StageRequest = { backendId: 'vol-o', volumeId: 'vol-o', volumeMode: 'filesystem', fsType: 'ext4', ...paths() };
    await driver.node.stage(req);
    try {
      const before = await statfs(req.stagingPath);
      await driver.expand('vol-o', 64 * MiB);
      const grow = driver.node.expand({ backendId: 'vol-o', stagingPath: req.stagingPath, sizeBytes: 64 * MiB });
      if (await hasCapSysResource()) {
        await grow;
        const after = await statfs(req.stagingPath);
        expect(after.blocks * after.bsize).toBeGreaterThan(before.blocks * before.bsize + 24 * MiB);
      } else {
        await expect(grow).rejects.toMatchObject({ code: 'BACKEND_FAILED', message: expect.stringContaining('CAP_SYS_RESOURCE') });
      }
    } finally {
      await driver.node.unstage(req);
    }
  });

  it('restores xfs snapshots that mount beside their source (duplicate UUIDs)', async () => {
    await driver.create({ volumeId: 'vol-xs', sizeBytes: 300 * MiB, volumeMode: 'filesystem', fsType: 'xfs' });
    const a: StageRequest = { backendId: 'vol-xs', volumeId: 'vol-xs', volumeMode: 'filesystem', fsType: 'xfs', ...paths() };
    await driver.node.stage(a);
    await durableWrite(join(a.stagingPath, 'f'), Buffer.from('xfs data'));
    await driver.node.unstage(a);
    await driver.snapshot('vol-xs', 'snap-xs');
    await driver.create({ volumeId: 'vol-xr', sizeBytes: 300 * MiB, volumeMode: 'filesystem', fsType: 'xfs', source: { kind: 'snapshot', backendId: 'snap-xs' } });
    const b: StageRequest = { backendId: 'vol-xr', volumeId: 'vol-xr', volumeMode: 'filesystem', fsType: 'xfs', ...paths() };
    await driver.node.stage(a);
    await driver.node.stage(b);
    try {
      expect(await readFile(join(b.stagingPath, 'f'), 'utf8')).toBe('xfs data');
    } finally {
      await driver.node.unstage(b);
      await driver.node.unstage(a);
    }
    for (const id of ['vol-xs', 'vol-xr', 'vol-x']) await driver.delete(id);
    await driver.deleteSnapshot('snap-xs');
  });

  it('refuses to unstage a volume that is still published', async () => {
    await driver.create({ volumeId: 'vol-p', sizeBytes: 16 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const p = paths();
    const req: StageRequest = { backendId: 'vol-p', volumeId: 'vol-p', volumeMode: 'filesystem', fsType: 'ext4', stagingPath: p.stagingPath };
    await driver.node.stage(req);
    await driver.node.publish({ ...req, targetPath: p.targetPath, readOnly: false });
    await expect(driver.node.unstage(req)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await driver.node.unpublish({ ...req, targetPath: p.targetPath });
    await driver.node.unstage(req);
  });
});

describe('loopblock block volumes', () => {
  it('hands over the raw device; a read-only publish refuses writes', async () => {
    await driver.create({ volumeId: 'vol-b', sizeBytes: 16 * MiB, volumeMode: 'block' });
    const p = paths();
    const req = { backendId: 'vol-b', volumeId: 'vol-b', volumeMode: 'block' as const, stagingPath: p.stagingPath };
    await driver.node.stage(req);
    const ro = join(scratch, 'ro-device');
    await driver.node.publish({ ...req, targetPath: p.targetPath, readOnly: false });
    await driver.node.publish({ ...req, targetPath: ro, readOnly: true });
    try {
      const data = Buffer.alloc(4096, 0x5a);
      await writeAt(p.targetPath, data);
      expect((await readFile(ro)).subarray(0, 4096).equals(data)).toBe(true);
      // The kernel refuses writes to a read-only block device with EPERM (at open or at write).
      await expect(writeAt(ro, Buffer.alloc(512, 1))).rejects.toMatchObject({ code: expect.stringMatching(/^(EROFS|EACCES|EPERM)$/) });
      expect(await detectFilesystem((await loopDevicesFor(image('vol-b')))[0]!.device)).toBeUndefined();
      const stats = await driver.node.stats({ backendId: 'vol-b', path: p.targetPath });
      expect(stats.totalBytes).toBe(16 * MiB);
    } finally {
      await driver.node.unpublish({ ...req, targetPath: ro });
      await driver.node.unpublish({ ...req, targetPath: p.targetPath });
      await driver.node.unstage(req);
    }
    expect(await loopDevicesFor(image('vol-b'))).toEqual([]);
  });
});

describe('loopblock node reconciliation', () => {
  it('reuses a loop device it finds attached to the image', async () => {
    await driver.create({ volumeId: 'vol-reuse', sizeBytes: 16 * MiB, volumeMode: 'block' });
    const device = await attachLoop(image('vol-reuse'), { readOnly: false });
    const req = { backendId: 'vol-reuse', volumeId: 'vol-reuse', volumeMode: 'block' as const, ...paths() };
    await driver.node.stage(req);
    expect((await loopDevicesFor(image('vol-reuse'))).map((d) => d.device)).toEqual([device]);
    await driver.node.unstage(req);
    expect(await loopDevicesFor(image('vol-reuse'))).toEqual([]);
  });

  it('lists loop devices and mounts a crash left behind, and releases them', async () => {
    await driver.create({ volumeId: 'vol-crash', sizeBytes: 16 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const stage: StageRequest = { backendId: 'vol-crash', volumeId: 'vol-crash', volumeMode: 'filesystem', fsType: 'ext4', ...paths() };
    await driver.node.stage(stage); // makes the filesystem
    await driver.node.unstage(stage);
    // The "crash": a loop device attached and mounted by hand, no record of it anywhere.
    const device = await attachLoop(image('vol-crash'), { readOnly: false });
    const where = join(scratch, 'crash-mount');
    await mkdir(where);
    await mountDevice(device, where, { fsType: 'ext4' });
    await writeFile(join(where, 'f'), 'x');

    const held = await driver.node.listNodeResources();
    expect(held).toContainEqual({ backendId: 'vol-crash', description: expect.stringContaining(device) });
    expect(held.find((r) => r.backendId === 'vol-crash')?.description).toContain(where);

    await driver.node.releaseNodeResources('vol-crash');
    await driver.node.releaseNodeResources('vol-crash');
    expect(await findMount(where)).toBeUndefined();
    expect(await loopDevicesFor(image('vol-crash'))).toEqual([]);
    expect((await driver.node.listNodeResources()).map((r) => r.backendId)).not.toContain('vol-crash');
  });

  it('releases devices whose image was deleted while attached', async () => {
    await driver.create({ volumeId: 'vol-gone', sizeBytes: 16 * MiB, volumeMode: 'block' });
    const device = await attachLoop(image('vol-gone'), { readOnly: false });
    await driver.delete('vol-gone');
    expect(await driver.node.listNodeResources()).toContainEqual({ backendId: 'vol-gone', description: expect.stringContaining('image deleted') });
    await driver.node.releaseNodeResources('vol-gone');
    expect((await driver.node.listNodeResources()).map((r) => r.backendId)).not.toContain('vol-gone');
    expect(device).toMatch(/^\/dev\/loop\d+$/);
  });
});
