import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let owner: string;
let intruder: string;
let volumeId: string;
let snapshotId: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  owner = await newService(polly, 'owner');
  intruder = await newService(polly, 'intruder');
  volumeId = (await polly.call('POST', '/v1/volumes', { token: owner, body: { name: 'secret', sizeBytes: 4096, labels: { k: 'v' } } })).body.id;
  snapshotId = (await polly.call('POST', `/v1/volumes/${volumeId}/snapshots`, { token: owner, body: { name: 'secret-snap' } })).body.id;
});
afterAll(async () => {
  await polly?.stop();
});

describe("a service cannot see, change or delete another service's volumes by any route", () => {
  const attempts: Array<[string, () => [string, string, unknown?], string]> = [
    ['get volume', () => ['GET', `/v1/volumes/${volumeId}`], 'VOLUME_NOT_FOUND'],
    ['patch volume', () => ['PATCH', `/v1/volumes/${volumeId}`, { labels: { pwned: 'yes' } }], 'VOLUME_NOT_FOUND'],
    ['delete volume', () => ['DELETE', `/v1/volumes/${volumeId}`], 'VOLUME_NOT_FOUND'],
    ['expand volume', () => ['POST', `/v1/volumes/${volumeId}/expand`, { sizeBytes: 8192 }], 'VOLUME_NOT_FOUND'],
    ['snapshot volume', () => ['POST', `/v1/volumes/${volumeId}/snapshots`, { name: 'steal' }], 'VOLUME_NOT_FOUND'],
    ['list snapshots of volume', () => ['GET', `/v1/snapshots?volume=${volumeId}`], 'VOLUME_NOT_FOUND'],
    ['get snapshot', () => ['GET', `/v1/snapshots/${snapshotId}`], 'SNAPSHOT_NOT_FOUND'],
    ['delete snapshot', () => ['DELETE', `/v1/snapshots/${snapshotId}`], 'SNAPSHOT_NOT_FOUND'],
    ['restore from snapshot', () => ['POST', '/v1/volumes', { name: 'restore', sizeBytes: 4096, fromSnapshot: snapshotId }], 'SNAPSHOT_NOT_FOUND'],
    ['clone volume', () => ['POST', '/v1/volumes', { name: 'clone', sizeBytes: 4096, fromVolume: volumeId }], 'VOLUME_NOT_FOUND'],
  ];
  for (const [what, req, code] of attempts) {
    it(`${what} → 404 ${code}`, async () => {
      const [method, path, body] = req();
      const res = await polly.call(method, path, { token: intruder, body });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe(code);
      // The message must not reveal who owns it.
      expect(res.body.error.message).not.toContain('owner');
    });
  }

  it('listing shows only the caller’s volumes, whatever the filters say', async () => {
    const mine = await polly.call('GET', '/v1/volumes', { token: intruder });
    expect(mine.body.items).toEqual([]);
    const sneaky = await polly.call('GET', '/v1/volumes?service=owner&label=k=v', { token: intruder });
    expect(sneaky.body.items).toEqual([]);
    const snaps = await polly.call('GET', '/v1/snapshots?service=owner', { token: intruder });
    expect(snaps.body.items).toEqual([]);
    const events = await polly.call('GET', '/v1/events?service=owner', { token: intruder });
    expect(events.body.items.filter((e: { service: string }) => e.service === 'owner')).toEqual([]);
  });

  it('after all those attempts the volume and snapshot are untouched', async () => {
    const v = await polly.call('GET', `/v1/volumes/${volumeId}`, { token: owner });
    expect(v.status).toBe(200);
    expect(v.body.labels).toEqual({ k: 'v' });
    expect(v.body.sizeBytes).toBe(4096);
    const s = await polly.call('GET', `/v1/snapshots?volume=${volumeId}`, { token: owner });
    expect(s.body.items.map((x: { id: string }) => x.id)).toEqual([snapshotId]);
  });

  it('the admin sees and lists everything', async () => {
    expect((await polly.call('GET', `/v1/volumes/${volumeId}`)).status).toBe(200);
    const all = await polly.call('GET', '/v1/volumes?service=owner');
    expect(all.body.items.map((v: { id: string }) => v.id)).toEqual([volumeId]);
  });
});
