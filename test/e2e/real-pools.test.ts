import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { PollyError } from '../../src/core/errors.js';
import { PollyServer } from '../../src/server.js';
import { Cleanup, createLoopFs, tempDir } from '../helpers/loopfs.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let polly: TestPolly;
let token: string;
let btrfsRoot: string;
let blkRoot: string;

beforeAll(async () => {
  btrfsRoot = (await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 512 * MiB })).path;
  blkRoot = await tempDir(cleanup);
  polly = await startPolly({
    pools: [
      { name: 'fast', driver: 'btrfs', path: btrfsRoot, labels: { media: 'ssd' } },
      { name: 'blk', driver: 'loopblock', path: blkRoot },
    ],
    profiles: [{ name: 'xfs-block', fsType: 'xfs', pools: ['blk'] }],
  });
  token = await newService(polly, 'real');
});
afterAll(async () => {
  await polly?.stop();
  await cleanup.run();
});

describe('real pools through the REST API', () => {
  it('btrfs: a volume is a subvolume with a qgroup limit; snapshot, restore, expand and delete are real', async () => {
    const v = await polly.call('POST', '/v1/volumes', { token, body: { name: 'b1', sizeBytes: 64 * MiB, pool: 'fast' } });
    expect(v.status).toBe(201);
    const dir = join(btrfsRoot, 'volumes', v.body.id);
    const show = await run('btrfs', ['subvolume', 'show', dir]);
    expect(show.stdout).toContain(v.body.id);

    const snap = await polly.call('POST', `/v1/volumes/${v.body.id}/snapshots`, { token, body: { name: 'b1-snap' } });
    expect(snap.status).toBe(201);
    expect((await run('btrfs', ['property', 'get', join(btrfsRoot, 'snapshots', snap.body.id), 'ro'])).stdout.trim()).toBe('ro=true');
    const restored = await polly.call('POST', '/v1/volumes', { token, body: { name: 'b1-restored', sizeBytes: 64 * MiB, fromSnapshot: snap.body.id } });
    expect(restored.status).toBe(201);
    expect(restored.body.pool).toBe('fast');

    expect((await polly.call('POST', `/v1/volumes/${v.body.id}/expand`, { token, body: { sizeBytes: 128 * MiB } })).body.sizeBytes).toBe(128 * MiB);
    const pool = await polly.call('GET', '/v1/pools/fast', { token });
    expect(pool.body.capabilities).toMatchObject({ snapshots: true, clones: true, sizeEnforced: true });
    expect(pool.body.capacity.totalBytes).toBeGreaterThan(400 * MiB);

    await polly.call('DELETE', `/v1/volumes/${restored.body.id}`, { token });
    await polly.call('DELETE', `/v1/snapshots/${snap.body.id}`, { token });
    expect((await polly.call('DELETE', `/v1/volumes/${v.body.id}`, { token })).status).toBe(204);
    expect(existsSync(dir)).toBe(false);
  });

  it('loopblock: a volume is a sparse image; block profiles refuse pools without block support', async () => {
    const v = await polly.call('POST', '/v1/volumes', { token, body: { name: 'l1', sizeBytes: 300 * MiB, profile: 'xfs-block' } });
    expect(v.status).toBe(201);
    expect(v.body.pool).toBe('blk');
    const image = join(blkRoot, 'volumes', `${v.body.id}.img`);
    const st = await stat(image);
    expect(st.size).toBeGreaterThanOrEqual(300 * MiB);
    expect(st.blocks * 512).toBeLessThan(st.size); // sparse
    expect((await polly.call('POST', `/v1/volumes/${v.body.id}/expand`, { token, body: { sizeBytes: 400 * MiB } })).status).toBe(200);
    expect((await stat(image)).size).toBeGreaterThanOrEqual(400 * MiB);
    expect((await polly.call('DELETE', `/v1/volumes/${v.body.id}`, { token })).status).toBe(204);
    expect(existsSync(image)).toBe(false);

    const unsatisfiable = await polly.call('POST', '/v1/profiles', { body: { name: 'raw', volumeMode: 'block', pools: ['fast'] } });
    expect(unsatisfiable.status).toBe(422);
    expect(unsatisfiable.body.error.code).toBe('PROFILE_UNSATISFIABLE');
    expect((await polly.call('POST', '/v1/profiles?force=true', { body: { name: 'raw', volumeMode: 'block', pools: ['fast'] } })).status).toBe(201);
    const refused = await polly.call('POST', '/v1/volumes', { token, body: { name: 'raw1', sizeBytes: MiB, profile: 'raw' } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('NO_MATCHING_POOL');
    expect(refused.body.error.message).toContain('capabilities');
  });
});

describe('pool checks at start', () => {
  it('a pool whose path is missing or on the wrong filesystem stops the server, naming the pool', async () => {
    const dataDir = await tempDir(cleanup);
    for (const [pool, path, why] of [
      ['gone', join(dataDir, 'does-not-exist'), 'does not exist'],
      ['notbtrfs', dataDir, 'btrfs'],
    ] as const) {
      const config = loadConfig({ document: { dataDir, listen: '127.0.0.1:0', pools: [{ name: pool, driver: 'btrfs', path }] }, env: {} });
      const err = await PollyServer.create(config).then(
        () => new Error('expected start-up to fail'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PollyError);
      expect((err as PollyError).message).toContain(`pool ${pool}`);
      expect((err as PollyError).message).toContain(why);
    }
  });
});
