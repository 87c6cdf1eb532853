import { describe, expect, it } from 'vitest';
import { pollyNameFor } from '../../../src/api/csi/names.js';
import { chooseSize, DEFAULT_VOLUME_BYTES, parseCapacityRange, parseVolumeParameters, sizeInRange } from '../../../src/api/csi/requests.js';
import { zoneRequirement, ZONE_KEY } from '../../../src/api/csi/topology.js';
import { isValidName } from '../../../src/core/names.js';

const MiB = 1024 * 1024;

describe('pollyNameFor', () => {
  it.each(['pvc-0b6e7a52-3b5f-4c1e-9a8c-111111111111', 'snapshot-1', 'a'])('keeps the valid name %s', (name) => {
    expect(pollyNameFor(name)).toBe(name);
  });

  it.each(['ns/claim', 'with space', 'x'.repeat(129), '-leading-dash', 'ünïcode', ''])('maps %j to a valid, stable, hashed name', (name) => {
    const mapped = pollyNameFor(name);
    expect(mapped).toMatch(/^csi-[0-9a-f]{40}$/);
    expect(isValidName(mapped)).toBe(true);
    expect(pollyNameFor(name)).toBe(mapped);
  });

  it('maps different names to different names', () => {
    expect(pollyNameFor('a/b')).not.toBe(pollyNameFor('a/c'));
  });
});

describe('capacity ranges', () => {
  const free = { minBytes: 1, maxBytes: 2 ** 53, why: 'profile default' };
  it.each([
    ['required only', { requiredBytes: 8 * MiB, limitBytes: undefined }, free, 8 * MiB],
    ['nothing: the default', { requiredBytes: 0, limitBytes: undefined }, free, DEFAULT_VOLUME_BYTES],
    ['a limit below the default', { requiredBytes: 0, limitBytes: 64 * MiB }, free, 64 * MiB],
    ['raised to the profile minimum', { requiredBytes: MiB, limitBytes: 16 * MiB }, { ...free, minBytes: 4 * MiB }, 4 * MiB],
    ['the default capped by the profile maximum', { requiredBytes: 0, limitBytes: undefined }, { ...free, maxBytes: 10 * MiB }, 10 * MiB],
  ])('%s', (_what, range, bounds, expected) => {
    expect(chooseSize(range, bounds)).toBe(expected);
  });

  it('is OUT_OF_RANGE when nothing in the range is allowed', () => {
    expect(() => chooseSize({ requiredBytes: 0, limitBytes: MiB }, { minBytes: 4 * MiB, maxBytes: 2 ** 53, why: 'profile gold' })).toThrow(/profile gold/);
  });

  it('checks ranges and compatibility', () => {
    expect(parseCapacityRange(null)).toEqual({ requiredBytes: 0, limitBytes: undefined });
    expect(() => parseCapacityRange({ required_bytes: 2, limit_bytes: 1 })).toThrow(/limit_bytes/);
    expect(sizeInRange(4, { requiredBytes: 2, limitBytes: 4 })).toBe(true);
    expect(sizeInRange(5, { requiredBytes: 2, limitBytes: 4 })).toBe(false);
    expect(sizeInRange(1, { requiredBytes: 2, limitBytes: undefined })).toBe(false);
  });
});

describe('parameters', () => {
  it('reads profile, pool and labels, ignores the Kubernetes sidecars’ keys', () => {
    expect(
      parseVolumeParameters({ profile: 'gold', pool: 'p1', 'labels.team': 'db', 'csi.storage.k8s.io/pvc/name': 'data' }),
    ).toEqual({ profile: 'gold', pool: 'p1', labels: { team: 'db' } });
  });

  it.each<Record<string, string>>([{ size: '1Gi' }, { 'labels.': 'x' }, { profile: '' }])('refuses %j', (params) => {
    expect(() => parseVolumeParameters(params)).toThrow(/parameters/);
  });
});

describe('zones', () => {
  const seg = (z: string) => ({ segments: { [ZONE_KEY]: z } });

  it('a requisite term without a zone allows every zone', () => {
    expect(zoneRequirement({ requisite: [seg('a'), { segments: { other: 'x' } }], preferred: [] }).requisite).toBeUndefined();
    expect(zoneRequirement({ requisite: [seg('a'), seg('b')], preferred: [seg('b')] })).toEqual({ requisite: ['a', 'b'], preferred: ['b'] });
  });
});
