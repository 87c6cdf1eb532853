import { describe, expect, it } from 'vitest';
import {
  affinityWeigher,
  allocatedRatioWeigher,
  freeCapacityWeigher,
  topologyPreferenceWeigher,
  volumeCountWeigher,
  zoneSpreadWeigher,
} from '../../src/scheduler/weighers/index.js';
import { DEFAULT_WEIGHERS, WEIGHERS } from '../../src/scheduler/index.js';
import { normalize } from '../../src/scheduler/weigher.js';
import type { Labels } from '../../src/core/types.js';
import { GIB, candidate, request } from './fixtures.js';

describe('weighers', () => {
  it('are all registered with a default multiplier', () => {
    expect(Object.keys(DEFAULT_WEIGHERS).sort()).toEqual([...WEIGHERS.keys()].sort());
    for (const multiplier of Object.values(DEFAULT_WEIGHERS)) expect(multiplier).toBeGreaterThan(0);
  });

  describe('normalize (Cinder base_weight)', () => {
    it.each([
      { raw: 5, min: 0, max: 10, expected: 0.5 },
      { raw: 0, min: 0, max: 10, expected: 0 },
      { raw: 10, min: 0, max: 10, expected: 1 },
      { raw: -3, min: -4, max: -2, expected: 0.5 },
      { raw: 7, min: 7, max: 7, expected: 0 },
    ])('$raw in [$min, $max] → $expected', ({ raw, min, max, expected }) => {
      expect(normalize(raw, min, max)).toBe(expected);
    });
  });

  describe('free-capacity', () => {
    it.each([
      { name: 'thick: free minus reserve', spec: { reservedPercent: 10, capacity: { freeBytes: 50 * GIB } }, expected: 40 * GIB },
      {
        name: 'thin: total × ratio − allocated',
        spec: { overSubscriptionRatio: 2, capacity: { freeBytes: 50 * GIB, allocatedBytes: 120 * GIB } },
        expected: 80 * GIB,
      },
      {
        name: 'thin with no real space left: 0',
        spec: { overSubscriptionRatio: 2, reservedPercent: 10, capacity: { freeBytes: 5 * GIB, allocatedBytes: 0 } },
        expected: 0,
      },
      { name: 'unknown capacity weighs as nothing free', spec: { capacity: { totalBytes: 0, freeBytes: 0, unknown: true } }, expected: 0 },
    ])('$name', ({ spec, expected }) => {
      expect(freeCapacityWeigher.weigh(candidate({ name: 'p', ...spec }), request())).toBe(expected);
    });

    it('prefers more room', () => {
      const big = freeCapacityWeigher.weigh(candidate({ name: 'a', capacity: { freeBytes: 90 * GIB } }), request());
      const small = freeCapacityWeigher.weigh(candidate({ name: 'b', capacity: { freeBytes: 10 * GIB } }), request());
      expect(big).toBeGreaterThan(small);
    });
  });

  describe('allocated-ratio', () => {
    it.each([
      { allocated: 0, total: 100, expected: -0 },
      { allocated: 25, total: 100, expected: -0.25 },
      { allocated: 150, total: 100, expected: -1.5 },
      { allocated: 0, total: 0, expected: -1 },
    ])('$allocated of $total → $expected', ({ allocated, total, expected }) => {
      const c = candidate({ name: 'p', capacity: { totalBytes: total * GIB, allocatedBytes: allocated * GIB } });
      expect(allocatedRatioWeigher.weigh(c, request())).toBe(expected);
    });
  });

  describe('volume-count', () => {
    it('fewer volumes weigh more', () => {
      const few = volumeCountWeigher.weigh(candidate({ name: 'a', capacity: { volumeCount: 2 } }), request());
      const many = volumeCountWeigher.weigh(candidate({ name: 'b', capacity: { volumeCount: 20 } }), request());
      expect(few).toBe(-2);
      expect(many).toBe(-20);
    });
  });

  describe('topology-preference', () => {
    const req = request({ topology: { preferred: ['b', 'a', 'b'] } });
    it.each([
      { zone: 'b', expected: 2 },
      { zone: 'a', expected: 1 },
      { zone: 'c', expected: 0 },
      { zone: undefined, expected: 0 },
    ])('zone $zone → $expected', ({ zone, expected }) => {
      expect(topologyPreferenceWeigher.weigh(candidate({ name: 'p', ...(zone ? { zone } : {}) }), req)).toBe(expected);
    });

    it('weighs nothing without preferences', () => {
      expect(topologyPreferenceWeigher.prepare(request(), [])).toBeNull();
    });
  });

  describe('zone-spread', () => {
    it('counts the service volumes per zone over the holders, fewer is better', () => {
      const holders = [
        candidate({ name: 'a1', zone: 'a', volumes: [{}, {}] }),
        candidate({ name: 'a2', zone: 'a', volumes: [{}] }),
        candidate({ name: 'b1', zone: 'b', volumes: [{}] }),
      ];
      const counts = zoneSpreadWeigher.prepare(request(), holders);
      expect(counts).not.toBeNull();
      const weigh = (zone: string): number => zoneSpreadWeigher.value(candidate({ name: 'x', zone }), counts!);
      expect(weigh('a')).toBe(-3);
      expect(weigh('b')).toBe(-1);
      expect(weigh('c')).toBe(-0);
    });

    it('weighs nothing when the service has no volumes', () => {
      expect(zoneSpreadWeigher.prepare(request(), [])).toBeNull();
    });

    it('alone, a candidate counts its own volumes', () => {
      expect(zoneSpreadWeigher.weigh(candidate({ name: 'a', zone: 'a', volumes: [{}, {}] }), request())).toBe(-2);
    });
  });

  describe('affinity', () => {
    const req = request({ affinity: { app: 'db' } });
    it.each<{ name: string; volumes: Labels[]; expected: number }>([
      { name: 'no service volumes', volumes: [], expected: 0 },
      { name: 'volumes without the labels', volumes: [{ app: 'web' }], expected: 0 },
      { name: 'one matching volume', volumes: [{ app: 'db', role: 'primary' }, { app: 'web' }], expected: 1 },
      { name: 'two matching volumes', volumes: [{ app: 'db' }, { app: 'db' }], expected: 2 },
    ])('$name → $expected', ({ volumes, expected }) => {
      expect(affinityWeigher.weigh(candidate({ name: 'p', volumes }), req)).toBe(expected);
    });

    it('weighs nothing without affinity', () => {
      expect(affinityWeigher.prepare(request(), [])).toBeNull();
    });
  });
});
