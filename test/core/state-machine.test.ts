import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, PollyError } from '../../src/core/errors.js';
import { assertValidLabels, isValidName } from '../../src/core/names.js';
import { assertTransition, canTransition, isTransient } from '../../src/core/state-machine.js';
import type { VolumeStatus } from '../../src/core/types.js';

describe('volume state machine', () => {
  const allowed: Array<[VolumeStatus, VolumeStatus]> = [
    ['creating', 'available'],
    ['creating', 'error'],
    ['available', 'attaching'],
    ['attaching', 'attached'],
    ['attached', 'detaching'],
    ['detaching', 'available'],
    ['available', 'deleting'],
    ['error', 'deleting'],
    ['error', 'available'],
    ['importing', 'available'],
  ];
  const refused: Array<[VolumeStatus, VolumeStatus]> = [
    ['creating', 'attached'],
    ['attached', 'deleting'],
    ['attaching', 'deleting'],
    ['deleting', 'available'],
    ['available', 'creating'],
    ['detaching', 'deleting'],
  ];
  it.each(allowed)('%s → %s is allowed', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition('v', from, to)).not.toThrow();
  });
  it.each(refused)('%s → %s is refused with INVALID_STATE', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    try {
      assertTransition('vol-1', from, to);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PollyError);
      expect((err as PollyError).code).toBe('INVALID_STATE');
      expect((err as PollyError).message).toContain(`vol-1 is ${from}`);
    }
  });
  it('knows which states are intents', () => {
    expect(isTransient('creating')).toBe(true);
    expect(isTransient('deleting')).toBe(true);
    expect(isTransient('available')).toBe(false);
    expect(isTransient('error')).toBe(false);
  });
});

describe('error catalog', () => {
  it('maps every code to an HTTP status and a gRPC code', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(entry.httpStatus, code).toBeGreaterThanOrEqual(400);
      expect(entry.grpcCode, code).toBeGreaterThan(0);
    }
    const e = new PollyError('VOLUME_NOT_FOUND', 'volume x not found');
    expect(e.httpStatus).toBe(404);
    expect(e.grpcCode).toBe(5);
    expect(new PollyError('NO_CAPACITY', 'full').httpStatus).toBe(507);
    expect(new PollyError('VOLUME_NAME_TAKEN', 'x').httpStatus).toBe(409);
  });
});

describe('names and labels', () => {
  it.each([
    ['a', true],
    ['A0_.-z', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['-a', false],
    ['.hidden', false],
    ['a b', false],
    ['a/b', false],
    ['ünïcode', false],
  ])('name %j valid: %s', (name, ok) => {
    expect(isValidName(name)).toBe(ok);
  });
  it('accepts Kubernetes-style label keys and refuses junk', () => {
    expect(() => assertValidLabels('labels', { 'example.com/tier': 'gold', app: '' })).not.toThrow();
    expect(() => assertValidLabels('labels', { 'bad key': 'x' })).toThrow(PollyError);
    expect(() => assertValidLabels('labels', { k: 'v'.repeat(1025) })).toThrow(/at most 1024/);
  });
});
