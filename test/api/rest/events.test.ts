import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { collectSse, type SseEvent } from '../../helpers/sse.js';

let polly: TestPolly;
let token: string;
let other: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  token = await newService(polly, 'watcher');
  other = await newService(polly, 'other');
});
afterAll(async () => {
  await polly?.stop();
});

/** Reads Server-Sent Events with a real HTTP client until `count` events arrived. */
function readEvents(path: string, bearer: string, count: number, act: () => Promise<void>, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  return collectSse(`${polly.url}${path}`, bearer, count, act, { headers });
}

describe('GET /v1/events (Server-Sent Events)', () => {
  it('streams a service its own volume events live, and not other services’', async () => {
    const events = await readEvents('/v1/events?type=volume', token, 2, async () => {
      await polly.call('POST', '/v1/volumes', { token: other, body: { name: 'not-yours', sizeBytes: 1 } });
      await polly.call('POST', '/v1/volumes', { token, body: { name: 'mine', sizeBytes: 1 } });
    });
    expect(events.map((e) => e.event)).toEqual(['volume.creating', 'volume.created']);
    expect(events.every((e) => e.data.service === 'watcher')).toBe(true);
    expect(Number(events[1]?.id)).toBeGreaterThan(Number(events[0]?.id));
  });

  it('resumes after Last-Event-ID without losing or repeating events', async () => {
    const before = await polly.call('GET', '/v1/events?type=volume', { token });
    const last = before.body.items.at(-1).seq as number;
    await polly.call('POST', '/v1/volumes', { token, body: { name: 'while-away', sizeBytes: 1 } });
    const events = await readEvents('/v1/events?type=volume', token, 2, async () => undefined, { 'last-event-id': String(last) });
    expect(events.map((e) => e.event)).toEqual(['volume.creating', 'volume.created']);
    expect(events.every((e) => e.data.seq > last)).toBe(true);
  });

  it('the admin sees every service’s events', async () => {
    const events = await readEvents('/v1/events?type=volume.created', ADMIN_TOKEN, 2, async () => {
      await polly.call('POST', '/v1/volumes', { token, body: { name: 'a1', sizeBytes: 1 } });
      await polly.call('POST', '/v1/volumes', { token: other, body: { name: 'b1', sizeBytes: 1 } });
    });
    expect(events.map((e) => e.data.service).sort()).toEqual(['other', 'watcher']);
  });

  it('without the SSE accept header returns a JSON page', async () => {
    const res = await polly.call('GET', '/v1/events?type=volume.created&limit=2', { token });
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBe(2);
    expect(res.body.items[0]).toMatchObject({ type: 'volume.created', service: 'watcher' });
  });
});
