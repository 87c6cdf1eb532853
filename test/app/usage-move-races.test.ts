import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPollyError } from '../../src/core/errors.js';
import { deleteSnapshotRow } from '../../src/store/repos/snapshots.js';
import { storeUnderTest } from '../helpers/pg.js';
import { newService, startPolly, type HttpResult, type TestPolly } from '../helpers/polly.js';

const MiB = 1024 * 1024;

interface Usage {
  volumes: number;
  bytes: number;
  snapshots: number;
  profileBytes: Record<string, number>;
}

/*
 * Usage that moves without new capacity — a volume transferred to another service, a volume moved to
 * another profile — goes through the admission step (Admission.move) on both stores: racing each other,
 * creates and expands, the receiving quota admits exactly what fits, nothing deadlocks, and the usage
 * rows always equal the sum of the volumes they count, per service and per profile.
 */
for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`usage moves racing admissions (${kind})`, () => {
    let polly: TestPolly;
    let drop: (() => Promise<void>) | undefined;
    const pool = `mv-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      const store = await storeUnderTest(kind);
      drop = store.drop;
      const databaseUrl = store.databaseUrl;
      polly = await startPolly({
        ...(databaseUrl ? { databaseUrl } : {}),
        pools: [{ name: pool, driver: 'fake', parameters: { capacityBytes: String(100_000 * MiB) } }],
        profiles: [{ name: 'gold' }],
      });
    });
    afterAll(async () => {
      await polly?.stop();
      await drop?.();
    });

    async function usageOf(service: string): Promise<Usage> {
      const q = await polly.call('GET', `/v1/services/${service}/quota`);
      expect(q.status).toBe(200);
      return q.body.usage as Usage;
    }

    /** What the service's volumes add up to, in the shape of its usage. */
    async function sumOf(service: string): Promise<Omit<Usage, 'snapshots'>> {
      const vols = (await polly.call('GET', `/v1/volumes?service=${service}&limit=1000`)).body.items as { sizeBytes: number; profile: string }[];
      const profileBytes: Record<string, number> = {};
      for (const v of vols) profileBytes[v.profile] = (profileBytes[v.profile] ?? 0) + v.sizeBytes;
      return { volumes: vols.length, bytes: vols.reduce((n, v) => n + v.sizeBytes, 0), profileBytes };
    }

    /** Usage as counted, without the profiles whose counters went back to zero. */
    async function countedOf(service: string): Promise<Omit<Usage, 'snapshots'>> {
      const u = await usageOf(service);
      return { volumes: u.volumes, bytes: u.bytes, profileBytes: Object.fromEntries(Object.entries(u.profileBytes).filter(([, b]) => b !== 0)) };
    }

    async function createVolumes(token: string, prefix: string, n: number, body: Record<string, unknown> = {}): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await polly.call('POST', '/v1/volumes', { token, body: { name: `${prefix}${i}`, sizeBytes: 10 * MiB, pool, ...body } });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      return ids;
    }

    const transfer = (id: string, toService: string) => polly.call('POST', `/v1/volumes/${id}/transfer`, { body: { toService } });
    const expand = (id: string, sizeBytes: number) => polly.call('POST', `/v1/volumes/${id}/expand`, { body: { sizeBytes } });

    /** A profile change (CSI ControllerModifyVolume, the broker's update) as an HTTP-like result. */
    async function changeProfile(service: string, id: string, profile: string): Promise<HttpResult> {
      try {
        const v = await polly.server.app.volumeProfiles.changeProfile({ kind: 'service', service }, id, profile);
        return { status: 200, body: v, headers: {} };
      } catch (err) {
        if (!isPollyError(err)) throw err;
        return { status: err.httpStatus, body: { error: { code: err.code, details: err.details } }, headers: {} };
      }
    }

    it('transfers and creates racing for the receiving quota: exactly what fits succeeds, usage equals the volumes on both sides', async () => {
      const from = 'mv-give';
      const to = 'mv-take';
      const moving = await createVolumes(await newService(polly, from), 'mv', 8);
      const toToken = await newService(polly, to);
      expect((await polly.call('PUT', `/v1/services/${to}/quota`, { body: { maxBytes: 50 * MiB } })).status).toBe(200);

      // Twelve demands of 10 MiB against 50 MiB: eight transfers in, four creates.
      const results = await Promise.all([
        ...moving.map((id) => transfer(id, to)),
        ...Array.from({ length: 4 }, (_, i) => polly.call('POST', '/v1/volumes', { token: toToken, body: { name: `own${i}`, sizeBytes: 10 * MiB, pool } })),
      ]);
      const ok = results.filter((r) => r.status === 200 || r.status === 201);
      const refused = results.filter((r) => r.status === 403 && r.body.error.code === 'QUOTA_EXCEEDED');
      expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 5, refused: 7 });
      for (const r of refused) expect(r.body.error.details).toMatchObject({ limit: 'bytes', requested: 10 * MiB, max: 50 * MiB });

      expect(await countedOf(to)).toEqual(await sumOf(to));
      expect((await usageOf(to)).bytes).toBe(50 * MiB);
      expect(await countedOf(from)).toEqual(await sumOf(from));
      expect((await sumOf(from)).volumes + (await sumOf(to)).volumes).toBe(8 + results.slice(8).filter((r) => r.status === 201).length);

      // Each transfer that went through is told to both services; one that was refused left no event.
      const events = (await polly.call('GET', `/v1/events?limit=1000`)).body.items as { type: string; objectId: string; service: string }[];
      moving.forEach((id, i) => {
        const told = events.filter((e) => e.type === 'volume.transferred' && e.objectId === id).map((e) => e.service);
        expect(told.sort()).toEqual(results[i]!.status === 200 ? [from, to].sort() : []);
      });
    });

    it('transfers both ways between two services, racing expands of the same volumes: none deadlocks, usage equals the volumes', async () => {
      const a = 'mv-left';
      const b = 'mv-right';
      const aVols = await createVolumes(await newService(polly, a), 'l', 6);
      const bVols = await createVolumes(await newService(polly, b), 'r', 6);
      const results = await Promise.all([
        ...aVols.map((id) => transfer(id, b)),
        ...bVols.map((id) => transfer(id, a)),
        ...[...aVols, ...bVols].map((id) => expand(id, 20 * MiB)),
      ]);
      const transfers = results.slice(0, 12);
      const expands = results.slice(12);
      expect(transfers.map((r) => r.status)).toEqual(Array<number>(12).fill(200));
      // An expand that read the volume before it moved changes nothing (its compare-and-set sees the new owner).
      for (const r of expands) expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
      for (const service of [a, b]) expect(await countedOf(service)).toEqual(await sumOf(service));
      expect((await sumOf(a)).volumes).toBe(6);
      expect((await sumOf(b)).volumes).toBe(6);
    });

    it('snapshots racing transfers of their volumes: every snapshot belongs to its volume\'s service, and snapshot usage counts them', async () => {
      const a = 'mv-snap-from';
      const b = 'mv-snap-to';
      const ids = await createVolumes(await newService(polly, a), 's', 6);
      await newService(polly, b);
      // Quotas on both sides, so every path takes its service-row locks.
      for (const service of [a, b]) expect((await polly.call('PUT', `/v1/services/${service}/quota`, { body: { maxSnapshots: 100, maxVolumes: 100 } })).status).toBe(200);
      const results = await Promise.all([
        ...ids.map((id) => transfer(id, b)),
        ...ids.map((id, i) => polly.call('POST', `/v1/volumes/${id}/snapshots`, { body: { name: `snap${i}` } })),
      ]);
      expect(results.slice(0, 6).map((r) => r.status)).toEqual(Array<number>(6).fill(200));
      // A snapshot that read its volume before the transfer committed is refused, not left behind with the old owner.
      for (const r of results.slice(6)) expect([201, 409], JSON.stringify(r.body)).toContain(r.status);
      for (const service of [a, b]) {
        const snaps = (await polly.call('GET', `/v1/snapshots?service=${service}&limit=1000`)).body.items as { volumeId: string }[];
        const mine = new Set(((await polly.call('GET', `/v1/volumes?service=${service}&limit=1000`)).body.items as { id: string }[]).map((v) => v.id));
        expect(snaps.filter((s) => !mine.has(s.volumeId))).toEqual([]);
        expect((await usageOf(service)).snapshots).toBe(snaps.length);
      }
      expect((await sumOf(b)).volumes).toBe(6);
    });

    it('a snapshot delete in flight while its volume is transferred is not moved as well: snapshot usage counts what is left, on both sides', async () => {
      const a = 'mv-snapdel-from';
      const b = 'mv-snapdel-to';
      const [id] = await createVolumes(await newService(polly, a), 'd', 1);
      await newService(polly, b);
      const snaps: string[] = [];
      for (const name of ['gone', 'kept']) {
        const r = await polly.call('POST', `/v1/volumes/${id}/snapshots`, { body: { name } });
        expect(r.status).toBe(201);
        snaps.push(r.body.id);
      }
      // The last step of a snapshot delete (its row and refund), held open while the transfer runs.
      let moving: Promise<HttpResult> | undefined;
      await polly.server.app.ctx.store.transaction(async (trx) => {
        await deleteSnapshotRow(trx, snaps[0]!);
        moving = transfer(id!, b);
        await new Promise((res) => setTimeout(res, 500));
      });
      expect((await moving!).status).toBe(200);
      for (const service of [a, b]) {
        const left = (await polly.call('GET', `/v1/snapshots?service=${service}&limit=1000`)).body.items as unknown[];
        expect((await usageOf(service)).snapshots, service).toBe(left.length);
      }
      expect((await usageOf(b)).snapshots).toBe(1);
    });

    it('profile changes and creates racing for a per-profile byte quota: never over the limit, usage equals the volumes per profile', async () => {
      const service = 'mv-profile';
      const token = await newService(polly, service);
      const ids = await createVolumes(token, 'p', 8);
      expect((await polly.call('PUT', `/v1/services/${service}/quota`, { body: { profileBytes: { gold: 40 * MiB } } })).status).toBe(200);

      // Twelve demands of 10 MiB of gold against 40 MiB: eight profile changes, four gold creates.
      const results = await Promise.all([
        ...ids.map((id) => changeProfile(service, id, 'gold')),
        ...Array.from({ length: 4 }, (_, i) => polly.call('POST', '/v1/volumes', { token, body: { name: `g${i}`, sizeBytes: 10 * MiB, pool, profile: 'gold' } })),
      ]);
      const ok = results.filter((r) => r.status === 200 || r.status === 201);
      const refused = results.filter((r) => r.status === 403 && r.body.error.code === 'QUOTA_EXCEEDED');
      expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 4, refused: 8 });
      for (const r of refused) expect(r.body.error.details).toMatchObject({ limit: 'bytes of profile gold', requested: 10 * MiB, max: 40 * MiB });

      const sum = await sumOf(service);
      expect(await countedOf(service)).toEqual(sum);
      expect(sum.profileBytes.gold).toBe(40 * MiB);
      // A refused change left the volume (and its events) as they were.
      const events = (await polly.call('GET', `/v1/events?service=${service}&limit=1000`)).body.items as { type: string; objectId: string }[];
      ids.forEach((id, i) => {
        expect(events.filter((e) => e.type === 'volume.updated' && e.objectId === id)).toHaveLength(results[i]!.status === 200 ? 1 : 0);
      });
    });

    it('profile changes racing expands of the same volumes: usage per profile equals the volumes', async () => {
      const service = 'mv-profile-grow';
      const token = await newService(polly, service);
      const ids = await createVolumes(token, 'x', 8);
      const results = await Promise.all([...ids.map((id) => changeProfile(service, id, 'gold')), ...ids.map((id) => expand(id, 30 * MiB))]);
      expect(results.slice(0, 8).map((r) => r.status)).toEqual(Array<number>(8).fill(200));
      for (const r of results.slice(8)) expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
      const sum = await sumOf(service);
      expect(await countedOf(service)).toEqual(sum);
      expect(Object.keys(sum.profileBytes)).toEqual(['gold']);
    });
  });
}
