import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { VERSION } from '../../../src/version.js';

let polly: TestPolly;
beforeAll(async () => {
  polly = await startPolly();
});
afterAll(async () => {
  await polly?.stop();
});

describe('authentication', () => {
  it('refuses a request without a token with 401 UNAUTHENTICATED', async () => {
    const res = await polly.call('GET', '/v1/volumes', { token: null });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an unknown token', async () => {
    const res = await polly.call('GET', '/v1/volumes', { token: 'polly_not-a-real-token' });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses admin-only routes to a service token with 403 FORBIDDEN', async () => {
    const token = await newService(polly, 'auth-tenant');
    const res = await polly.call('POST', '/v1/services', { token, body: { name: 'sneaky' } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    const tok = await polly.call('POST', '/v1/services/auth-tenant/tokens', { token, body: {} });
    expect(tok.status).toBe(403);
  });

  it('serves health, readiness, metrics and the OpenAPI document without a token', async () => {
    expect((await polly.call('GET', '/healthz', { token: null })).body).toEqual({ status: 'ok', version: VERSION });
    const ready = await polly.call('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.store).toBe('sqlite');
    const openapi = await polly.call('GET', '/openapi.json', { token: null });
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/volumes', '/v1/volumes/{id}', '/v1/services', '/v1/snapshots']));
    const docs = await polly.call('GET', '/docs', { token: null });
    expect([200, 302]).toContain(docs.status);
    const metrics = await polly.call('GET', '/metrics', { token: null });
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain('polly_http_requests_total');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await polly.call('GET', '/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('services', () => {
  it('creates, lists, gets and deletes a service; its tokens die with it', async () => {
    const created = await polly.call('POST', '/v1/services', { body: { name: 'svc-a', labels: { team: 'storage' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'svc-a', labels: { team: 'storage' } });
    const token = (await polly.call('POST', '/v1/services/svc-a/tokens', { body: { description: 'ci' } })).body.token as string;
    expect(token).toMatch(/^polly_/);

    const asService = await polly.call('GET', '/v1/services', { token });
    expect(asService.body.items.map((s: { name: string }) => s.name)).toEqual(['svc-a']);
    const all = await polly.call('GET', '/v1/services');
    expect(all.body.items.map((s: { name: string }) => s.name)).toContain('svc-a');
    expect((await polly.call('GET', '/v1/services/svc-a', { token })).status).toBe(200);

    const del = await polly.call('DELETE', '/v1/services/svc-a');
    expect(del.status).toBe(204);
    expect((await polly.call('GET', '/v1/services/svc-a')).body.error.code).toBe('SERVICE_NOT_FOUND');
    // The token cache lives at most a few seconds; deletion clears it at once on this replica.
    expect((await polly.call('GET', '/v1/volumes', { token })).status).toBe(401);
  });

  it('refuses duplicates, bad names and unknown fields', async () => {
    await polly.call('POST', '/v1/services', { body: { name: 'dup' } });
    const dup = await polly.call('POST', '/v1/services', { body: { name: 'dup' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('SERVICE_EXISTS');
    for (const name of ['', '-bad', 'has space', 'x'.repeat(129), 'slash/no']) {
      const res = await polly.call('POST', '/v1/services', { body: { name } });
      expect(res.status, name).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const extra = await polly.call('POST', '/v1/services', { body: { name: 'ok1', colour: 'red' } });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toContain('colour');
  });

  it('a service sees no other service', async () => {
    const token = await newService(polly, 'peeker');
    await polly.call('POST', '/v1/services', { body: { name: 'hidden' } });
    const res = await polly.call('GET', '/v1/services/hidden', { token });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('SERVICE_NOT_FOUND');
  });

  it('refuses to delete a service that owns volumes', async () => {
    const token = await newService(polly, 'owner');
    const vol = await polly.call('POST', '/v1/volumes', { token, body: { name: 'keep', sizeBytes: 1024 } });
    expect(vol.status).toBe(201);
    const del = await polly.call('DELETE', '/v1/services/owner');
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('SERVICE_NOT_EMPTY');
  });
});
