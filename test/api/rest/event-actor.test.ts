import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startPolly, type TestPolly } from '../../helpers/polly.js';

const GiB = 1024 ** 3;
let polly: TestPolly;
let token: string;
let tokenId: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake', parameters: { capacityBytes: String(100 * GiB) } }] });
  expect((await polly.call('POST', '/v1/services', { body: { name: 'actor-svc' } })).status).toBe(201);
  const issued = await polly.call('POST', '/v1/services/actor-svc/tokens', { body: {} });
  token = issued.body.token as string;
  tokenId = issued.body.id as string;
  expect(tokenId).toMatch(/^tok-/);
});
afterAll(async () => {
  await polly?.stop();
});

describe('events carry the acting identity and the request id', () => {
  it('a service token: service + token id, and the x-request-id the caller sent', async () => {
    const created = await polly.call('POST', '/v1/volumes', { token, body: { name: 'who-did-it', sizeBytes: GiB }, headers: { 'x-request-id': 'trace-7f3a' } });
    expect(created.status).toBe(201);
    expect(created.headers['x-request-id']).toBe('trace-7f3a');
    const events = (await polly.call('GET', `/v1/events?object=${created.body.id}`, { token })).body.items;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['volume.creating', 'volume.created']);
    for (const e of events) {
      expect(e.actor).toEqual({ kind: 'service', service: 'actor-svc', tokenId });
      expect(e.requestId).toBe('trace-7f3a');
    }
  });

  it('the admin: its token id; without an x-request-id the server makes one and returns it', async () => {
    const created = await polly.call('POST', '/v1/volumes', { token: ADMIN_TOKEN, body: { name: 'by-admin', service: 'actor-svc', sizeBytes: GiB } });
    expect(created.status).toBe(201);
    const rid = created.headers['x-request-id'];
    expect(rid).toMatch(/^req-/);
    const events = (await polly.call('GET', `/v1/events?object=${created.body.id}`)).body.items;
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(e.actor.kind).toBe('admin');
      expect(e.actor.tokenId).toMatch(/^tok-/);
      expect(e.actor.tokenId).not.toBe(tokenId);
      expect(e.requestId).toBe(rid);
    }
  });

  it('two requests get two request ids', async () => {
    const a = await polly.call('POST', '/v1/volumes', { token, body: { name: 'rid-a', sizeBytes: 1 } });
    const b = await polly.call('POST', '/v1/volumes', { token, body: { name: 'rid-b', sizeBytes: 1 } });
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('background work is recorded as system/<component> with no request id', async () => {
    await polly.server.app.reconciler.run();
    // Offer expiry runs as the leader's loop; call the same use case the loop runs, as the loop does.
    const { asSystem } = await import('../../../src/app/request-scope.js');
    await asSystem('offer-refresh', () => polly.server.app.offers.refreshAll());
    const offers = (await polly.call('GET', '/v1/events?type=offer.created')).body.items;
    const bySystem = offers.filter((e: { actor: { kind: string } }) => e.actor?.kind === 'system');
    expect(bySystem.length).toBeGreaterThan(0);
    expect(bySystem[0].actor).toEqual({ kind: 'system', component: 'offer-refresh' });
    expect(bySystem[0].requestId).toBeNull();
  });
});

describe('offer churn stays out of the audit stream', () => {
  it('creating volumes moves open offers’ sizes without writing offer.updated events', async () => {
    expect((await polly.call('POST', '/v1/services', { body: { name: 'churn' } })).status).toBe(201);
    const t = (await polly.call('POST', '/v1/services/churn/tokens', { body: {} })).body.token as string;
    const first = (await polly.call('GET', '/v1/offers', { token: t })).body.items;
    expect(first.length).toBe(1);
    for (let i = 0; i < 10; i++) {
      expect((await polly.call('POST', '/v1/volumes', { token: t, body: { name: `c${i}`, sizeBytes: GiB } })).status).toBe(201);
      await polly.call('GET', '/v1/offers', { token: t }); // each listing refreshes the service's offers
    }
    const now = (await polly.call('GET', '/v1/offers', { token: t })).body.items;
    expect(now[0].id).toBe(first[0].id);
    expect(now[0].maxBytes).toBeLessThan(first[0].maxBytes); // the live size followed the creates
    const types = (await polly.call('GET', '/v1/events?service=churn&limit=1000')).body.items.map((e: { type: string }) => e.type);
    expect(types.filter((x: string) => x === 'offer.updated')).toEqual([]);
    expect(types.filter((x: string) => x.startsWith('volume.')).length).toBe(20);
  });
});
