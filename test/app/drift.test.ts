import { execFile } from 'node:child_process';
import { mkdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, createLoopFs, tempDir } from '../helpers/loopfs.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let polly: TestPolly;
let token: string;
const roots: Record<string, string> = {};

beforeAll(async () => {
  roots.sub = (await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 256 * MiB })).path;
  roots.dir = await tempDir(cleanup);
  roots.img = await tempDir(cleanup);
  roots.bare = await tempDir(cleanup);
  polly = await startPolly({
    pools: [
      { name: 'sub', driver: 'btrfs', path: roots.sub },
      { name: 'dir', driver: 'local', path: roots.dir },
      { name: 'img', driver: 'loopblock', path: roots.img },
      { name: 'bare', driver: 'local', path: roots.bare },
    ],
  });
  token = await newService(polly, `drift${process.pid}`);
});
afterAll(async () => {
  await polly?.stop();
  await cleanup.run();
});

// How an operator (or an accident) removes each backend object by hand, and makes a stray one.
const backends = [
  {
    pool: 'sub',
    object: (root: string, id: string) => join(root, 'volumes', id),
    remove: (root: string, id: string) => run('btrfs', ['subvolume', 'delete', join(root, 'volumes', id)]),
    stray: async (root: string, id: string) => void (await run('btrfs', ['subvolume', 'create', join(root, 'volumes', id)])),
  },
  {
    pool: 'dir',
    object: (root: string, id: string) => join(root, 'volumes', id),
    remove: (root: string, id: string) => rm(join(root, 'volumes', id), { recursive: true }),
    stray: async (root: string, id: string) => {
      await mkdir(join(root, 'volumes', id));
      await writeFile(join(root, 'volumes', id, 'data.txt'), 'kept');
    },
  },
  {
    pool: 'img',
    object: (root: string, id: string) => join(root, 'volumes', `${id}.img`),
    remove: (root: string, id: string) => rm(join(root, 'volumes', `${id}.img`)),
    stray: async (root: string, id: string) => {
      await writeFile(join(root, 'volumes', `${id}.img`), '');
      await truncate(join(root, 'volumes', `${id}.img`), 16 * MiB);
    },
  },
] as const;

