import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQgroupShow, readQgroups, subvolumeId } from '../../src/drivers/btrfs/btrfs-cli.js';
import { BtrfsDriver } from '../../src/drivers/btrfs/btrfs-driver.js';
import { run } from '../../src/drivers/system/exec.js';
import { Cleanup, createLoopFs, type LoopFs, tempDir } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let fs: LoopFs;
let pool: string;
let driver: BtrfsDriver;

beforeAll(async () => {
  fs = await createLoopFs(cleanup, { fsType: 'btrfs' });
  pool = join(fs.path, 'pool');
  await mkdir(pool);
  driver = new BtrfsDriver({ poolName: 'b', parameters: { path: pool }, dataDir: '/nonexistent' });
  await driver.init();
});
afterAll(() => cleanup.run());

const make = (path: string | undefined) =>
  new BtrfsDriver({ poolName: 'p', parameters: path === undefined ? {} : { path }, dataDir: '/nonexistent' });

describe('btrfs init', () => {
  it('refuses a missing path', async () => {
    const missing = join(fs.path, 'no-such-dir');
    await expect(make(missing).init()).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: `pool p: path ${missing} does not exist` });
  });

  it('refuses a path on another filesystem', async () => {
    const elsewhere = await tempDir(cleanup);
    await expect(make(elsewhere).init()).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: `pool p: path ${elsewhere} is not on a btrfs filesystem`,
    });
  });

  it('refuses a path on a read-only mount, saying so', async () => {
    // Node's recursive mkdir reports EROFS as ENOENT; the pool must name the real problem. (A loop
    // device left write-protected by an earlier fence once mounted a test's pool read-only this way.)
    const readOnly = join(fs.path, 'read-only');
    await mkdir(readOnly);
    await run('mount', ['--bind', readOnly, readOnly]);
    await run('mount', ['-o', 'remount,bind,ro', readOnly]);
    await expect(make(readOnly).init()).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: `pool p: cannot create ${join(readOnly, 'volumes')}: the filesystem is mounted read-only`,
    });
    await run('umount', [readOnly]);
  });

  it('refuses a pool without a path', () => {
    expect(() => make(undefined)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('enables quotas, and a repeat is harmless', async () => {
    await driver.init();
    const { stdout } = await run('btrfs', ['qgroup', 'show', pool]);
    expect(stdout).toContain('0/5');
  });
});

describe('btrfs volumes', () => {
  it('limits a volume with its qgroup, raises the limit on expand, and counts usage at once', async () => {
    await driver.create({ volumeId: 'vol-q', sizeBytes: 40 * MiB, volumeMode: 'filesystem' });
    const dir = join(pool, 'volumes', 'vol-q');
    const id = await subvolumeId(dir);
    expect((await readQgroups(pool)).get(id)?.maxReferencedBytes).toBe(40 * MiB);
    await driver.expand('vol-q', 60 * MiB);
    expect((await readQgroups(pool)).get(id)?.maxReferencedBytes).toBe(60 * MiB);

    const fh = await open(join(dir, 'eight'), 'w');
    await fh.writeFile(Buffer.alloc(8 * MiB, 7));
    await fh.sync();
    await fh.close();
    expect(await driver.usage('vol-q')).toBeGreaterThanOrEqual(8 * MiB);
    expect(await driver.usage('vol-q')).toBeLessThan(9 * MiB);
  });

  it('takes read-only snapshots, and restores into writable subvolumes with their own limit', async () => {
    await driver.create({ volumeId: 'vol-s', sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    await writeFile(join(pool, 'volumes', 'vol-s', 'f'), 'hello');
    await driver.snapshot('vol-s', 'snap-s');
    const snapDir = join(pool, 'snapshots', 'snap-s');
    expect((await run('btrfs', ['property', 'get', snapDir, 'ro'])).stdout.trim()).toBe('ro=true');
    await expect(writeFile(join(snapDir, 'g'), 'no')).rejects.toMatchObject({ code: 'EROFS' });

    await driver.create({ volumeId: 'vol-r', sizeBytes: 48 * MiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: 'snap-s' } });
    const restored = join(pool, 'volumes', 'vol-r');
    await writeFile(join(restored, 'g'), 'yes');
    expect((await readQgroups(pool)).get(await subvolumeId(restored))?.maxReferencedBytes).toBe(48 * MiB);
    await expect(
      driver.create({ volumeId: 'vol-small', sizeBytes: 16 * MiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: 'snap-s' } }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('leaves no qgroup behind when it deletes a subvolume', async () => {
    await driver.create({ volumeId: 'vol-d', sizeBytes: 16 * MiB, volumeMode: 'filesystem' });
    const id = await subvolumeId(join(pool, 'volumes', 'vol-d'));
    await driver.delete('vol-d');
    expect((await readQgroups(pool)).has(id)).toBe(false);
  });
});

describe('parseQgroupShow', () => {
  it('reads the raw text table, with and without limits', () => {
    const text = [
      'Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path ',
      '--------    ----------    ---------  --------------  -------------   ---- ',
      '0/5              16384        16384            none           none   <toplevel>',
      '0/256          9981952        16384        10000000           none   volumes/v1',
      '0/257          9981952        16384        10000000           none   <stale>',
      '1/100                0            0            none           none   <0 member qgroups>',
    ].join('\n');
    const q = parseQgroupShow(text);
    expect([...q.keys()]).toEqual([5, 256, 257]);
    expect(q.get(5)).toEqual({ referencedBytes: 16384, exclusiveBytes: 16384, maxReferencedBytes: undefined });
    expect(q.get(256)).toEqual({ referencedBytes: 9981952, exclusiveBytes: 16384, maxReferencedBytes: 10000000 });
  });
});
