import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  polly = await startPolly((dataDir) => ({ pools: [{ name: 'local', driver: 'local', path: join(dataDir, 'pool') }] }));
  alice = await newService(polly, 'alice');
  bob = await newService(polly, 'bob');
  carol = await newService(polly, 'carol');
});
afterAll(async () => {
  await polly?.stop();
});

const dir = (id: string) => join(polly.dataDir, 'pool', 'volumes', id);

describe('sharing a volume with other services', () => {
  it('a shared volume is visible to the sharee, which cannot change it; revoke takes it back', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'dataset', sizeBytes: 1024 } })).body;
    expect((await polly.call('POST', `/v1/volumes/${v.id}/offer`, { token: alice, body: { services: ['bob'] } })).status).toBe(403);
    const shared = await polly.call('POST', `/v1/volumes/${v.id}/offer`, { body: { services: ['bob'] } });
    expect(shared.status).toBe(200);
    expect(shared.body.items).toEqual([expect.objectContaining({ service: 'bob', access: 'ro' })]);

    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: bob })).body.name).toBe('dataset');
    expect((await polly.call('GET', '/v1/volumes?shared=true', { token: bob })).body.items.map((x: { id: string }) => x.id)).toEqual([v.id]);
    expect((await polly.call('GET', '/v1/volumes', { token: bob })).body.items).toEqual([]);
    for (const [method, path, body] of [
      ['DELETE', `/v1/volumes/${v.id}`, undefined],
      ['PATCH', `/v1/volumes/${v.id}`, { labels: { x: 'y' } }],
      ['POST', `/v1/volumes/${v.id}/snapshots`, { name: 'mine' }],
      ['POST', `/v1/volumes/${v.id}/transfer`, { toService: 'bob' }],
    ] as const) {
      const res = await polly.call(method, path, { token: bob, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    // A service it was not shared with still sees nothing.
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: carol })).status).toBe(404);

    const revoked = await polly.call('POST', `/v1/volumes/${v.id}/revoke`, { body: { services: ['bob'] } });
    expect(revoked.body.items).toEqual([]);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: bob })).status).toBe(404);
  });
});

describe('transfer', () => {
  it('moves a volume and its snapshots to another service, with quotas on both sides', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'moving', sizeBytes: 2048 } })).body;
    const snap = (await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token: alice, body: { name: 'moving-snap' } })).body;
    await polly.call('PUT', '/v1/services/carol/quota', { body: { maxVolumes: 0 } });
    const refused = await polly.call('POST', `/v1/volumes/${v.id}/transfer`, { token: alice, body: { toService: 'carol' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('QUOTA_EXCEEDED');

    const moved = await polly.call('POST', `/v1/volumes/${v.id}/transfer`, { token: alice, body: { toService: 'bob' } });
    expect(moved.status).toBe(200);
    expect(moved.body.service).toBe('bob');
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: alice })).status).toBe(404);
    expect((await polly.call('GET', `/v1/snapshots/${snap.id}`, { token: bob })).body.service).toBe('bob');
    expect((await polly.call('GET', '/v1/services/bob/quota')).body.usage).toMatchObject({ volumes: 1, bytes: 2048, snapshots: 1 });
    const aliceUsage = (await polly.call('GET', '/v1/services/alice/quota')).body.usage;
    expect(aliceUsage.snapshots).toBe(0);

    await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'clash', sizeBytes: 1 } });
    const other = (await polly.call('POST', '/v1/volumes', { token: bob, body: { name: 'clash', sizeBytes: 1 } })).body;
    const clash = await polly.call('POST', `/v1/volumes/${other.id}/transfer`, { token: bob, body: { toService: 'alice' } });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('VOLUME_NAME_TAKEN');
  });
});

describe('import and release', () => {
  it('release forgets a volume but keeps its data; import takes it back under another service', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'legacy', sizeBytes: 4096 } })).body;
    await writeFile(join(dir(v.id), 'precious.txt'), 'do not lose me');
    expect((await polly.call('POST', `/v1/volumes/${v.id}/release`, { token: alice })).status).toBe(403);
    expect((await polly.call('POST', `/v1/volumes/${v.id}/release`)).status).toBe(204);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`)).status).toBe(404);
    expect(await readFile(join(dir(v.id), 'precious.txt'), 'utf8')).toBe('do not lose me');

    const unmanaged = await polly.call('GET', '/v1/pools/local/unmanaged');
    expect(unmanaged.status).toBe(200);
    expect(unmanaged.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ backendId: v.id, kind: 'volume' })]));
    expect((await polly.call('GET', '/v1/pools/local/unmanaged', { token: alice })).status).toBe(403);

    await polly.call('PUT', '/v1/services/carol/quota', { body: {} });
    const imported = await polly.call('POST', '/v1/volumes/import', { body: { pool: 'local', backendId: v.id, service: 'carol', name: 'adopted' } });
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({ service: 'carol', name: 'adopted', pool: 'local', status: 'available' });
    expect((await polly.call('GET', '/v1/pools/local/unmanaged')).body.items.map((o: { backendId: string }) => o.backendId)).not.toContain(v.id);
    expect(await readFile(join(dir(v.id), 'precious.txt'), 'utf8')).toBe('do not lose me');
    const twice = await polly.call('POST', '/v1/volumes/import', { body: { pool: 'local', backendId: v.id, service: 'carol', name: 'adopted-2' } });
    expect(twice.status).toBe(404);

    // Deleting the imported volume deletes the data it adopted.
    expect((await polly.call('DELETE', `/v1/volumes/${imported.body.id}`, { token: carol })).status).toBe(204);
    expect(existsSync(dir(v.id))).toBe(false);
  });
});
