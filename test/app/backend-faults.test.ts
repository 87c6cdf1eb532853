import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollyError } from '../../src/core/errors.js';
import type { FakeDriver } from '../../src/drivers/fake/fake-driver.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

let polly: TestPolly;
let token: string;
let fake: FakeDriver;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake', parameters: { capacityBytes: String(1 << 30) } }] });
  token = await newService(polly, 'faulty');
  fake = polly.server.app.ctx.drivers.get('mem') as FakeDriver;
});
afterAll(async () => {
  await polly?.stop();
});

async function poolCounters() {
  const pool = await polly.call('GET', '/v1/pools/mem', { token });
  return { allocated: pool.body.capacity.allocatedBytes as number, count: pool.body.capacity.volumeCount as number };
}

describe('backend failures roll intents back, never leave half-made state', () => {
  it('a create the backend refuses leaves no volume, no backend object and no capacity charge', async () => {
    const before = await poolCounters();
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'disk on fire'));
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'doomed', sizeBytes: 1000 } });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'BACKEND_FAILED', message: 'disk on fire' });
    expect((await polly.call('GET', '/v1/volumes', { token })).body.items).toEqual([]);
    expect(await poolCounters()).toEqual(before);
    expect(await fake.list()).toEqual([]);
    const events = await polly.call('GET', '/v1/events?type=volume.create_failed', { token });
    expect(events.body.items.at(-1)).toMatchObject({ type: 'volume.create_failed', data: { name: 'doomed' } });
    // The name is free again.
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'doomed', sizeBytes: 1000 } })).status).toBe(201);
  });

  it('a create whose reply was lost (backend did it) is rolled back on the backend too', async () => {
    fake.failNext('create', undefined, { phase: 'after' });
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'lost-reply', sizeBytes: 1000 } });
    expect(res.status).toBe(502);
    const names = (await polly.call('GET', '/v1/volumes', { token })).body.items.map((v: { name: string }) => v.name);
    expect(names).not.toContain('lost-reply');
    const live = (await polly.call('GET', '/v1/volumes', { token })).body.items.length;
    expect((await fake.list()).filter((o) => o.kind === 'volume')).toHaveLength(live);
  });

  it('a create whose rollback also fails parks the volume in error with the reason, keeping its name', async () => {
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'create broke'));
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'delete broke'));
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: 'stuck', sizeBytes: 1000 } });
    expect(res.status).toBe(502);
    const stuck = (await polly.call('GET', '/v1/volumes?status=error', { token })).body.items;
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ name: 'stuck', status: 'error' });
    expect(stuck[0].statusReason).toContain('create broke');
    // An operator can delete it once the backend behaves.
    expect((await polly.call('DELETE', `/v1/volumes/${stuck[0].id}`, { token })).status).toBe(204);
  });

  it('a delete the backend refuses leaves the volume in error with the reason, and a retry finishes it', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'hard-to-kill', sizeBytes: 1000 } })).body;
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'device busy'));
    const res = await polly.call('DELETE', `/v1/volumes/${v.id}`, { token });
    expect(res.status).toBe(502);
    const after = await polly.call('GET', `/v1/volumes/${v.id}`, { token });
    expect(after.body.status).toBe('error');
    expect(after.body.statusReason).toContain('device busy');
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(204);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).status).toBe(404);
  });

  it('a failed snapshot leaves no snapshot record', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'snapfail', sizeBytes: 1000 } })).body;
    fake.failNext('snapshot');
    const res = await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token, body: { name: 's' } });
    expect(res.status).toBe(502);
    expect((await polly.call('GET', `/v1/snapshots?volume=${v.id}`, { token })).body.items).toEqual([]);
    expect((await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token, body: { name: 's' } })).status).toBe(201);
  });
});

describe('concurrent creates never over-commit a pool', () => {
  it('40 racing creates of 100 MiB into a 1 GiB pool: exactly the ones that fit succeed', async () => {
    const svc = await newService(polly, 'racer');
    const { allocated } = await poolCounters();
    const MiB = 1024 * 1024;
    const fits = Math.floor(((1 << 30) - allocated) / (100 * MiB));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => polly.call('POST', '/v1/volumes', { token: svc, body: { name: `r${i}`, sizeBytes: 100 * MiB } })),
    );
    const ok = results.filter((r) => r.status === 201).length;
    const full = results.filter((r) => r.status === 507).length;
    expect(ok).toBe(fits);
    expect(full).toBe(40 - fits);
    expect((await poolCounters()).allocated).toBeLessThanOrEqual(1 << 30);
  });
});
