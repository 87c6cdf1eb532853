import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeDriver } from '../../../src/drivers/fake/fake-driver.js';
import { ManualClock, newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { collectSse } from '../../helpers/sse.js';

const GiB = 1024 ** 3;
let polly: TestPolly;
const clock = new ManualClock();

beforeAll(async () => {
  polly = await startPolly(
    {
      pools: [
        { name: 'pool-a', driver: 'fake', parameters: { capacityBytes: String(10 * GiB) }, topology: { zone: 'a' } },
        { name: 'pool-b', driver: 'fake', parameters: { capacityBytes: String(4 * GiB) }, topology: { zone: 'b' } },
      ],
      reservationTtlSeconds: 60,
      offerTtlSeconds: 300,
    },
    { clock },
  );
});
afterAll(async () => {
  await polly?.stop();
});

async function allocated(pool: string): Promise<number> {
  return (await polly.call('GET', `/v1/pools/${pool}`)).body.capacity.allocatedBytes;
}

describe('quotas', () => {
  it('limits volumes, bytes and snapshots, names the limit, and gives usage back on delete', async () => {
    const token = await newService(polly, 'q1');
    const set = await polly.call('PUT', '/v1/services/q1/quota', { body: { maxVolumes: 2, maxBytes: 3 * GiB, maxSnapshots: 1 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ maxVolumes: 2, maxBytes: 3 * GiB, maxSnapshots: 1, usage: { volumes: 0, bytes: 0 } });
    expect((await polly.call('PUT', '/v1/services/q1/quota', { token, body: { maxVolumes: 100 } })).status).toBe(403);

    const v1 = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'v1', sizeBytes: GiB } })).body;
    const tooBig = await polly.call('POST', '/v1/volumes', { token, body: { name: 'v2', sizeBytes: 3 * GiB } });
    expect(tooBig.status).toBe(403);
    expect(tooBig.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(tooBig.body.error.message).toContain('bytes');
    await polly.call('POST', '/v1/volumes', { token, body: { name: 'v2', sizeBytes: GiB } });
    const third = await polly.call('POST', '/v1/volumes', { token, body: { name: 'v3', sizeBytes: 1 } });
    expect(third.status).toBe(403);
    expect(third.body.error.message).toContain('volumes would be 3, limit 2');

    expect((await polly.call('POST', `/v1/volumes/${v1.id}/snapshots`, { token, body: { name: 's1' } })).status).toBe(201);
    const s2 = await polly.call('POST', `/v1/volumes/${v1.id}/snapshots`, { token, body: { name: 's2' } });
    expect(s2.status).toBe(403);
    expect(s2.body.error.message).toContain('snapshots');

    const quota = await polly.call('GET', '/v1/services/q1/quota', { token });
    expect(quota.body.usage).toMatchObject({ volumes: 2, bytes: 2 * GiB, snapshots: 1 });
    const grow = await polly.call('POST', `/v1/volumes/${v1.id}/expand`, { token, body: { sizeBytes: 3 * GiB } });
    expect(grow.status).toBe(403);

    const snapId = (await polly.call('GET', `/v1/snapshots?volume=${v1.id}`, { token })).body.items[0].id;
    await polly.call('DELETE', `/v1/snapshots/${snapId}`, { token });
    await polly.call('DELETE', `/v1/volumes/${v1.id}`, { token });
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'v3', sizeBytes: GiB } })).status).toBe(201);
    expect((await polly.call('GET', '/v1/services/q1/quota', { token })).body.usage).toMatchObject({ volumes: 2, bytes: 2 * GiB, snapshots: 0 });
  });

  it('a create the backend refuses gives its quota back', async () => {
    const token = await newService(polly, 'q2');
    await polly.call('PUT', '/v1/services/q2/quota', { body: { maxVolumes: 1 } });
    (polly.server.app.ctx.drivers.get('pool-a') as FakeDriver).failNext('create');
    (polly.server.app.ctx.drivers.get('pool-b') as FakeDriver).failNext('create');
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'x', sizeBytes: 1 } })).status).toBe(502);
    expect((await polly.call('GET', '/v1/services/q2/quota', { token })).body.usage.volumes).toBe(0);
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'x', sizeBytes: 1 } })).status).toBe(201);
  });

  it('per-profile byte limits', async () => {
    const token = await newService(polly, 'q3');
    await polly.call('PUT', '/v1/services/q3/quota', { body: { profileBytes: { default: GiB } } });
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'a', sizeBytes: GiB } })).status).toBe(201);
    const over = await polly.call('POST', '/v1/volumes', { token, body: { name: 'b', sizeBytes: 1 } });
    expect(over.status).toBe(403);
    expect(over.body.error.message).toContain('profile default');
  });
});

