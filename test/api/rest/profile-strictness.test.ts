import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake', labels: { media: 'ssd' } }] });
  token = await newService(polly, 'prof');
});
afterAll(async () => {
  await polly?.stop();
});

const patch = (body: unknown, name = 'default', q = '') => polly.call('PATCH', `/v1/profiles/${name}${q}`, { body });

describe('a profile cannot be broken', () => {
  it('PATCH refuses unknown fields, naming the key', async () => {
    const res = await patch({ colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'VALIDATION_FAILED', message: 'body: unknown field "colour"' });
  });

  it('refuses an empty media, huge arrays and numbers past 2^53', async () => {
    for (const body of [
      { media: '' },
      { maxBytes: 1e308 },
      { minBytes: 2 ** 60 },
      { pools: Array.from({ length: 10_000 }, (_, i) => `p${i}`) },
      { services: Array.from({ length: 300 }, (_, i) => `s${i}`) },
      { parameters: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'])) },
      { poolSelector: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'])) },
      { accessModes: [] },
      { accessModes: ['RWO', 'RWO'] },
      { qos: { iops: 1e12 } },
      { fsType: 'ext4; rm -rf /' },
      { description: 'd'.repeat(5000) },
    ]) {
      const res = await patch(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    for (const body of [{ name: 'x', media: '' }, { name: 'y', maxBytes: 1e308 }]) {
      expect((await polly.call('POST', '/v1/profiles', { body })).status).toBe(400);
    }
  });

  it('what GET returns can be PATCHed back (nullable fields take null): read-modify-write works', async () => {
    const got = (await polly.call('GET', '/v1/profiles/default')).body;
    expect(got.media).toBeNull();
    const back = await patch({ ...got, description: 'changed by read-modify-write' });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ ...got, description: 'changed by read-modify-write' });
    expect((await patch({ media: 'ssd' })).body.media).toBe('ssd');
    expect((await patch({ media: null })).body.media).toBeNull();
    // name and createdAt are read-only.
    expect((await patch({ name: 'renamed' })).status).toBe(400);
    expect((await patch({ createdAt: '2000-01-01T00:00:00.000Z' })).status).toBe(400);
  });

  it('a change that no pool could serve is refused with PROFILE_UNSATISFIABLE, and creates keep working', async () => {
    const res = await patch({ media: 'hdd' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('PROFILE_UNSATISFIABLE');
    expect(res.body.error.message).toContain('mem: media ssd, profile wants hdd');
    expect((await patch({ poolSelector: { tier: 'gold' } })).body.error.code).toBe('PROFILE_UNSATISFIABLE');
    expect((await patch({ pools: ['nope'] })).body.error.code).toBe('PROFILE_UNSATISFIABLE');
    expect((await polly.call('GET', '/v1/profiles/default')).body.media).toBeNull();
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'still-works', sizeBytes: 1 } })).status).toBe(201);
    // A profile meant for pools that come later can be made on purpose.
    const forced = await polly.call('POST', '/v1/profiles?force=true', { body: { name: 'future', media: 'nvme' } });
    expect(forced.status).toBe(201);
    expect((await polly.call('POST', '/v1/profiles', { body: { name: 'future2', media: 'nvme' } })).body.error.code).toBe('PROFILE_UNSATISFIABLE');
  });
});
