import { describe, expect, it } from 'vitest';
import { consumeFromVolume, createScheduler } from '../../src/scheduler/index.js';
import { GIB, candidate, request } from './fixtures.js';

describe('consumeFromVolume', () => {
  it('accounts the volume on the candidate, without touching the caller’s capacity object', () => {
    const capacity = { totalBytes: 100 * GIB, freeBytes: 100 * GIB, allocatedBytes: 0, volumeCount: 0 };
    const c = candidate({ name: 'p', capacity });
    consumeFromVolume(c, { sizeBytes: 10 * GIB, labels: { app: 'db' } });
    expect(c.capacity).toEqual({ totalBytes: 100 * GIB, freeBytes: 90 * GIB, allocatedBytes: 10 * GIB, volumeCount: 1 });
    expect(c.serviceVolumeLabels).toEqual([{ app: 'db' }]);
    expect(capacity.freeBytes).toBe(100 * GIB);
  });

  it('never takes free below zero (thin pools allocate more than is free)', () => {
    const c = candidate({ name: 'p', overSubscriptionRatio: 3, capacity: { freeBytes: 5 * GIB } });
    consumeFromVolume(c, { sizeBytes: 10 * GIB });
    expect(c.capacity.freeBytes).toBe(0);
    expect(c.capacity.allocatedBytes).toBe(10 * GIB);
    expect(c.serviceVolumeLabels).toEqual([{}]);
  });

  it('spreads a batch of 10 × 10 GiB over two 50 GiB pools 5/5 with the free-capacity weigher', () => {
    const scheduler = createScheduler({ weighers: { 'free-capacity': 1 } });
    const pools = [
      candidate({ name: 'a', capacity: { totalBytes: 50 * GIB, freeBytes: 50 * GIB } }),
      candidate({ name: 'b', capacity: { totalBytes: 50 * GIB, freeBytes: 50 * GIB } }),
    ];
    const placed: string[] = [];
    for (let i = 0; i < 10; i++) {
      const result = scheduler.place(pools, request());
      if (result.pool === null) throw new Error(result.summary);
      placed.push(result.pool);
      consumeFromVolume(pools[result.index]!, { sizeBytes: 10 * GIB });
    }
    expect(placed).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(pools.map((p) => p.capacity.volumeCount)).toEqual([5, 5]);
    const eleventh = scheduler.place(pools, request());
    expect(eleventh.pool === null && eleventh.failure).toBe('NO_CAPACITY');
  });

  it('without consuming, a batch would pile onto one pool', () => {
    const scheduler = createScheduler({ weighers: { 'free-capacity': 1 } });
    const pools = [candidate({ name: 'a' }), candidate({ name: 'b' })];
    const placed = Array.from({ length: 4 }, () => scheduler.place(pools, request()).pool);
    expect(placed).toEqual(['a', 'a', 'a', 'a']);
  });

  it('a batch sees its own anti-affinity and zone spread', () => {
    const scheduler = createScheduler();
    const pools = ['a', 'b', 'c'].map((zone) => candidate({ name: `pool-${zone}`, zone }));
    const replicas = { antiAffinity: { app: 'db' } };
    const zones: Array<string | null> = [];
    for (let i = 0; i < 3; i++) {
      const result = scheduler.place(pools, request(replicas));
      if (result.pool === null) throw new Error(result.summary);
      zones.push(pools[result.index]!.zone);
      consumeFromVolume(pools[result.index]!, { sizeBytes: 10 * GIB, labels: { app: 'db' } });
    }
    expect(new Set(zones).size).toBe(3);
    const fourth = scheduler.place(pools, request(replicas));
    expect(fourth.pool === null && fourth.failure).toBe('NO_MATCHING_POOL');
    expect(fourth.pool === null && fourth.summary).toBe(
      '0 of 3 pools fit: 3 rejected by anti-affinity (holds a volume labelled app=db)',
    );
  });
});
