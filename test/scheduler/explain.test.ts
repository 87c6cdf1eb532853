import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/scheduler/index.js';
import type { PlacementRequest, PoolCandidate } from '../../src/scheduler/index.js';
import { GIB, candidate, profile, request } from './fixtures.js';
import { seededRandom } from '../helpers/random.js';

describe('explain', () => {
  const scheduler = createScheduler();
  const pools = [
    candidate({ name: 'roomy', zone: 'a', capacity: { freeBytes: 90 * GIB, allocatedBytes: 10 * GIB, volumeCount: 1 } }),
    candidate({ name: 'busy', zone: 'a', capacity: { freeBytes: 40 * GIB, allocatedBytes: 60 * GIB, volumeCount: 9 } }),
    candidate({ name: 'tiny', zone: 'a', capacity: { freeBytes: 2 * GIB, allocatedBytes: 98 * GIB } }),
    candidate({ name: 'remote', zone: 'b' }),
    candidate({ name: 'leaving', zone: 'a', state: 'draining' }),
  ];
  const req = request({ topology: { requisite: ['a'] } });

  it('returns every pool: the passing ones by rank with their weights, then the rejected ones', () => {
    const explanation = scheduler.explain(pools, req);
    expect(explanation.chosen).toBe('roomy');
    expect(explanation.result).toEqual({ pool: 'roomy', index: 0 });
    expect(explanation.pools.map((p) => [p.pool, p.passed, p.rank])).toEqual([
      ['roomy', true, 1],
      ['busy', true, 2],
      ['tiny', false, undefined],
      ['remote', false, undefined],
      ['leaving', false, undefined],
    ]);

    const [roomy, busy, tiny, remote, leaving] = explanation.pools;
    expect(roomy!.weights!['free-capacity']).toEqual({ raw: 90 * GIB, normalized: 1, multiplier: 1, weighted: 1 });
    expect(busy!.weights!['free-capacity']).toEqual({ raw: 40 * GIB, normalized: 0, multiplier: 1, weighted: 0 });
    expect(roomy!.weights!['volume-count']).toEqual({ raw: -1, normalized: 1, multiplier: 0.25, weighted: 0.25 });
    // No preferred zones, no affinity, no service volumes: those weigh 0 for everyone.
    expect(roomy!.weights!['topology-preference']).toEqual({ raw: 0, normalized: 0, multiplier: 2, weighted: 0 });
    expect(Object.keys(roomy!.weights!).sort()).toEqual([
      'affinity',
      'allocated-ratio',
      'free-capacity',
      'topology-preference',
      'volume-count',
      'zone-spread',
    ]);
    expect(roomy!.score).toBeCloseTo(1 + 0.5 + 0.25);
    expect(busy!.score).toBe(0);

    expect(tiny).toEqual({
      pool: 'tiny',
      passed: false,
      rejectedBy: {
        filter: 'capacity',
        reason: 'needs 10.0 GiB, 2.0 GiB schedulable (free 2.0 GiB × over-subscription 1.0, 0% reserved)',
      },
    });
    expect(remote!.rejectedBy).toEqual({ filter: 'topology', reason: 'zone b not in [a]' });
    expect(leaving!.rejectedBy).toEqual({ filter: 'pool-state', reason: 'pool is draining' });
  });

  it('counts what each filter removed, and says so in one line', () => {
    const explanation = scheduler.explain(pools, req);
    expect(explanation.filters).toEqual([
      { name: 'quota', active: false, rejected: 0 },
      { name: 'pinned-pool', active: false, rejected: 0 },
      { name: 'topology', active: true, rejected: 1 },
      { name: 'node-reach', active: false, rejected: 0 },
      { name: 'anti-affinity', active: false, rejected: 0 },
      { name: 'capabilities', active: true, rejected: 0 },
      { name: 'pool-state', active: true, rejected: 1 },
      { name: 'profile', active: false, rejected: 0 },
      { name: 'capacity', active: true, rejected: 1 },
    ]);
    expect(explanation.summary).toBe(
      '2 of 5 pools fit: 1 rejected by topology (zone not in [a]), 1 by pool-state (1 draining), ' +
        '1 by capacity (needs 10.0 GiB, largest schedulable 2.0 GiB); chose roomy',
    );
  });

  it('gives the same failure as place when nothing fits', () => {
    const failing = request({ sizeBytes: 500 * GIB, topology: { requisite: ['a'] } });
    const explanation = scheduler.explain(pools, failing);
    expect(explanation.chosen).toBeNull();
    expect(explanation.result).toEqual(scheduler.place(pools, failing));
    expect(explanation.result.pool === null && explanation.result.failure).toBe('NO_CAPACITY');
    expect(explanation.summary).toBe(explanation.result.pool === null ? explanation.result.summary : '');
    expect(explanation.pools.every((p) => !p.passed && p.rejectedBy !== undefined)).toBe(true);
  });

  it('ranks ties by pool name', () => {
    const twins = [candidate({ name: 'b' }), candidate({ name: 'c' }), candidate({ name: 'a' })];
    const explanation = scheduler.explain(twins, request());
    expect(explanation.pools.map((p) => [p.pool, p.rank, p.score])).toEqual([
      ['a', 1, 0],
      ['b', 2, 0],
      ['c', 3, 0],
    ]);
    expect(scheduler.place(twins, request())).toEqual({ pool: 'a', index: 2 });
  });
});

