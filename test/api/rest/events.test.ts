import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, newService, startPolly, type TestPolly } from '../../helpers/polly.js';

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

interface SseEvent {
  id: string;
  event: string;
  data: { type: string; service: string; objectId: string; seq: number };
}

/** Reads Server-Sent Events with a real HTTP client until `count` events arrived. */
async function readEvents(path: string, bearer: string, count: number, act: () => Promise<void>, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await request(`${polly.url}${path}`, {
    headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toContain('text/event-stream');
  const events: SseEvent[] = [];
  let buffer = '';
  const done = (async () => {
    for await (const chunk of res.body) {
      buffer += chunk.toString();
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((l) => !l.startsWith(':') && l.includes(': '))
            .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
        );
        if (fields.data) events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        if (events.length >= count) return;
      }
    }
  })();
  await act();
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${events.length} events arrived`)), 10_000))]);
  controller.abort();
  return events;
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
