import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let alice: string;
let bob: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  polly = await startPolly((dataDir) => ({
    pools: [
      { name: 'local', driver: 'local', path: join(dataDir, 'pool') },
      { name: 'tiny', driver: 'fake', parameters: { capacityBytes: String(100 * MiB) } },
    ],
  }));
  alice = await newService(polly, 'alice');
  bob = await newService(polly, 'bob');
});
afterAll(async () => {
  await polly?.stop();
});

const volumeDir = (id: string) => join(polly.dataDir, 'pool', 'volumes', id);

describe('volume lifecycle', () => {
  it('creates a real directory, reads it back, relabels it and deletes it', async () => {
    const created = await polly.call('POST', '/v1/volumes', {
      token: alice,
      body: { name: 'data', sizeBytes: 64 * MiB, labels: { app: 'db' }, fields: { owner: 'ops' } },
    });
    expect(created.status).toBe(201);
    const v = created.body;
    expect(v).toMatchObject({ name: 'data', service: 'alice', pool: 'local', sizeBytes: 64 * MiB, status: 'available', labels: { app: 'db' }, fields: { owner: 'ops' } });
    expect(v.id).toMatch(/^vol-/);
    expect(typeof v.createdAt).toBe('string');
    expect(existsSync(volumeDir(v.id))).toBe(true);

    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: alice })).body.id).toBe(v.id);
    const patched = await polly.call('PATCH', `/v1/volumes/${v.id}`, { token: alice, body: { labels: { app: 'db', tier: 'gold' } } });
    expect(patched.status).toBe(200);
    expect(patched.body.labels).toEqual({ app: 'db', tier: 'gold' });
    expect(patched.body.fields).toEqual({ owner: 'ops' });

    const del = await polly.call('DELETE', `/v1/volumes/${v.id}`, { token: alice });
    expect(del.status).toBe(204);
    expect(existsSync(volumeDir(v.id))).toBe(false);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token: alice })).status).toBe(404);
  });

  it('makes the admin name the service, and creates it there', async () => {
    const missing = await polly.call('POST', '/v1/volumes', { body: { name: 'adm', sizeBytes: MiB } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('VALIDATION_FAILED');
    const ok = await polly.call('POST', '/v1/volumes', { body: { name: 'adm', sizeBytes: MiB, service: 'bob' } });
    expect(ok.status).toBe(201);
    expect(ok.body.service).toBe('bob');
    const forbidden = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'x', sizeBytes: MiB, service: 'bob' } });
    expect(forbidden.status).toBe(403);
  });

  it('enforces unique names per service, not across services', async () => {
    expect((await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'shared-name', sizeBytes: MiB } })).status).toBe(201);
    const again = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'shared-name', sizeBytes: MiB } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('VOLUME_NAME_TAKEN');
    expect((await polly.call('POST', '/v1/volumes', { token: bob, body: { name: 'shared-name', sizeBytes: MiB } })).status).toBe(201);
  });
});