describe('offers and reservations', () => {
  it('offers what a service could create, accepts into a reservation that a create consumes', async () => {
    const token = await newService(polly, 'o1');
    await polly.call('PUT', '/v1/services/o1/quota', { body: { maxBytes: 6 * GiB } });
    const offers = await polly.call('GET', '/v1/offers', { token });
    expect(offers.status).toBe(200);
    const byPool = Object.fromEntries(offers.body.items.map((o: { pool: string }) => [o.pool, o]));
    expect(byPool['pool-a']).toMatchObject({ profile: 'default', zone: 'a', service: 'o1', status: 'open' });
    // The quota headroom (6 GiB) caps the bigger pool's offer.
    expect(byPool['pool-a'].maxBytes).toBeLessThanOrEqual(6 * GiB);
    expect(byPool['pool-b'].maxBytes).toBeLessThanOrEqual(4 * GiB);
    expect((await polly.call('GET', '/v1/offers?zone=b', { token })).body.items.map((o: { pool: string }) => o.pool)).toEqual(['pool-b']);
    expect((await polly.call('GET', `/v1/offers?minBytes=${5 * GiB}`, { token })).body.items.map((o: { pool: string }) => o.pool)).toEqual(['pool-a']);

    const before = await allocated('pool-a');
    const res = await polly.call('POST', `/v1/offers/${byPool['pool-a'].id}/accept`, { token, body: { sizeBytes: 2 * GiB } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ offerId: byPool['pool-a'].id, pool: 'pool-a', sizeBytes: 2 * GiB, status: 'active' });
    expect(await allocated('pool-a')).toBe(before + 2 * GiB);
    expect((await polly.call('GET', '/v1/services/o1/quota', { token })).body.usage.reservedBytes).toBe(2 * GiB);
    // The same offer cannot be accepted twice.
    expect((await polly.call('POST', `/v1/offers/${byPool['pool-a'].id}/accept`, { token, body: { sizeBytes: 1 } })).body.error.code).toBe('OFFER_CLOSED');

    const vol = await polly.call('POST', '/v1/volumes', { token, body: { name: 'reserved', sizeBytes: 2 * GiB, reservation: res.body.id } });
    expect(vol.status).toBe(201);
    expect(vol.body.pool).toBe('pool-a');
    expect(await allocated('pool-a')).toBe(before + 2 * GiB);
    const after = (await polly.call('GET', '/v1/services/o1/quota', { token })).body.usage;
    expect(after).toMatchObject({ reservedBytes: 0, bytes: 2 * GiB, volumes: 1 });
    expect((await polly.call('GET', `/v1/reservations/${res.body.id}`, { token })).body).toMatchObject({ status: 'consumed', volumeId: vol.body.id });
    const again = await polly.call('POST', '/v1/volumes', { token, body: { name: 'reserved-2', sizeBytes: 1, reservation: res.body.id } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RESERVATION_CLOSED');
  });

  it('reservations lapse after their TTL and give capacity and quota back (injected clock)', async () => {
    const token = await newService(polly, 'o2');
    const offer = (await polly.call('GET', '/v1/offers?zone=b', { token })).body.items[0];
    const before = await allocated('pool-b');
    const res = (await polly.call('POST', `/v1/offers/${offer.id}/accept`, { token, body: { sizeBytes: GiB } })).body;
    expect(await allocated('pool-b')).toBe(before + GiB);
    clock.advance(30);
    expect(await polly.server.app.offers.expire()).toMatchObject({ reservations: 0 });
    clock.advance(31);
    expect((await polly.server.app.offers.expire()).reservations).toBe(1);
    expect(await allocated('pool-b')).toBe(before);
    expect((await polly.call('GET', `/v1/reservations/${res.id}`, { token })).body.status).toBe('expired');
    const late = await polly.call('POST', '/v1/volumes', { token, body: { name: 'late', sizeBytes: GiB, reservation: res.id } });
    expect(late.body.error.code).toBe('RESERVATION_CLOSED');
    const events = (await polly.call('GET', '/v1/events?type=reservation', { token })).body.items.map((e: { type: string }) => e.type);
    expect(events).toEqual(['reservation.created', 'reservation.expired']);
  });

  it('declined offers are not made again until they would have expired; revoke releases reservations', async () => {
    const token = await newService(polly, 'o3');
    const first = (await polly.call('GET', '/v1/offers', { token })).body.items;
    const declined = first.find((o: { pool: string }) => o.pool === 'pool-b');
    expect((await polly.call('POST', `/v1/offers/${declined.id}/decline`, { token })).body.status).toBe('declined');
    expect((await polly.call('GET', '/v1/offers', { token })).body.items.map((o: { pool: string }) => o.pool)).toEqual(['pool-a']);
    clock.advance(301);
    expect((await polly.call('GET', '/v1/offers', { token })).body.items.map((o: { pool: string }) => o.pool).sort()).toEqual(['pool-a', 'pool-b']);

    const offer = (await polly.call('GET', '/v1/offers?zone=a', { token })).body.items[0];
    const before = await allocated('pool-a');
    const res = (await polly.call('POST', `/v1/offers/${offer.id}/accept`, { token, body: { sizeBytes: GiB } })).body;
    expect((await polly.call('POST', `/v1/offers/${offer.id}/revoke`, { token })).status).toBe(403);
    expect((await polly.call('POST', `/v1/offers/${offer.id}/revoke`)).body.status).toBe('revoked');
    expect(await allocated('pool-a')).toBe(before);
    expect((await polly.call('GET', `/v1/reservations/${res.id}`, { token })).body.status).toBe('released');
  });

  it('another service cannot see or take an offer', async () => {
    const a = await newService(polly, 'o4');
    const b = await newService(polly, 'o5');
    const offer = (await polly.call('GET', '/v1/offers', { token: a })).body.items[0];
    const res = await polly.call('POST', `/v1/offers/${offer.id}/accept`, { token: b, body: { sizeBytes: 1 } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('OFFER_NOT_FOUND');
    expect((await polly.call('GET', '/v1/offers', { token: b })).body.items.every((o: { service: string }) => o.service === 'o5')).toBe(true);
  });

  it('offer changes stream as Server-Sent Events to a real HTTP client', async () => {
    const token = await newService(polly, 'o6');
    const events = await collectSse(`${polly.url}/v1/events?type=offer`, token, 3, async () => {
      const offers = (await polly.call('GET', '/v1/offers', { token })).body.items;
      await polly.call('POST', `/v1/offers/${offers[0].id}/decline`, { token });
    });
    expect(events.map((e) => e.event).sort()).toEqual(['offer.created', 'offer.created', 'offer.declined']);
    expect(events.every((e) => e.data.service === 'o6')).toBe(true);
  });
});