describe.each(backends)('drift on pool $pool', ({ pool, object, remove, stray }) => {
  it('a volume whose backend object was deleted by hand becomes error with a reason and a volume.drift event', async () => {
    const kept = (await polly.call('POST', '/v1/volumes', { token, body: { name: `kept-${pool}`, sizeBytes: 16 * MiB, pool } })).body;
    const lost = (await polly.call('POST', '/v1/volumes', { token, body: { name: `lost-${pool}`, sizeBytes: 16 * MiB, pool } })).body;
    expect(lost.status).toBe('available');
    expect((await polly.server.app.reconciler.checkDrift()).volumesDrifted).toBe(0);

    await remove(roots[pool]!, lost.id); // drivers name the object after the volume id
    const report = await polly.server.app.reconciler.checkDrift();
    expect(report.volumesDrifted).toBe(1);

    const after = (await polly.call('GET', `/v1/volumes/${lost.id}`, { token })).body;
    expect(after.status).toBe('error');
    expect(after.statusReason).toContain(`is missing from pool ${pool}`);
    expect((await polly.call('GET', `/v1/volumes/${kept.id}`, { token })).body.status).toBe('available');
    const events = (await polly.call('GET', '/v1/events?type=volume.drift', { token })).body.items.filter((e: { objectId: string }) => e.objectId === lost.id);
    expect(events).toEqual([expect.objectContaining({ type: 'volume.drift', objectId: lost.id, data: expect.objectContaining({ pool }) })]);

    // Not flagged twice, and the error volume can still be deleted (the driver's delete of a missing object succeeds).
    expect((await polly.server.app.reconciler.checkDrift()).volumesDrifted).toBe(0);
    expect((await polly.call('DELETE', `/v1/volumes/${lost.id}`, { token })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${kept.id}`, { token })).status).toBe(204);
  });

  it('is undone when the object comes back: the volume is available again with a volume.restored event', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: `away-${pool}`, sizeBytes: 16 * MiB, pool } })).body;
    const path = object(roots[pool]!, v.id);
    await rename(path, `${path}.away`); // an unmounted disk, a backup not yet restored
    try {
      expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ volumesDrifted: 1, volumesRestored: 0 });
      expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body.status).toBe('error');
    } finally {
      await rename(`${path}.away`, path);
    }
    expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ volumesDrifted: 0, volumesRestored: 1 });
    const back = (await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body;
    expect(back.status).toBe('available');
    expect(back.statusReason ?? null).toBeNull();
    const events = (await polly.call('GET', '/v1/events?type=volume.restored', { token })).body.items.filter((e: { objectId: string }) => e.objectId === v.id);
    expect(events).toEqual([expect.objectContaining({ type: 'volume.restored', data: expect.objectContaining({ pool }) })]);
    // Restored once; a later pass finds nothing to do.
    expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ volumesDrifted: 0, volumesRestored: 0 });
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
  });

  it('leaves a volume in error for another reason alone even though its object is there', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: `failed-${pool}`, sizeBytes: 16 * MiB, pool } })).body;
    await polly.server.app.ctx.store.db.updateTable('volumes').set({ status: 'error', status_reason: 'set by the test' }).where('id', '=', v.id).execute();
    expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ volumesDrifted: 0, volumesRestored: 0 });
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body).toMatchObject({ status: 'error', statusReason: 'set by the test' });
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
  });

  it('a stray backend object is reported as unmanaged and can be imported', async () => {
    const id = `stray-${pool}-${process.pid}`;
    await stray(roots[pool]!, id);
    const report = await polly.server.app.reconciler.checkDrift();
    expect(report.unmanaged).toBeGreaterThanOrEqual(1);
    expect(report.volumesDrifted).toBe(0);
    const listed = (await polly.call('GET', `/v1/pools/${pool}/unmanaged`)).body.items;
    expect(listed).toEqual([expect.objectContaining({ backendId: id, kind: 'volume' })]);

    const imported = await polly.call('POST', '/v1/volumes/import', { body: { pool, backendId: id, service: `drift${process.pid}`, name: `imported-${pool}` } });
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({ status: 'available', pool, name: `imported-${pool}` });
    expect((await polly.call('GET', `/v1/pools/${pool}/unmanaged`)).body.items).toEqual([]);
    expect((await polly.server.app.reconciler.checkDrift()).volumesDrifted).toBe(0);
    expect((await polly.call('DELETE', `/v1/volumes/${imported.body.id}`, { token })).status).toBe(204);
  });
});

describe('snapshot drift', () => {
  it('a snapshot whose btrfs subvolume was deleted by hand becomes error with a snapshot.drift event', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'snapped', sizeBytes: 16 * MiB, pool: 'sub' } })).body;
    const snap = (await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token, body: { name: 'snapped-1' } })).body;
    await run('btrfs', ['subvolume', 'delete', join(roots.sub!, 'snapshots', snap.id)]);
    expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ snapshotsDrifted: 1, volumesDrifted: 0 });
    const after = (await polly.call('GET', `/v1/snapshots/${snap.id}`, { token })).body;
    expect(after).toMatchObject({ status: 'error', statusReason: expect.stringContaining('is missing from pool sub') });
    const events = (await polly.call('GET', '/v1/events?type=snapshot.drift', { token })).body.items;
    expect(events).toEqual([expect.objectContaining({ objectId: snap.id, data: expect.objectContaining({ volumeId: v.id }) })]);
    expect((await polly.call('DELETE', `/v1/snapshots/${snap.id}`, { token })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
  });
});

describe('snapshot drift undone', () => {
  it('a snapshot whose subvolume comes back is ready again with a snapshot.restored event', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'snap-away', sizeBytes: 16 * MiB, pool: 'sub' } })).body;
    const snap = (await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token, body: { name: 'snap-away-1' } })).body;
    const path = join(roots.sub!, 'snapshots', snap.id);
    await rename(path, `${path}.away`);
    try {
      expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ snapshotsDrifted: 1 });
    } finally {
      await rename(`${path}.away`, path);
    }
    expect(await polly.server.app.reconciler.checkDrift()).toMatchObject({ snapshotsDrifted: 0, snapshotsRestored: 1 });
    expect((await polly.call('GET', `/v1/snapshots/${snap.id}`, { token })).body.status).toBe('ready');
    const events = (await polly.call('GET', '/v1/events?type=snapshot.restored', { token })).body.items;
    expect(events).toEqual([expect.objectContaining({ objectId: snap.id, data: expect.objectContaining({ volumeId: v.id }) })]);
    expect((await polly.call('DELETE', `/v1/snapshots/${snap.id}`, { token })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
  });
});

describe('a pool that lists nothing', () => {
  it('is skipped, not taken as every volume vanished (an unmounted file system leaves an empty mount point)', async () => {
    const a = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'bare-a', sizeBytes: 16 * MiB, pool: 'bare' } })).body;
    const b = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'bare-b', sizeBytes: 16 * MiB, pool: 'bare' } })).body;
    const volumes = join(roots.bare!, 'volumes');
    await rename(volumes, `${volumes}.away`);
    await mkdir(volumes);
    try {
      expect((await polly.server.app.reconciler.checkDrift()).volumesDrifted).toBe(0);
      for (const v of [a, b]) expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body.status).toBe('available');
    } finally {
      await rm(volumes, { recursive: true });
      await rename(`${volumes}.away`, volumes);
    }
    for (const v of [a, b]) expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
  });
});
