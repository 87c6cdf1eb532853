import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { httpRequest, rawRequest } from '../../helpers/raw-http.js';

let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  token = await newService(polly, 'proto');
});
afterAll(async () => {
  await polly?.stop();
});

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** Bytes as `curl -X POST URL` sends them: no body, no Content-Length, no Content-Type. */
function bodilessPost(path: string, headers: Record<string, string>): Buffer {
  return httpRequest('POST', path, headers);
}

describe('a POST action without a body is accepted as {}', () => {
  it.each([
    ['no Content-Length, no Content-Type (curl -X POST)', () => bodilessPost('/v1/services/proto/tokens', admin)],
    ['Content-Length: 0, no Content-Type', () => httpRequest('POST', '/v1/services/proto/tokens', admin, '')],
    ['Content-Length: 0 with application/json', () => httpRequest('POST', '/v1/services/proto/tokens', { ...admin, 'Content-Type': 'application/json' }, '')],
  ])('%s', async (_what, build) => {
    const reply = await rawRequest(polly.url, build());
    expect(reply.status, reply.body).toBe(201);
    expect(JSON.parse(reply.body)).toMatchObject({ service: 'proto', token: expect.any(String) });
  });
});

describe('an unknown content type is the 415 the README promises, with the error shape', () => {
  it.each([
    ['text/plain on an action', '/v1/services/proto/tokens', 'text/plain', '{}'],
    ['application/xml on an action', '/v1/services/proto/tokens', 'application/xml', '<token/>'],
    ['multipart/form-data on a create', '/v1/volumes', 'multipart/form-data; boundary=x', '--x\r\n\r\n--x--'],
  ])('%s', async (_what, path, contentType, body) => {
    const reply = await rawRequest(polly.url, httpRequest('POST', path, { ...admin, 'Content-Type': contentType }, body));
    expect(reply.status, reply.body).toBe(415);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const parsed = JSON.parse(reply.body) as { error: { code: string; message: string } };
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(parsed.error.message).toContain(contentType.split(';')[0]);
  });
});

describe('messages name the volume by name as well as id', () => {
  it('a busy volume: delete while attached, and an attach from a second node', async () => {
    const created = await polly.call('POST', '/v1/volumes', { token, body: { name: 'pg-data', sizeBytes: 1024 } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (const node of ['n1', 'n2']) {
      expect((await polly.call('POST', '/v1/nodes', { token, body: { id: `${node}-${process.pid}`, hostname: node } })).status).toBeLessThan(300);
    }
    const attached = await polly.call('POST', `/v1/volumes/${id}/attachments`, { token, body: { node: `n1-${process.pid}`, accessMode: 'RWO' } });
    expect(attached.status, JSON.stringify(attached.body)).toBe(201);
    const del = await polly.call('DELETE', `/v1/volumes/${id}`, { token });
    expect(del.status).toBe(409);
    expect(del.body.error.message).toContain(`volume "pg-data" (${id}) is attached`);
    const second = await polly.call('POST', `/v1/volumes/${id}/attachments`, { token, body: { node: `n2-${process.pid}`, accessMode: 'RWO' } });
    expect(second.body.error.code).toBe('VOLUME_BUSY');
    expect(second.body.error.message).toContain(`volume "pg-data" (${id}) is attached (RWO) to node n1-${process.pid}`);
  });
});