describe('place and explain agree', () => {

  function randomFleet(rand: () => number, size: number): PoolCandidate[] {
    return Array.from({ length: size }, (_, i) => {
      const total = (50 + Math.floor(rand() * 4) * 50) * GIB;
      const used = Math.floor(rand() * 5) / 5; // coarse, so ties happen
      return candidate({
        name: `pool-${String(i).padStart(3, '0')}`,
        zone: ['a', 'b', 'c', 'd'][Math.floor(rand() * 4)]!,
        state: rand() < 0.1 ? 'draining' : 'enabled',
        labels: { media: rand() < 0.5 ? 'ssd' : 'hdd' },
        overSubscriptionRatio: rand() < 0.3 ? 2 : 1,
        reservedPercent: rand() < 0.5 ? 0 : 10,
        capacity: {
          totalBytes: total,
          freeBytes: total * (1 - used),
          allocatedBytes: total * used,
          volumeCount: Math.floor(rand() * 4),
        },
        volumes: rand() < 0.2 ? [{ app: rand() < 0.5 ? 'db' : 'web' }] : [],
      });
    });
  }

  function randomRequest(rand: () => number): PlacementRequest {
    return request({
      sizeBytes: [1, 10, 40, 120][Math.floor(rand() * 4)]! * GIB,
      profile: profile({ media: rand() < 0.3 ? 'ssd' : null }),
      topology: {
        ...(rand() < 0.5 ? { requisite: ['a', 'b', 'c'] } : {}),
        ...(rand() < 0.5 ? { preferred: ['c', 'a'] } : {}),
      },
      ...(rand() < 0.3 ? { antiAffinity: { app: 'db' } } : {}),
      ...(rand() < 0.3 ? { affinity: { app: 'web' } } : {}),
    });
  }

  it('on 200 random fleets and requests', () => {
    const rand = seededRandom(7);
    const schedulers = [
      createScheduler(),
      createScheduler({ weighers: { 'free-capacity': -1, 'zone-spread': 3, affinity: 0 } }),
      createScheduler({ filters: ['pool-state', 'capacity'], weighers: {} }),
    ];
    for (let round = 0; round < 200; round++) {
      const fleet = randomFleet(rand, 1 + Math.floor(rand() * 60));
      const req = randomRequest(rand);
      for (const scheduler of schedulers) {
        const placed = scheduler.place(fleet, req);
        const explained = scheduler.explain(fleet, req);
        expect(explained.result).toEqual(placed);
        if (placed.pool !== null) {
          const top = explained.pools[0]!;
          expect(top.pool).toBe(placed.pool);
          expect(top.rank).toBe(1);
          expect(fleet[placed.index]!.pool.name).toBe(placed.pool);
        }
      }
    }
  });
});
