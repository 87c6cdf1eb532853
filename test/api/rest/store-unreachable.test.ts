import { describe, expect, it } from 'vitest';
import { isStoreUnreachable } from '../../../src/api/rest/errors.js';

/** Which unexpected errors are the store being out of reach (503 UNAVAILABLE) rather than a bug (500). */
describe('isStoreUnreachable', () => {
  const cases: [string, unknown, boolean][] = [
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), true],
    ['refused, inside an AggregateError', Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), true],
    ['PostgreSQL shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), true],
    ['PostgreSQL starting up (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' }), true],
    ['connection exception class 08', Object.assign(new Error('connection failure'), { code: '08006' }), true],
    ['a connection that died', new Error('Connection terminated unexpectedly'), true],
    ['a unique violation', Object.assign(new Error('duplicate key'), { code: '23505' }), false],
    ['a bug', new TypeError('x is undefined'), false],
  ];
  for (const [what, err, expected] of cases) {
    it(`${what}: ${expected ? '503' : 'not 503'}`, () => expect(isStoreUnreachable(err)).toBe(expected));
  }
});
