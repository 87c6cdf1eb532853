import { describe, expect, it } from 'vitest';
import { isPollyError } from '../../src/core/errors.js';
import { createScheduler } from '../../src/scheduler/index.js';
import type { PlacementResult, PoolCandidate } from '../../src/scheduler/index.js';
import { BLOCK_DRIVER, GIB, candidate, profile, request } from './fixtures.js';

function chosenPool(result: PlacementResult): string | null {
  return result.pool;
}

/** Twelve pools over zones a, b, c (four each), all enabled and empty. */
function fleet(): PoolCandidate[] {
  return Array.from({ length: 12 }, (_, i) => candidate({ name: `p${String(i).padStart(2, '0')}`, zone: 'abc'[i % 3]! }));
}

describe('createScheduler', () => {
  it('rejects unknown filters and weighers, duplicates and non-finite multipliers', () => {
    const attempts = [
      () => createScheduler({ filters: ['nope'] }),
      () => createScheduler({ filters: ['capacity', 'capacity'] }),
      () => createScheduler({ weighers: { nope: 1 } }),
      () => createScheduler({ weighers: { 'free-capacity': Number.NaN } }),
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        attempt();
      } catch (caught) {
        error = caught;
      }
      expect(isPollyError(error) && error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('runs only the configured filters', () => {
    const scheduler = createScheduler({ filters: ['capacity'] });
    const pools = [candidate({ name: 'draining', state: 'draining' })];
    expect(scheduler.place(pools, request())).toEqual({ pool: 'draining', index: 0 });
  });
});

describe('place', () => {
  const scheduler = createScheduler();

  it('returns the pool and its index', () => {
    const pools = [candidate({ name: 'a', capacity: { freeBytes: 20 * GIB } }), candidate({ name: 'b' })];
    expect(scheduler.place(pools, request())).toEqual({ pool: 'b', index: 1 });
  });

  it('keeps to the requisite zones and prefers the first preferred zone', () => {
    const pools = fleet();
    const result = scheduler.place(pools, request({ topology: { requisite: ['b', 'c'], preferred: ['c', 'b'] } }));
    expect(pools.find((c) => c.pool.name === chosenPool(result))?.zone).toBe('c');
    const second = scheduler.place(pools, request({ topology: { requisite: ['a', 'b'], preferred: ['c', 'b'] } }));
    expect(pools.find((c) => c.pool.name === chosenPool(second))?.zone).toBe('b');
  });

  it('never chooses a draining or disabled pool, even the emptiest', () => {
    const pools = [
      candidate({ name: 'draining', state: 'draining', capacity: { totalBytes: 1000 * GIB, freeBytes: 1000 * GIB } }),
      candidate({ name: 'disabled', state: 'disabled', capacity: { totalBytes: 1000 * GIB, freeBytes: 1000 * GIB } }),
      candidate({ name: 'small', capacity: { freeBytes: 20 * GIB, allocatedBytes: 80 * GIB } }),
    ];
    expect(chosenPool(scheduler.place(pools, request()))).toBe('small');
  });

  it('places on a thin pool whose allocations exceed its free space', () => {
    const pools = [
      candidate({ name: 'thick', capacity: { freeBytes: 5 * GIB, allocatedBytes: 95 * GIB } }),
      candidate({ name: 'thin', overSubscriptionRatio: 2, capacity: { freeBytes: 8 * GIB, allocatedBytes: 150 * GIB } }),
    ];
    expect(chosenPool(scheduler.place(pools, request()))).toBe('thin');
  });

  it('honours hard anti-affinity and soft affinity', () => {
    const pools = [
      candidate({ name: 'has-db', volumes: [{ app: 'db' }] }),
      candidate({ name: 'has-web', volumes: [{ app: 'web' }], capacity: { freeBytes: 50 * GIB } }),
      candidate({ name: 'empty' }),
    ];
    expect(chosenPool(scheduler.place(pools, request({ antiAffinity: { app: 'db' }, affinity: { app: 'web' } })))).toBe(
      'has-web',
    );
    expect(chosenPool(scheduler.place(pools.slice(0, 1), request({ antiAffinity: { app: 'db' } })))).toBeNull();
  });

  it('spreads a service across zones', () => {
    const pools = [
      candidate({ name: 'a1', zone: 'a', volumes: [{}, {}] }),
      candidate({ name: 'a2', zone: 'a' }),
      candidate({ name: 'b1', zone: 'b', volumes: [{}] }),
      candidate({ name: 'c1', zone: 'c', capacity: { freeBytes: 90 * GIB } }),
      candidate({ name: 'c2', zone: 'c', state: 'draining', volumes: [{}, {}, {}] }),
    ];
    // c holds 3 volumes (on a draining pool: they still count), a 2, b 1.
    expect(chosenPool(scheduler.place(pools, request()))).toBe('b1');
  });

  it('honours a pinned pool', () => {
    const pools = fleet();
    expect(chosenPool(scheduler.place(pools, request({ pinnedPool: 'p07' })))).toBe('p07');
  });

  it('breaks ties by pool name, whatever the input order', () => {
    const pools = fleet();
    const reversed = [...pools].reverse();
    const shuffled = [pools[5]!, pools[2]!, pools[9]!, pools[0]!, pools[11]!, pools[3]!];
    expect(chosenPool(scheduler.place(pools, request()))).toBe('p00');
    expect(chosenPool(scheduler.place(reversed, request()))).toBe('p00');
    expect(chosenPool(scheduler.place(shuffled, request()))).toBe('p00');
  });

  it('handles no candidates at all', () => {
    expect(scheduler.place([], request())).toEqual({
      pool: null,
      failure: 'NO_MATCHING_POOL',
      summary: '0 of 0 pools fit: no candidate pools',
    });
  });

  it('grows its scratch space past the initial size', () => {
    const big = Array.from({ length: 5000 }, (_, i) =>
      candidate({ name: `q${String(i).padStart(5, '0')}`, zone: `z${i % 5}`, capacity: { freeBytes: (i % 97) * GIB } }),
    );
    const req = request({ topology: { requisite: ['z1'] } });
    const result = scheduler.place(big, req);
    expect(result.pool).toBe('q00096'); // the first pool of zone z1 with 96 GiB free
    expect(scheduler.explain(big, req).chosen).toBe(result.pool);
  });
});

describe('failures', () => {
  const scheduler = createScheduler();

  it('NO_CAPACITY when some pool fails on capacity alone', () => {
    const pools = [
      candidate({ name: 'full', zone: 'a', capacity: { freeBytes: GIB + GIB / 2 } }),
      candidate({ name: 'elsewhere', zone: 'b' }),
    ];
    const result = scheduler.place(pools, request({ topology: { requisite: ['a'] } }));
    expect(result).toEqual({
      pool: null,
      failure: 'NO_CAPACITY',
      summary:
        '0 of 2 pools fit: 1 rejected by topology (zone not in [a]), 1 by capacity (needs 10.0 GiB, largest schedulable 1.5 GiB)',
    });
  });

  it('NO_MATCHING_POOL when every pool that is too small is also unsuitable', () => {
    const pools = [
      candidate({ name: 'full-and-draining', state: 'draining', capacity: { freeBytes: GIB } }),
      candidate({ name: 'block-only', capabilities: BLOCK_DRIVER }),
    ];
    const result = scheduler.place(pools, request({ accessMode: 'RWX' }));
    expect(result.pool).toBeNull();
    if (result.pool !== null) return;
    expect(result.failure).toBe('NO_MATCHING_POOL');
    expect(result.summary).toBe(
      '0 of 2 pools fit: 1 rejected by capabilities (access mode RWX not in [RWO, RWOP]), 1 by pool-state (1 draining)',
    );
  });

  it('QUOTA_EXCEEDED before anything else', () => {
    const pools = fleet();
    const result = scheduler.place(pools, request({ quota: { remainingBytes: 4 * GIB, remainingVolumes: 3 } }));
    expect(result).toEqual({
      pool: null,
      failure: 'QUOTA_EXCEEDED',
      summary: '0 of 12 pools fit: 12 rejected by quota (needs 10.0 GiB, quota has 4.0 GiB remaining)',
    });
    expect(scheduler.place([], request({ quota: { remainingBytes: null, remainingVolumes: 0 } }))).toMatchObject({
      failure: 'QUOTA_EXCEEDED',
    });
  });

  it('the summary names every rejecting filter, largest group first', () => {
    const pools = [
      ...Array.from({ length: 7 }, (_, i) => candidate({ name: `small${i}`, zone: 'a', capacity: { freeBytes: i * GIB } })),
      ...Array.from({ length: 5 }, (_, i) => candidate({ name: `far${i}`, zone: 'b' })),
    ];
    const result = scheduler.place(pools, request({ topology: { requisite: ['a'] } }));
    expect(result.pool === null && result.summary).toBe(
      '0 of 12 pools fit: 7 rejected by capacity (needs 10.0 GiB, largest schedulable 6.0 GiB), 5 by topology (zone not in [a])',
    );
  });

  it('the profile and its services', () => {
    const pools = fleet();
    const result = scheduler.place(pools, request({ profile: profile({ services: ['other'] }) }));
    expect(result.pool === null && result.failure).toBe('NO_MATCHING_POOL');
    expect(result.pool === null && result.summary).toBe(
      '0 of 12 pools fit: 12 rejected by profile (service tenant-a may not use profile standard)',
    );
  });
});
