import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  token = await newService(polly, 'tenant');
});
afterAll(async () => {
  await polly?.stop();
});

describe('Idempotency-Key', () => {
  it('a repeat returns the same volume and creates nothing', async () => {
    const body = { name: 'once', sizeBytes: 1000 };
    const headers = { 'idempotency-key': 'create-once-1' };
    const first = await polly.call('POST', '/v1/volumes', { token, body, headers });
    const second = await polly.call('POST', '/v1/volumes', { token, body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const list = await polly.call('GET', '/v1/volumes', { token });
    expect(list.body.items.filter((v: { name: string }) => v.name === 'once')).toHaveLength(1);
    // Without the key, the same request is a new create and hits the name.
    expect((await polly.call('POST', '/v1/volumes', { token, body })).status).toBe(409);
  });

  it('the same key with another request is refused', async () => {
    const headers = { 'idempotency-key': 'reuse-me' };
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'r1', sizeBytes: 1 }, headers })).status).toBe(201);
    const other = await polly.call('POST', '/v1/volumes', { token, body: { name: 'r2', sizeBytes: 1 }, headers });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('keys are per service: another service’s identical key is independent', async () => {
    const other = await newService(polly, 'tenant-2');
    const headers = { 'idempotency-key': 'shared-key' };
    const a = await polly.call('POST', '/v1/volumes', { token, body: { name: 'k', sizeBytes: 1 }, headers });
    const b = await polly.call('POST', '/v1/volumes', { token: other, body: { name: 'k', sizeBytes: 1 }, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.body.service).toBe('tenant-2');
  });

  it('a failed request releases its key so a corrected retry can run', async () => {
    const headers = { 'idempotency-key': 'fails-first' };
    const bad = await polly.call('POST', '/v1/volumes', { token, body: { name: 'f', sizeBytes: 1, pool: 'nope' }, headers });
    expect(bad.status).toBe(404);
    const retry = await polly.call('POST', '/v1/volumes', { token, body: { name: 'f', sizeBytes: 1, pool: 'nope' }, headers });
    expect(retry.status).toBe(404);
  });

  it('a repeated delete with the same key replays 204', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'del', sizeBytes: 1 } })).body;
    const headers = { 'idempotency-key': `del-${v.id}` };
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token, headers })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token, headers })).status).toBe(204);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(404);
  });
});

describe('pagination over 1,000 volumes', () => {
  it('pages by cursor: every volume exactly once, in id order, and filters apply', async () => {
    const svc = await newService(polly, 'pager');
    const ids: string[] = [];
    const total = 1000;
    // 8 at a time: enough to exercise concurrent creates without drowning a 2-core machine.
    for (let i = 0; i < total; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, total - i) }, (_, j) =>
          polly.call('POST', '/v1/volumes', { token: svc, body: { name: `v${String(i + j).padStart(4, '0')}`, sizeBytes: 1, labels: { parity: (i + j) % 2 ? 'odd' : 'even' } } }),
        ),
      );
      for (const r of batch) {
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await polly.call('GET', `/v1/volumes?limit=100${q}`, { token: svc });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(100);
      seen.push(...page.body.items.map((v: { id: string }) => v.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(10);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen).toEqual([...ids].sort());

    const odd: string[] = [];
    cursor = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await polly.call('GET', `/v1/volumes?label=parity=odd&limit=300${q}`, { token: svc });
      odd.push(...page.body.items.map((v: { id: string }) => v.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(odd).toHaveLength(total / 2);
  });
});
