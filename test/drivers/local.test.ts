import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDriver } from '../../src/drivers/local/local-driver.js';
import { bindMount, findMount } from '../../src/drivers/system/mounts.js';
import { pathExists } from '../../src/drivers/system/pool-path.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';

const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let dataDir: string;
let scratch: string;
let driver: LocalDriver;

beforeAll(async () => {
  dataDir = await tempDir(cleanup);
  scratch = await tempDir(cleanup);
  // No `path`: the pool lives under the data directory.
  driver = new LocalDriver({ poolName: 'here', parameters: {}, dataDir });
  await driver.init();
});
afterAll(() => cleanup.run());

const fsReq = (id: string, dir: string) => ({ backendId: id, volumeId: id, stagingPath: join(dir, 'staging'), volumeMode: 'filesystem' as const });

describe('local', () => {
  it('defaults its root to <dataDir>/pools/<pool> and creates it', async () => {
    await driver.create({ volumeId: 'vol-1', sizeBytes: MiB, volumeMode: 'filesystem' });
    expect(await pathExists(join(dataDir, 'pools', 'here', 'volumes', 'vol-1'))).toBe(true);
  });

  it('records sizes, and reports them in list()', async () => {
    await driver.expand('vol-1', 5 * MiB);
    expect(await driver.list()).toContainEqual(expect.objectContaining({ backendId: 'vol-1', kind: 'volume', sizeBytes: 5 * MiB }));
  });

  it('refuses to publish over a target mounted from something else', async () => {
    await driver.create({ volumeId: 'vol-2', sizeBytes: MiB, volumeMode: 'filesystem' });
    const dir = join(scratch, 'other');
    const target = join(dir, 'target');
    await mkdir(target, { recursive: true });
    await bindMount(join(dataDir, 'pools', 'here', 'volumes', 'vol-1'), target, { readOnly: false });
    await expect(driver.node.publish({ ...fsReq('vol-2', dir), targetPath: target, readOnly: false })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await driver.node.unpublish({ backendId: 'vol-1', volumeId: 'vol-1', targetPath: target });
    expect(await pathExists(target)).toBe(false);
  });

  it('leaves an unmounted target that holds files alone', async () => {
    const target = join(scratch, 'stray');
    await mkdir(target);
    await writeFile(join(target, 'precious'), 'data');
    await expect(driver.node.unpublish({ backendId: 'vol-1', volumeId: 'vol-1', targetPath: target })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await readdir(target)).toEqual(['precious']);
  });

  it('finds bind mounts a crash left behind and releases them', async () => {
    const dir = join(scratch, 'crash');
    const targetPath = join(dir, 'target');
    await driver.node.publish({ ...fsReq('vol-2', dir), targetPath, readOnly: true });
    // The agent restarts and knows nothing: the mount is all there is.
    const held = await driver.node.listNodeResources();
    expect(held).toContainEqual({ backendId: 'vol-2', description: expect.stringContaining(targetPath) });
    await driver.node.releaseNodeResources('vol-2');
    expect(await findMount(targetPath)).toBeUndefined();
    expect((await driver.node.listNodeResources()).map((r) => r.backendId)).not.toContain('vol-2');
  });

  it('completes a create that crashed before its size was recorded', async () => {
    await mkdir(join(dataDir, 'pools', 'here', 'volumes', 'vol-half'));
    expect(await driver.create({ volumeId: 'vol-half', sizeBytes: 3 * MiB, volumeMode: 'filesystem' })).toEqual({ backendId: 'vol-half', sizeBytes: 3 * MiB });
    expect(await driver.list()).toContainEqual(expect.objectContaining({ backendId: 'vol-half', sizeBytes: 3 * MiB }));
  });

  it('ignores half-made copies in list() and removes them on delete', async () => {
    const partial = join(dataDir, 'pools', 'here', 'snapshots', '.snap-x.partial');
    await mkdir(partial);
    expect((await driver.list()).map((o) => o.backendId)).not.toContain('.snap-x.partial');
    await driver.deleteSnapshot('snap-x');
    expect(await pathExists(partial)).toBe(false);
  });
});
