import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

const GiB = 1024 ** 3;
let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({
    pools: [
      { name: 'ssd-a', driver: 'fake', parameters: { capacityBytes: String(100 * GiB) }, labels: { media: 'ssd' }, topology: { zone: 'a' } },
      { name: 'ssd-b', driver: 'fake', parameters: { capacityBytes: String(50 * GiB) }, labels: { media: 'ssd' }, topology: { zone: 'b' } },
      { name: 'hdd-a', driver: 'fake', parameters: { capacityBytes: String(500 * GiB) }, labels: { media: 'hdd' }, topology: { zone: 'a' } },
    ],
    profiles: [{ name: 'fast', media: 'ssd', maxBytes: 20 * GiB }],
  });
  token = await newService(polly, 'tenant');
});
afterAll(async () => {
  await polly?.stop();
});

describe('profiles', () => {
  it('the admin creates, reads, changes and deletes profiles; tenants only read', async () => {
    const created = await polly.call('POST', '/v1/profiles', { body: { name: 'archive', media: 'hdd', minBytes: GiB, description: 'cold data' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'archive', media: 'hdd', minBytes: GiB, volumeMode: 'filesystem' });
    expect((await polly.call('POST', '/v1/profiles', { body: { name: 'archive' } })).body.error.code).toBe('PROFILE_EXISTS');
    expect((await polly.call('POST', '/v1/profiles', { token, body: { name: 'mine' } })).status).toBe(403);
    const patched = await polly.call('PATCH', '/v1/profiles/archive', { body: { maxBytes: 100 * GiB } });
    expect(patched.body).toMatchObject({ media: 'hdd', maxBytes: 100 * GiB, description: 'cold data' });
    expect((await polly.call('PATCH', '/v1/profiles/archive', { body: { minBytes: 200 * GiB } })).status).toBe(400);
    const listed = await polly.call('GET', '/v1/profiles', { token });
    expect(listed.body.items.map((p: { name: string }) => p.name)).toEqual(['archive', 'default', 'fast']);

    const v = await polly.call('POST', '/v1/volumes', { token, body: { name: 'cold', sizeBytes: 2 * GiB, profile: 'archive' } });
    expect(v.body.pool).toBe('hdd-a');
    const inUse = await polly.call('DELETE', '/v1/profiles/archive');
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe('PROFILE_IN_USE');
    await polly.call('DELETE', `/v1/volumes/${v.body.id}`, { token });
    expect((await polly.call('DELETE', '/v1/profiles/archive')).status).toBe(204);
    expect((await polly.call('DELETE', '/v1/profiles/default')).status).toBe(409);
  });

  it('a profile restricted to other services does not exist for this one', async () => {
    await polly.call('POST', '/v1/profiles', { body: { name: 'vip', services: ['someone-else'] } });
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'x', sizeBytes: 1, profile: 'vip' } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('PROFILE_NOT_FOUND');
    expect((await polly.call('GET', '/v1/profiles/vip', { token })).status).toBe(404);
  });

  it('sizes outside the profile are refused', async () => {
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'huge', sizeBytes: 30 * GiB, profile: 'fast' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('profile fast');
  });
});

