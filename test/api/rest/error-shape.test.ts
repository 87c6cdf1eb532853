import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { httpRequest, rawRequest, type RawReply } from '../../helpers/raw-http.js';

let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  token = await newService(polly, 'shape');
});
afterAll(async () => {
  await polly?.stop();
});

/** `[[[…]]]` nested `depth` levels, as a JSON text. */
function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function expectErrorShape(reply: RawReply, status: number, code?: string): void {
  expect(reply.status, reply.body).toBe(status);
  expect(reply.headers['content-type'] ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(reply.body) as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error?.code).toBe('string');
  expect(typeof body.error?.message).toBe('string');
  expect(body.error?.message).not.toBe('');
  if (code) expect(body.error?.code).toBe(code);
}

const auth = () => ({ Authorization: `Bearer ${token}` });

describe('every reply of the REST listener has the error shape, framework rejections included', () => {
  const cases: [string, () => Buffer, number, string?][] = [
    ['bad percent-encoding in the path', () => httpRequest('GET', '/v1/volumes/%ZZ', auth()), 400, 'VALIDATION_FAILED'],
    ['an id far over the parameter length', () => httpRequest('GET', `/v1/volumes/${'a'.repeat(5000)}`, auth()), 400, 'VALIDATION_FAILED'],
    ['an encoded NUL in the path', () => httpRequest('GET', '/v1/volumes/a%00b', auth()), 404, 'VOLUME_NOT_FOUND'],
    ['a raw NUL byte in the request line', () => Buffer.from('GET /v1/volumes/a\u0000b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1'), 400, 'BAD_REQUEST'],
    ['a request line that is not HTTP', () => Buffer.from('HELLO\r\n\r\n', 'latin1'), 400, 'BAD_REQUEST'],
    ['a non-numeric Content-Length', () => Buffer.from('POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n', 'latin1'), 400, 'BAD_REQUEST'],
    ['oversized headers', () => httpRequest('GET', '/v1/volumes', { ...auth(), 'X-Filler': 'x'.repeat(64 * 1024) }), 431, 'HEADERS_TOO_LARGE'],
    ['an unknown content type', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/xml' }, '<volume/>'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a form-encoded body', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/x-www-form-urlencoded' }, 'name=x'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a body over the size limit', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/json' }, `{"name":"${'x'.repeat(2 * 1024 * 1024)}"}`), 413, 'PAYLOAD_TOO_LARGE'],
    ['invalid JSON', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/json' }, '{"name":'), 400, 'INVALID_JSON'],
    ['a 20,000-level nested body with an Idempotency-Key on create', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/json', 'Idempotency-Key': 'deep-1' }, nested(20_000)), 400, 'VALIDATION_FAILED'],
    ['a 20,000-level nested body with an Idempotency-Key on delete (no body schema)', () => httpRequest('DELETE', '/v1/volumes/vol-x', { ...auth(), 'Content-Type': 'application/json', 'Idempotency-Key': 'deep-2' }, nested(20_000)), 400, 'VALIDATION_FAILED'],
    ['a deep object body without a content type', () => httpRequest('DELETE', '/v1/volumes/vol-x', { ...auth(), 'Idempotency-Key': 'deep-3' }, '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)), 400, 'VALIDATION_FAILED'],
    ['an unknown route', () => httpRequest('GET', '/v1/nothing-here', auth()), 404, 'NOT_FOUND'],
    ['an unknown route outside /v1', () => httpRequest('GET', '/nothing', {}), 404, 'NOT_FOUND'],
    ['a method the route does not have', () => httpRequest('PUT', '/v1/volumes', auth(), ''), 405, 'METHOD_NOT_ALLOWED'],
    ['no bearer token', () => httpRequest('GET', '/v1/volumes'), 401, 'UNAUTHENTICATED'],
    ['a bad query value', () => httpRequest('GET', '/v1/volumes?limit=lots', auth()), 400, 'VALIDATION_FAILED'],
    ['bad percent-encoding in the query', () => httpRequest('GET', '/v1/volumes?label=%ZZ', auth()), 400],
    ['a bad Idempotency-Key', () => httpRequest('POST', '/v1/volumes', { ...auth(), 'Content-Type': 'application/json', 'Idempotency-Key': 'k'.repeat(300) }, '{"name":"x","sizeBytes":1}'), 400, 'VALIDATION_FAILED'],
  ];

  it.each(cases)('%s', async (_what, build, status, code) => {
    const reply = await rawRequest(polly.url, build());
    expectErrorShape(reply, status, code);
  });

  it('the 405 names the methods the path has', async () => {
    const reply = await rawRequest(polly.url, httpRequest('PUT', '/v1/volumes', auth(), ''));
    expect(reply.headers.allow?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'POST']);
  });

  it('a deep body within the limit still works, and the server still answers afterwards', async () => {
    const ok = await polly.call('POST', '/v1/volumes', {
      token,
      headers: { 'idempotency-key': 'fine-1' },
      body: { name: 'after-deep', sizeBytes: 1, labels: { a: 'b' } },
    });
    expect(ok.status).toBe(201);
    expect((await polly.call('GET', '/healthz', { token: ADMIN_TOKEN })).status).toBe(200);
  });
});
