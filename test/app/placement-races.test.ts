import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeUnderTest } from '../helpers/pg.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const MiB = 1024 * 1024;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`racing creates for the last capacity (${kind})`, () => {
    let polly: TestPolly;
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const store = await storeUnderTest(kind);
      drop = store.drop;
      const databaseUrl = store.databaseUrl;
      polly = await startPolly({
        ...(databaseUrl ? { databaseUrl } : {}),
        pools: [
          { name: 'p1', driver: 'fake', parameters: { capacityBytes: String(1000 * MiB) } },
          { name: 'p2', driver: 'fake', parameters: { capacityBytes: String(500 * MiB) } },
        ],
      });
    });
    afterAll(async () => {
      await polly?.stop();
      await drop?.();
    });

    it('exactly as many 100 MiB volumes as fit succeed; the rest get 507 and nothing is over-committed', async () => {
      const token = await newService(polly, 'racer');
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => polly.call('POST', '/v1/volumes', { token, body: { name: `r${i}`, sizeBytes: 100 * MiB } })),
      );
      const codes = results.map((r) => r.status);
      expect(codes.filter((c) => c === 201)).toHaveLength(15);
      expect(codes.filter((c) => c === 507)).toHaveLength(9);
      const pools = (await polly.call('GET', '/v1/pools')).body.items;
      const byName = Object.fromEntries(pools.map((p: { name: string; capacity: { allocatedBytes: number } }) => [p.name, p.capacity.allocatedBytes]));
      expect(byName.p1).toBe(1000 * MiB);
      expect(byName.p2).toBe(500 * MiB);
    });

    it('racing creates against a quota: exactly the allowed number succeed', async () => {
      const token = await newService(polly, 'quota-racer');
      await polly.call('PUT', '/v1/services/quota-racer/quota', { body: { maxVolumes: 5 } });
      await Promise.all(
        (await polly.call('GET', '/v1/volumes?service=racer&limit=1000')).body.items.map((v: { id: string }) => polly.call('DELETE', `/v1/volumes/${v.id}`)),
      );
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => polly.call('POST', '/v1/volumes', { token, body: { name: `q${i}`, sizeBytes: MiB } })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(5);
      expect(results.filter((r) => r.status === 403 && r.body.error.code === 'QUOTA_EXCEEDED')).toHaveLength(11);
    });
  });
}
