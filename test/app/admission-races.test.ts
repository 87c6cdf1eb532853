import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeDriverFor } from '../../src/drivers/fake/fake-driver.js';
import { storeUnderTest } from '../helpers/pg.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const MiB = 1024 * 1024;

/*
 * The admission step (src/app/admission.ts) over real HTTP on both stores: creates and expands that race
 * for one service's quota must admit exactly what fits, and the usage counter must always equal the sum
 * of the service's volume sizes — whatever order the races resolve in.
 */
for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`admission races (${kind})`, () => {
    let polly: TestPolly;
    let drop: (() => Promise<void>) | undefined;
    const pool = `adm-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      const store = await storeUnderTest(kind);
      drop = store.drop;
      const databaseUrl = store.databaseUrl;
      polly = await startPolly({
        ...(databaseUrl ? { databaseUrl } : {}),
        pools: [
          { name: pool, driver: 'fake', parameters: { capacityBytes: String(100_000 * MiB) } },
          // Creates go to a second pool, so only the service's quota (not a shared pool row) orders them
          // against the expands.
          { name: `${pool}-b`, driver: 'fake', parameters: { capacityBytes: String(100_000 * MiB) } },
        ],
      });
    });
    afterAll(async () => {
      await polly?.stop();
      await drop?.();
    });

    async function usageAndVolumes(service: string): Promise<{ usageBytes: number; usageVolumes: number; sumBytes: number; count: number }> {
      const q = await polly.call('GET', `/v1/services/${service}/quota`);
      expect(q.status).toBe(200);
      const vols = (await polly.call('GET', `/v1/volumes?service=${service}&limit=1000`)).body.items as { sizeBytes: number }[];
      return { usageBytes: q.body.usage.bytes, usageVolumes: q.body.usage.volumes, sumBytes: vols.reduce((n, v) => n + v.sizeBytes, 0), count: vols.length };
    }

    async function createVolumes(token: string, prefix: string, n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await polly.call('POST', '/v1/volumes', { token, body: { name: `${prefix}${i}`, sizeBytes: 10 * MiB, pool } });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      return ids;
    }

    it('expands and creates racing for a byte quota: exactly what fits succeeds, the rest get QUOTA_EXCEEDED', async () => {
      const service = 'race-mixed';
      const token = await newService(polly, service);
      const ids = await createVolumes(token, 'base', 6); // 60 MiB in use
      expect((await polly.call('PUT', `/v1/services/${service}/quota`, { body: { maxBytes: 100 * MiB } })).status).toBe(200);

      // Twelve demands of 10 MiB each against 40 MiB of headroom: six expands (10 → 20 MiB), six creates.
      const results = await Promise.all([
        ...ids.map((id) => polly.call('POST', `/v1/volumes/${id}/expand`, { token, body: { sizeBytes: 20 * MiB } })),
        ...Array.from({ length: 6 }, (_, i) => polly.call('POST', '/v1/volumes', { token, body: { name: `new${i}`, sizeBytes: 10 * MiB, pool: `${pool}-b` } })),
      ]);
      const ok = results.filter((r) => r.status === 200 || r.status === 201);
      const refused = results.filter((r) => r.status === 403 && r.body.error.code === 'QUOTA_EXCEEDED');
      expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 4, refused: 8 });

      const after = await usageAndVolumes(service);
      expect(after.usageBytes).toBe(100 * MiB);
      expect(after.sumBytes).toBe(100 * MiB);
      expect(after.usageVolumes).toBe(after.count);
    });

    it('expands of one volume racing each other: one wins the compare-and-set, the others change nothing', async () => {
      const service = 'race-same';
      const token = await newService(polly, service);
      const [id] = await createVolumes(token, 'one', 1);
      const sizes = [20, 30, 40, 50, 60, 70].map((m) => m * MiB);
      const results = await Promise.all(sizes.map((sizeBytes) => polly.call('POST', `/v1/volumes/${id}/expand`, { token, body: { sizeBytes } })));
      for (const r of results) expect([200, 409]).toContain(r.status);
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
      const after = await usageAndVolumes(service);
      expect(after.usageBytes).toBe(after.sumBytes);
      // The volume ends at the size of the last expand that succeeded, and usage agrees with it.
      const final = (await polly.call('GET', `/v1/volumes/${id}`, { token })).body.sizeBytes as number;
      expect(results.some((r) => r.status === 200 && r.body.sizeBytes === final)).toBe(true);
    });

    it('a backend that refuses an expand: size and usage go back and volume.expand_failed is recorded', async () => {
      const service = 'race-fail';
      const token = await newService(polly, service);
      const [id] = await createVolumes(token, 'f', 1);
      fakeDriverFor(pool)!.failNext('expand');
      const r = await polly.call('POST', `/v1/volumes/${id}/expand`, { token, body: { sizeBytes: 30 * MiB } });
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(r.body.error.code).toBe('BACKEND_FAILED');
      expect((await polly.call('GET', `/v1/volumes/${id}`, { token })).body.sizeBytes).toBe(10 * MiB);
      const after = await usageAndVolumes(service);
      expect(after.usageBytes).toBe(10 * MiB);
      const events = (await polly.call('GET', `/v1/events?service=${service}&limit=1000`)).body.items as { type: string; objectId: string; data: { reverted?: boolean } }[];
      const failed = events.filter((e) => e.type === 'volume.expand_failed' && e.objectId === id);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.data.reverted).toBe(true);
    });

    it('a delete racing a failing expand refunds exactly what the volume held: usage ends at zero', async () => {
      const service = 'race-delete';
      const token = await newService(polly, service);
      const [id] = await createVolumes(token, 'd', 1);
      const fake = fakeDriverFor(pool)!;
      fake.setLatency(300);
      try {
        fake.failNext('expand');
        const expanding = polly.call('POST', `/v1/volumes/${id}/expand`, { token, body: { sizeBytes: 40 * MiB } });
        // Delete once the growth is committed (the backend is still busy growing it).
        for (;;) {
          const v = await polly.call('GET', `/v1/volumes/${id}`, { token });
          if (v.body.sizeBytes === 40 * MiB) break;
          await new Promise((res) => setTimeout(res, 10));
        }
        const deleted = await polly.call('DELETE', `/v1/volumes/${id}`, { token });
        expect(deleted.status).toBe(204);
        expect((await expanding).status).toBeGreaterThanOrEqual(500);
      } finally {
        fake.setLatency(0);
        fake.clearFaults();
      }
      const after = await usageAndVolumes(service);
      expect(after).toEqual({ usageBytes: 0, usageVolumes: 0, sumBytes: 0, count: 0 });
    });

    it('creates and deletes racing on one pool and one service all succeed (no deadlock on the counter rows) and leave the counters where they were', async () => {
      const service = 'race-churn';
      const token = await newService(polly, service);
      const allocated = async () => (await polly.call('GET', `/v1/pools/${pool}`)).body.capacity as { allocatedBytes: number; volumeCount: number };
      const before = await allocated();
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let i = 0; i < 8; i++) {
            const c = await polly.call('POST', '/v1/volumes', { token, body: { name: `churn-${w}-${i}`, sizeBytes: 10 * MiB, pool } });
            if (c.status !== 201) {
              failures.push(`create ${c.status} ${JSON.stringify(c.body)}`);
              continue;
            }
            const d = await polly.call('DELETE', `/v1/volumes/${c.body.id}`, { token });
            if (d.status !== 204) failures.push(`delete ${d.status} ${JSON.stringify(d.body)}`);
          }
        }),
      );
      expect(failures).toEqual([]);
      expect(await allocated()).toEqual(before);
      expect(await usageAndVolumes(service)).toEqual({ usageBytes: 0, usageVolumes: 0, sumBytes: 0, count: 0 });
    });
  });
}
