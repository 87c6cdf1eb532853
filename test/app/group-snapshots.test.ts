import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollyError } from '../../src/core/errors.js';
import type { FakeDriver } from '../../src/drivers/fake/fake-driver.js';
import { insertGroupSnapshot } from '../../src/store/repos/group-snapshots.js';
import { insertSnapshot } from '../../src/store/repos/snapshots.js';
import { Cleanup, createLoopFs } from '../helpers/loopfs.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const cleanup = new Cleanup();
let polly: TestPolly;
let token: string;
let root: string;
let fake: FakeDriver;

async function volume(name: string, pool: string): Promise<{ id: string; backendId: string }> {
  const res = await polly.call('POST', '/v1/volumes', { token, body: { name, sizeBytes: 16 * MiB, pool } });
  if (res.status !== 201) throw new Error(`volume ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const v = await polly.server.app.volumes.get({ kind: 'service', service: res.body.service }, res.body.id);
  return { id: v.id, backendId: v.backendId };
}

beforeAll(async () => {
  root = (await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 256 * MiB })).path;
  polly = await startPolly({
    pools: [
      { name: 'sub', driver: 'btrfs', path: root },
      { name: 'mem', driver: 'fake', parameters: { capacityBytes: String(1 << 30) } },
    ],
  });
  token = await newService(polly, `groups${process.pid}`);
  fake = polly.server.app.ctx.drivers.get('mem') as FakeDriver;
});
afterAll(async () => {
  await polly?.stop();
  await cleanup.run();
});

describe('group snapshots on btrfs', () => {
  it('cuts one read-only subvolume snapshot per volume, restorable, listed and deleted with the group', async () => {
    const data = await volume('gs-data', 'sub');
    const wal = await volume('gs-wal', 'sub');
    await writeFile(join(root, 'volumes', data.backendId, 'table'), 'rows v1');
    await writeFile(join(root, 'volumes', wal.backendId, 'log'), 'wal v1');

    const res = await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'nightly', volumes: [data.id, wal.id] } });
    expect(res.status).toBe(201);
    const g = res.body;
    expect(g).toMatchObject({ name: 'nightly', status: 'ready', volumeIds: [data.id, wal.id] });
    expect(g.snapshots.map((s: { volumeId: string }) => s.volumeId)).toEqual([data.id, wal.id]);
    for (const s of g.snapshots) expect(s).toMatchObject({ status: 'ready', groupId: g.id, pool: 'sub' });

    // Real btrfs snapshots: read-only subvolumes holding the data as it was when cut.
    const [sData, sWal] = g.snapshots as Array<{ id: string }>;
    await writeFile(join(root, 'volumes', data.backendId, 'table'), 'rows v2');
    expect(await readFile(join(root, 'snapshots', sData!.id, 'table'), 'utf8')).toBe('rows v1');
    expect(await readFile(join(root, 'snapshots', sWal!.id, 'log'), 'utf8')).toBe('wal v1');
    const ro = await run('btrfs', ['property', 'get', '-ts', join(root, 'snapshots', sData!.id), 'ro']);
    expect(ro.stdout.trim()).toBe('ro=true');

    // Idempotent by name; the same name over other volumes is a conflict.
    const again = await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'nightly', volumes: [wal.id, data.id] } });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(g.id);
    const clash = await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'nightly', volumes: [data.id] } });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('GROUP_SNAPSHOT_NAME_TAKEN');

    // A member restores like any snapshot, but is deleted only with its group.
    const restored = await polly.call('POST', '/v1/volumes', { token, body: { name: 'gs-restored', sizeBytes: 16 * MiB, fromSnapshot: sData!.id } });
    expect(restored.status).toBe(201);
    const alone = await polly.call('DELETE', `/v1/snapshots/${sData!.id}`, { token });
    expect(alone.status).toBe(409);
    expect(alone.body.error.code).toBe('SNAPSHOT_BUSY');

    const list = await polly.call('GET', '/v1/group-snapshots', { token });
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(g.id);
    expect((await polly.call('DELETE', `/v1/group-snapshots/${g.id}`, { token })).status).toBe(204);
    expect((await polly.call('GET', `/v1/group-snapshots/${g.id}`, { token })).status).toBe(404);
    for (const s of g.snapshots as Array<{ id: string }>) {
      await expect(stat(join(root, 'snapshots', s.id))).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await polly.call('GET', `/v1/snapshots/${s.id}`, { token })).status).toBe(404);
    }
    const types = (await polly.call('GET', `/v1/events?object=${g.id}`, { token })).body.items.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['group_snapshot.creating', 'group_snapshot.created', 'group_snapshot.deleting', 'group_snapshot.deleted']));
  });

  it('another service does not see the group, and cannot put its volumes in one', async () => {
    const mine = await volume('gs-private', 'sub');
    const g = await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'private', volumes: [mine.id] } });
    const other = await newService(polly, `others${process.pid}`);
    expect((await polly.call('GET', `/v1/group-snapshots/${g.body.id}`, { token: other })).status).toBe(404);
    const steal = await polly.call('POST', '/v1/group-snapshots', { token: other, body: { name: 'steal', volumes: [mine.id] } });
    expect(steal.status).toBe(404);
  });
});

describe('all or nothing', () => {
  it('when one member fails, the members already cut are deleted and no row is left', async () => {
    const a = await volume('gs-mixed-a', 'sub');
    const b = await volume('gs-mixed-b', 'mem');
    const before = await readdir(join(root, 'snapshots'));
    fake.failNext('snapshot', new PollyError('BACKEND_FAILED', 'snapshot refused'));
    const res = await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'half', volumes: [a.id, b.id] } });
    expect(res.status).toBe(502);
    expect(res.body.error.message).toContain('snapshot refused');
    expect((await polly.call('GET', `/v1/snapshots?volume=${a.id}`, { token })).body.items).toEqual([]);
    expect((await polly.call('GET', `/v1/snapshots?volume=${b.id}`, { token })).body.items).toEqual([]);
    expect(await readdir(join(root, 'snapshots'))).toEqual(before);
    const groups = await polly.call('GET', '/v1/group-snapshots', { token });
    expect(groups.body.items.map((x: { name: string }) => x.name)).not.toContain('half');
    // The name is free again.
    expect((await polly.call('POST', '/v1/group-snapshots', { token, body: { name: 'half', volumes: [a.id, b.id] } })).status).toBe(201);
  });

  it('a creation a crash interrupted is rolled back by the reconciler: cut members deleted, rows gone', async () => {
    const a = await volume('gs-crash-a', 'sub');
    const b = await volume('gs-crash-b', 'sub');
    const app = polly.server.app;
    const service = `groups${process.pid}`;
    const at = new Date().toISOString();
    const group = { id: 'gsnap-00000000crash0000000000000001', name: 'crashed', service, volumeIds: [a.id, b.id], status: 'creating' as const, statusReason: null, createdAt: at, snapshots: [] };
    const members = [a, b].map((v, i) => ({
      id: `snap-00000000crash000000000000000${i}`,
      name: `${group.id}-${i}`,
      service,
      volumeId: v.id,
      pool: 'sub',
      sizeBytes: 16 * MiB,
      status: 'creating' as const,
      statusReason: null,
      backendId: '',
      createdAt: at,
      groupId: group.id,
    }));
    // What a server that died mid-create leaves: its intent rows, and the first member already cut.
    await app.ctx.store.transaction(async (trx) => {
      await insertGroupSnapshot(trx, group, 'dead-incarnation');
      for (const m of members) await insertSnapshot(trx, m, 'dead-incarnation');
    });
    await (await app.pools.driver('sub')).snapshot(a.backendId, members[0]!.id);
    expect((await stat(join(root, 'snapshots', members[0]!.id))).isDirectory()).toBe(true);

    const report = await app.reconciler.run();
    expect(report.groupSnapshotsRolledBack).toBe(1);
    await expect(stat(join(root, 'snapshots', members[0]!.id))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await polly.call('GET', `/v1/group-snapshots/${group.id}`, { token })).status).toBe(404);
    expect((await polly.call('GET', `/v1/snapshots?volume=${a.id}`, { token })).body.items).toEqual([]);
    const failed = await polly.call('GET', `/v1/events?type=group_snapshot.create_failed`, { token });
    expect(failed.body.items.at(-1)).toMatchObject({ objectId: group.id });
    // The volumes can be deleted: nothing holds them.
    expect((await polly.call('DELETE', `/v1/volumes/${a.id}`, { token })).status).toBe(204);
  });
});
