import { describe, expect, it } from 'vitest';
import { MAX_FINGERPRINT_DEPTH, requestFingerprint } from '../../src/app/idempotency.js';
import { PollyError } from '../../src/core/errors.js';

function nestedArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('request fingerprint', () => {
  it('refuses a 20,000-level value with VALIDATION_FAILED instead of overflowing the stack', () => {
    let err: unknown;
    try {
      requestFingerprint(['POST', '/v1/volumes', {}, nestedArray(20_000)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PollyError);
    expect((err as PollyError).code).toBe('VALIDATION_FAILED');
  });

  it('takes values up to the depth limit', () => {
    expect(requestFingerprint([nestedArray(MAX_FINGERPRINT_DEPTH - 2)])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same request whatever the key order, and differs for another request', () => {
    const a = requestFingerprint(['POST', '/v1/volumes', { name: 'x', sizeBytes: 1, labels: { a: '1', b: '2' } }]);
    const b = requestFingerprint(['POST', '/v1/volumes', { labels: { b: '2', a: '1' }, sizeBytes: 1, name: 'x' }]);
    const c = requestFingerprint(['POST', '/v1/volumes', { name: 'x', sizeBytes: 2, labels: { a: '1', b: '2' } }]);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    // Structure is part of the hash: ["a","b"] is not ["ab"], {"a":"b"} is not ["a","b"].
    expect(requestFingerprint([['a', 'b']])).not.toBe(requestFingerprint([['ab']]));
    expect(requestFingerprint([{ a: 'b' }])).not.toBe(requestFingerprint([['a', 'b']]));
    expect(requestFingerprint([null])).not.toBe(requestFingerprint([[]]));
  });
});