describe('bad input never gives a 500', () => {
  const cases: Array<[string, unknown, string]> = [
    ['zero size', { name: 'a', sizeBytes: 0 }, 'VALIDATION_FAILED'],
    ['negative size', { name: 'a', sizeBytes: -5 }, 'VALIDATION_FAILED'],
    ['fractional size', { name: 'a', sizeBytes: 1.5 }, 'VALIDATION_FAILED'],
    ['string size', { name: 'a', sizeBytes: 'ten' }, 'VALIDATION_FAILED'],
    ['huge size', { name: 'a', sizeBytes: 2 ** 60 }, 'VALIDATION_FAILED'],
    ['missing size', { name: 'a' }, 'VALIDATION_FAILED'],
    ['bad name', { name: '../etc', sizeBytes: 1 }, 'VALIDATION_FAILED'],
    ['long name', { name: 'v'.repeat(129), sizeBytes: 1 }, 'VALIDATION_FAILED'],
    ['unknown field', { name: 'a', sizeBytes: 1, colour: 'blue' }, 'VALIDATION_FAILED'],
    ['labels not strings', { name: 'a', sizeBytes: 1, labels: { a: 1 } }, 'VALIDATION_FAILED'],
    ['bad label key', { name: 'a', sizeBytes: 1, labels: { 'bad key!': 'x' } }, 'VALIDATION_FAILED'],
    ['array body', [1, 2], 'VALIDATION_FAILED'],
  ];
  for (const [what, body, code] of cases) {
    it(`${what} → 400 ${code}`, async () => {
      const res = await polly.call('POST', '/v1/volumes', { token: alice, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message.length).toBeGreaterThan(5);
    });
  }

  it('names the unknown field in the message', async () => {
    const res = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'a', sizeBytes: 1, colour: 'blue' } });
    expect(res.body.error.message).toContain('colour');
  });

  it('invalid JSON → 400 INVALID_JSON', async () => {
    const res = await polly.call('POST', '/v1/volumes', { token: alice, raw: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
  });

  it('JSON without a content type is still parsed', async () => {
    const res = await polly.call('POST', '/v1/volumes', { token: alice, raw: JSON.stringify({ name: 'no-ctype', sizeBytes: MiB }) });
    expect(res.status).toBe(201);
  });

  it('unknown pool → 404 POOL_NOT_FOUND, unknown profile → 404 PROFILE_NOT_FOUND', async () => {
    const pool = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'p', sizeBytes: 1, pool: 'nope' } });
    expect(pool.status).toBe(404);
    expect(pool.body.error.code).toBe('POOL_NOT_FOUND');
    const profile = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'p', sizeBytes: 1, profile: 'nope' } });
    expect(profile.status).toBe(404);
    expect(profile.body.error.code).toBe('PROFILE_NOT_FOUND');
  });

  it('a volume that fits nowhere → 507 NO_CAPACITY and nothing is left behind', async () => {
    const res = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'too-big', sizeBytes: 200 * MiB, pool: 'tiny' } });
    expect(res.status).toBe(507);
    expect(res.body.error.code).toBe('NO_CAPACITY');
    const list = await polly.call('GET', '/v1/volumes?pool=tiny', { token: alice });
    expect(list.body.items.filter((v: { name: string }) => v.name === 'too-big')).toEqual([]);
  });

  it('bad query parameters and cursors → 400', async () => {
    expect((await polly.call('GET', '/v1/volumes?limit=0', { token: alice })).status).toBe(400);
    expect((await polly.call('GET', '/v1/volumes?limit=abc', { token: alice })).status).toBe(400);
    expect((await polly.call('GET', '/v1/volumes?status=sleepy', { token: alice })).status).toBe(400);
    expect((await polly.call('GET', '/v1/volumes?label=novalue', { token: alice })).status).toBe(400);
    const cur = await polly.call('GET', '/v1/volumes?cursor=garbage!!', { token: alice });
    expect(cur.status).toBe(400);
    expect(cur.body.error.code).toBe('INVALID_CURSOR');
  });
});

describe('snapshots and restore', () => {
  it('snapshots a volume, restores it with the old bytes, and guards deletes', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'snapme', sizeBytes: 8 * MiB } })).body;
    await writeFile(join(volumeDir(v.id), 'hello.txt'), 'version 1');
    const snap = await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token: alice, body: { name: 'snap1' } });
    expect(snap.status).toBe(201);
    expect(snap.body).toMatchObject({ name: 'snap1', volumeId: v.id, status: 'ready', service: 'alice' });
    await writeFile(join(volumeDir(v.id), 'hello.txt'), 'version 2');

    const listed = await polly.call('GET', `/v1/snapshots?volume=${v.id}`, { token: alice });
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([snap.body.id]);

    const restored = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'restored', sizeBytes: 8 * MiB, fromSnapshot: snap.body.id } });
    expect(restored.status).toBe(201);
    expect(restored.body.source).toEqual({ kind: 'snapshot', id: snap.body.id });
    expect(await readFile(join(volumeDir(restored.body.id), 'hello.txt'), 'utf8')).toBe('version 1');
    expect(await readFile(join(volumeDir(v.id), 'hello.txt'), 'utf8')).toBe('version 2');

    const smaller = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'small', sizeBytes: MiB, fromSnapshot: snap.body.id } });
    expect(smaller.status).toBe(400);

    const dup = await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token: alice, body: { name: 'snap1' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('SNAPSHOT_NAME_TAKEN');

    const busy = await polly.call('DELETE', `/v1/volumes/${v.id}`, { token: alice });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('VOLUME_HAS_SNAPSHOTS');
    expect((await polly.call('DELETE', `/v1/snapshots/${snap.body.id}`, { token: alice })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token: alice })).status).toBe(204);
  });

  it('clones a volume', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'orig', sizeBytes: MiB } })).body;
    await writeFile(join(volumeDir(v.id), 'f'), 'cloned bytes');
    const c = await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'copy', sizeBytes: MiB, fromVolume: v.id } });
    expect(c.status).toBe(201);
    expect(await readFile(join(volumeDir(c.body.id), 'f'), 'utf8')).toBe('cloned bytes');
  });
});

describe('expand', () => {
  it('grows a volume and refuses to shrink it', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token: alice, body: { name: 'grow', sizeBytes: MiB } })).body;
    const grown = await polly.call('POST', `/v1/volumes/${v.id}/expand`, { token: alice, body: { sizeBytes: 2 * MiB } });
    expect(grown.status).toBe(200);
    expect(grown.body.sizeBytes).toBe(2 * MiB);
    const shrink = await polly.call('POST', `/v1/volumes/${v.id}/expand`, { token: alice, body: { sizeBytes: MiB } });
    expect(shrink.status).toBe(400);
  });
});
