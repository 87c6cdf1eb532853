import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let a: string;
let b: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  a = await newService(polly, 'svc-a');
  b = await newService(polly, 'svc-b');
});
afterAll(async () => {
  await polly?.stop();
});

describe('node registration across services', () => {
  it('the first registrant (or the admin) owns a node’s topology; other services may only re-register it as it is', async () => {
    const first = await polly.call('POST', '/v1/nodes', { token: a, body: { id: 'shared-host', hostname: 'h1', topology: { zone: 'a' } } });
    expect(first.status).toBe(200);
    // Service B's agent on the same host registers the same node unchanged: fine.
    expect((await polly.call('POST', '/v1/nodes', { token: b, body: { id: 'shared-host', hostname: 'h1', topology: { zone: 'a' } } })).status).toBe(200);
    // …but cannot move it to another zone.
    const moved = await polly.call('POST', '/v1/nodes', { token: b, body: { id: 'shared-host', hostname: 'h1', topology: { zone: 'b' } } });
    expect(moved.status).toBe(403);
    expect(moved.body.error.code).toBe('FORBIDDEN');
    expect((await polly.call('GET', '/v1/nodes/shared-host', { token: a })).body.topology).toEqual({ zone: 'a' });
    // The owner and the admin can.
    expect((await polly.call('POST', '/v1/nodes', { token: a, body: { id: 'shared-host', hostname: 'h1', topology: { zone: 'c' } } })).status).toBe(200);
    expect((await polly.call('POST', '/v1/nodes', { body: { id: 'shared-host', hostname: 'h1', topology: { zone: 'd' } } })).status).toBe(200);
    expect((await polly.call('GET', '/v1/nodes/shared-host', { token: b })).body.topology).toEqual({ zone: 'd' });
  });
});
