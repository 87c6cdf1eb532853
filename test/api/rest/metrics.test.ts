import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

const GiB = 1024 ** 3;
let polly: TestPolly;

beforeAll(async () => {
  polly = await startPolly({
    pools: [
      { name: 'm1', driver: 'fake', parameters: { capacityBytes: String(10 * GiB) }, overSubscriptionRatio: 2 },
      { name: 'm2', driver: 'fake', parameters: { capacityBytes: String(4 * GiB) } },
    ],
  });
});
afterAll(async () => {
  await polly?.stop();
});

/** Reads one sample's value from a Prometheus text exposition, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const got = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const res = await fetch(`${polly.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('/metrics', () => {
  it('gauges pools, volumes, snapshots from the store; times driver calls and requests; says the build', async () => {
    const token = await newService(polly, 'metrics-svc');
    const a = await polly.call('POST', '/v1/volumes', { token, body: { name: 'a', sizeBytes: 2 * GiB, pool: 'm1' } });
    const b = await polly.call('POST', '/v1/volumes', { token, body: { name: 'b', sizeBytes: GiB, pool: 'm1' } });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect((await polly.call('POST', `/v1/volumes/${a.body.id}/snapshots`, { token, body: { name: 's1' } })).status).toBe(201);
    expect((await polly.call('GET', '/v1/volumes/vol-nope', { token })).status).toBe(404);

    const text = await scrape();
    expect(sample(text, 'polly_pool_total_bytes', { pool: 'm1', driver: 'fake' })).toBe(10 * GiB);
    expect(sample(text, 'polly_pool_allocated_bytes', { pool: 'm1' })).toBe(3 * GiB);
    expect(sample(text, 'polly_pool_allocated_bytes', { pool: 'm2' })).toBe(0);
    expect(sample(text, 'polly_pool_free_bytes', { pool: 'm2' })).toBe(4 * GiB);
    expect(sample(text, 'polly_pool_over_subscription_ratio', { pool: 'm1' })).toBe(2);
    expect(sample(text, 'polly_volumes', { pool: 'm1', status: 'available' })).toBe(2);
    expect(sample(text, 'polly_snapshots', { pool: 'm1', status: 'ready' })).toBe(1);
    expect(sample(text, 'polly_driver_operation_duration_seconds_count', { driver: 'fake', op: 'create', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'polly_driver_operation_duration_seconds_count', { driver: 'fake', op: 'snapshot', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'polly_http_request_duration_seconds_count', { method: 'GET', route: '/v1/volumes/:id', status: '404' })).toBe(1);
    expect(sample(text, 'polly_build_info', { store: 'sqlite' })).toBe(1);
    expect(text).toMatch(/polly_build_info\{version="[^"]+",node="[^"]+"/);
    expect(sample(text, 'polly_reconciler_runs_total', {})).toBeUndefined(); // a counter without labels has no braces
    expect(text).toMatch(/^polly_reconciler_runs_total \d+$/m);

    // Deleting a volume moves the gauges at the next scrape: nothing is kept by hand.
    expect((await polly.call('DELETE', `/v1/volumes/${b.body.id}`, { token })).status).toBeLessThan(300);
    const after = await scrape();
    expect(sample(after, 'polly_pool_allocated_bytes', { pool: 'm1' })).toBe(2 * GiB);
    expect(sample(after, 'polly_volumes', { pool: 'm1', status: 'available' })).toBe(1);
    expect(sample(after, 'polly_driver_operation_duration_seconds_count', { driver: 'fake', op: 'delete', outcome: 'ok' })).toBe(1);
  });
});