describe('placement', () => {
  it('honours media, topology requisite and preference, and explains itself', async () => {
    // A preference outweighs free space (multiplier 2 against 1) while the service has no volumes yet.
    const pref = await polly.call('POST', '/v1/volumes', { token, body: { name: 'pref-b', sizeBytes: GiB, profile: 'fast', topology: { preferred: ['b'] } } });
    expect(pref.body.pool).toBe('ssd-b');
    const a = await polly.call('POST', '/v1/volumes', { token, body: { name: 'in-b', sizeBytes: GiB, profile: 'fast', topology: { requisite: ['b'] } } });
    expect(a.status).toBe(201);
    expect(a.body.pool).toBe('ssd-b');
    // Without a preference, zone spread and free space send the next one to zone a.
    const spread = await polly.call('POST', '/v1/volumes', { token, body: { name: 'spread', sizeBytes: GiB, profile: 'fast' } });
    expect(spread.body.pool).toBe('ssd-a');

    const explain = await polly.call('POST', '/v1/placement/explain', { token, body: { name: 'what-if', sizeBytes: GiB, profile: 'fast', topology: { requisite: ['a'] } } });
    expect(explain.status).toBe(200);
    expect(explain.body.chosen).toBe('ssd-a');
    const byPool = Object.fromEntries(explain.body.pools.map((p: { pool: string }) => [p.pool, p]));
    expect(byPool['ssd-a']).toMatchObject({ passed: true, rank: 1 });
    expect(byPool['ssd-a'].weights).toBeDefined();
    expect(byPool['ssd-b']).toMatchObject({ passed: false, rejectedBy: { filter: 'topology' } });
    expect(byPool['hdd-a']).toMatchObject({ passed: false, rejectedBy: { filter: 'profile' } });
    // explain creates nothing
    const names = (await polly.call('GET', '/v1/volumes', { token })).body.items.map((v: { name: string }) => v.name);
    expect(names).not.toContain('what-if');
  });

  it('NO_MATCHING_POOL and NO_CAPACITY carry the explain summary', async () => {
    const zone = await polly.call('POST', '/v1/volumes', { token, body: { name: 'nowhere', sizeBytes: GiB, profile: 'fast', topology: { requisite: ['z'] } } });
    expect(zone.status).toBe(422);
    expect(zone.body.error.code).toBe('NO_MATCHING_POOL');
    expect(zone.body.error.message).toMatch(/0 of 3 pools fit.*topology/);
    const big = await polly.call('POST', '/v1/volumes', { token, body: { name: 'too-big', sizeBytes: 600 * GiB } });
    expect(big.status).toBe(507);
    expect(big.body.error.code).toBe('NO_CAPACITY');
    expect(big.body.error.message).toContain('capacity');
  });

  it('a draining pool takes no new volumes; pools are managed at run time', async () => {
    const drain = await polly.call('PATCH', '/v1/pools/ssd-b', { body: { state: 'draining' } });
    expect(drain.status).toBe(200);
    expect(drain.body.state).toBe('draining');
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'no-b', sizeBytes: GiB, pool: 'ssd-b' } });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain('pool-state');
    await polly.call('PATCH', '/v1/pools/ssd-b', { body: { state: 'enabled' } });

    const created = await polly.call('POST', '/v1/pools', { body: { name: 'extra', driver: 'fake', parameters: { capacityBytes: String(GiB) }, labels: { media: 'nvme' } } });
    expect(created.status).toBe(201);
    expect(created.body.capacity.totalBytes).toBe(GiB);
    expect((await polly.call('POST', '/v1/pools', { body: { name: 'extra', driver: 'fake' } })).body.error.code).toBe('POOL_EXISTS');
    const bad = await polly.call('POST', '/v1/pools', { body: { name: 'broken', driver: 'btrfs', path: '/nonexistent/polly' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('broken');
    expect((await polly.call('POST', '/v1/pools', { body: { name: 'weird', driver: 'nope' } })).body.error.message).toContain('unknown driver');
    // Parameters are checked against the driver's declared schema: unknown and malformed keys are named.
    for (const [parameters, key] of [[{ capacity: '20GiB' }, 'capacity'], [{ bogus: '1' }, 'bogus'], [{ capacityBytes: '20GiB' }, 'capacityBytes']] as const) {
      const refused = await polly.call('POST', '/v1/pools', { body: { name: 'typo', driver: 'fake', parameters } });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'INVALID_POOL_PARAMETER', message: expect.stringContaining(`"${key}"`) });
    }
    expect((await polly.call('GET', '/v1/pools/typo')).status).toBe(404);
    expect((await polly.call('POST', '/v1/pools', { token, body: { name: 'mine', driver: 'fake' } })).status).toBe(403);

    const v = await polly.call('POST', '/v1/volumes', { token, body: { name: 'on-extra', sizeBytes: 1000, pool: 'extra' } });
    expect(v.status).toBe(201);
    const busy = await polly.call('DELETE', '/v1/pools/extra');
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('POOL_IN_USE');
    await polly.call('DELETE', `/v1/volumes/${v.body.id}`, { token });
    expect((await polly.call('DELETE', '/v1/pools/extra')).status).toBe(204);
    expect((await polly.call('GET', '/v1/pools/extra')).status).toBe(404);
  });
});

describe('pool parameters in the config file', () => {
  it('a server whose config declares an unknown pool parameter refuses to start, naming pool and key', async () => {
    await expect(startPolly({ pools: [{ name: 'typo', driver: 'fake', parameters: { bogus: '1' } }] })).rejects.toMatchObject({
      code: 'INVALID_POOL_PARAMETER',
      message: 'pool typo: driver fake has no parameter "bogus" (accepted: capacityBytes, latencyMs, disable, storageFence, attach)',
    });
  });
});
