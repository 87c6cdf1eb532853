import { describe, expect, it } from 'vitest';
import type { PoolCapacity } from '../../src/core/types.js';
import {
  antiAffinityFilter,
  capabilitiesFilter,
  capacityFilter,
  nodeReachFilter,
  pinnedPoolFilter,
  poolStateFilter,
  profileFilter,
  quotaFilter,
  topologyFilter,
} from '../../src/scheduler/filters/index.js';
import { DEFAULT_FILTER_ORDER, FILTERS } from '../../src/scheduler/index.js';
import type { Filter, PlacementRequest } from '../../src/scheduler/index.js';
import { BLOCK_DRIVER, DIRECTORY_DRIVER, GIB, MIB, candidate, profile, request } from './fixtures.js';
import type { CandidateSpec } from './fixtures.js';

interface Case {
  name: string;
  pool?: Partial<CandidateSpec>;
  request?: Partial<PlacementRequest>;
  /** null: passes; a string: the reason, exactly; a RegExp: the reason matches. */
  expected: null | string | RegExp;
}

function table(filter: Filter, cases: Case[]): void {
  describe(filter.name, () => {
    it.each(cases)('$name', ({ pool, request: overrides, expected }) => {
      const reason = filter.passes(candidate({ name: 'p1', ...pool }), request(overrides));
      if (expected === null) expect(reason).toBeNull();
      else if (typeof expected === 'string') expect(reason).toBe(expected);
      else expect(reason).toMatch(expected);
    });
  });
}

function capacity(totalGiB: number, freeGiB: number, allocatedGiB = totalGiB - freeGiB): Partial<PoolCapacity> {
  return { totalBytes: totalGiB * GIB, freeBytes: freeGiB * GIB, allocatedBytes: allocatedGiB * GIB };
}

describe('filters', () => {
  it('are all registered, in the default order', () => {
    expect(DEFAULT_FILTER_ORDER).toEqual([
      'quota',
      'pinned-pool',
      'topology',
      'node-reach',
      'anti-affinity',
      'capabilities',
      'pool-state',
      'profile',
      'capacity',
    ]);
    for (const name of DEFAULT_FILTER_ORDER) expect(FILTERS.get(name)?.name).toBe(name);
  });

  table(poolStateFilter, [
    { name: 'enabled passes', pool: { state: 'enabled' }, expected: null },
    { name: 'draining is rejected', pool: { state: 'draining' }, expected: 'pool is draining' },
    { name: 'disabled is rejected', pool: { state: 'disabled' }, expected: 'pool is disabled' },
  ]);

  table(pinnedPoolFilter, [
    { name: 'no pin passes every pool', expected: null },
    { name: 'the pinned pool passes', request: { pinnedPool: 'p1' }, expected: null },
    { name: 'another pool is rejected', request: { pinnedPool: 'p2' }, expected: 'request is pinned to pool p2' },
  ]);

  table(capacityFilter, [
    { name: 'plenty of room', pool: { capacity: capacity(100, 100) }, expected: null },
    // A backend that reports no capacity (unknown) is admitted explicitly; the backend decides.
    { name: 'unknown capacity passes', pool: { capacity: { totalBytes: 0, freeBytes: 0, allocatedBytes: 500 * GIB, unknown: true } }, expected: null },
    { name: 'exactly fits', pool: { capacity: capacity(100, 10) }, expected: null },
    {
      name: 'one byte short',
      pool: { capacity: { ...capacity(100, 10), freeBytes: 10 * GIB - 1 } },
      expected: /^needs 10\.0 GiB, 10\.0 GiB schedulable/,
    },
    {
      name: 'reserved percent applies to the total',
      pool: { capacity: capacity(100, 15), reservedPercent: 10 },
      expected: 'needs 10.0 GiB, 5.0 GiB schedulable (free 15.0 GiB × over-subscription 1.0, 10% reserved)',
    },
    { name: 'reserved percent, exactly fits', pool: { capacity: capacity(100, 20), reservedPercent: 10 }, expected: null },
    {
      name: 'thick: allocated does not matter, free does',
      pool: { capacity: capacity(100, 50, 200) },
      expected: null,
    },
    {
      name: 'over-subscription 2.0 lets allocated exceed free',
      pool: { capacity: capacity(100, 20, 150), overSubscriptionRatio: 2 },
      expected: null,
    },
    {
      name: 'over-subscription 2.0, exactly at the provisioned limit',
      pool: { capacity: capacity(100, 20, 190), overSubscriptionRatio: 2 },
      expected: null,
    },
    {
      name: 'over-subscription 2.0, over the provisioned limit',
      pool: { capacity: capacity(100, 20, 195), overSubscriptionRatio: 2 },
      expected: 'needs 10.0 GiB, 5.0 GiB schedulable (total 100.0 GiB × over-subscription 2.0 − allocated 195.0 GiB)',
    },
    {
      name: 'over-subscription never writes into the reserve',
      pool: { capacity: capacity(100, 5, 100), overSubscriptionRatio: 2, reservedPercent: 5 },
      expected: /^needs 10\.0 GiB, no real space left for thin provisioning \(free 5\.0 GiB, 5% reserved of 100\.0 GiB\)$/,
    },
    {
      name: 'over-subscription with a little real space left',
      pool: { capacity: capacity(100, 6, 100), overSubscriptionRatio: 2, reservedPercent: 5 },
      expected: null,
    },
    {
      name: 'small sizes in MiB',
      pool: { capacity: { totalBytes: GIB, freeBytes: 512 * MIB, allocatedBytes: 0 } },
      request: { sizeBytes: 600 * MIB },
      expected: 'needs 600.0 MiB, 512.0 MiB schedulable (free 512.0 MiB × over-subscription 1.0, 0% reserved)',
    },
  ]);

  table(profileFilter, [
    { name: 'an open profile passes every pool', expected: null },
    { name: 'in the allow-list', request: { profile: profile({ pools: ['p0', 'p1'] }) }, expected: null },
    {
      name: 'not in the allow-list',
      request: { profile: profile({ pools: ['p0'] }) },
      expected: "not in profile standard's pools",
    },
    {
      name: 'selector is a subset of the pool labels',
      pool: { labels: { tier: 'gold', rack: 'r1' } },
      request: { profile: profile({ poolSelector: { tier: 'gold' } }) },
      expected: null,
    },
    {
      name: 'selector label missing',
      pool: { labels: { rack: 'r1' } },
      request: { profile: profile({ poolSelector: { tier: 'gold' } }) },
      expected: "labels do not match profile standard's selector tier=gold",
    },
    {
      name: 'media matches the media label',
      pool: { labels: { media: 'ssd' } },
      request: { profile: profile({ media: 'ssd' }) },
      expected: null,
    },
    {
      name: 'media differs',
      pool: { labels: { media: 'hdd' } },
      request: { profile: profile({ media: 'ssd' }) },
      expected: 'media hdd, profile standard needs ssd',
    },
    {
      name: 'media unset on the pool',
      request: { profile: profile({ media: 'ssd' }) },
      expected: 'media unset, profile standard needs ssd',
    },
    { name: 'service allowed', request: { profile: profile({ services: ['tenant-a'] }) }, expected: null },
    {
      name: 'service not allowed',
      request: { profile: profile({ services: ['tenant-b'] }) },
      expected: 'service tenant-a may not use profile standard',
    },
  ]);

  table(capabilitiesFilter, [
    { name: 'a plain filesystem volume', expected: null },
    { name: 'block on a block driver', pool: { capabilities: BLOCK_DRIVER }, request: { volumeMode: 'block' }, expected: null },
    { name: 'block on a directory driver', request: { volumeMode: 'block' }, expected: 'driver has no block volumes' },
    {
      name: 'fsType the driver offers',
      pool: { capabilities: BLOCK_DRIVER },
      request: { fsType: 'xfs' },
      expected: null,
    },
    {
      name: 'fsType the driver does not offer',
      pool: { capabilities: BLOCK_DRIVER },
      request: { fsType: 'btrfs' },
      expected: 'fsType btrfs not in [ext4, xfs]',
    },
    { name: 'fsType on a directory driver is ignored', request: { fsType: 'xfs' }, expected: null },
    { name: 'fsType on a block volume is ignored', pool: { capabilities: BLOCK_DRIVER }, request: { volumeMode: 'block', fsType: 'btrfs' }, expected: null },
    {
      name: 'snapshots needed',
      pool: { capabilities: { ...DIRECTORY_DRIVER, snapshots: false } },
      request: { needs: { snapshots: true } },
      expected: 'driver has no snapshots',
    },
    { name: 'clones needed', pool: { capabilities: BLOCK_DRIVER }, request: { needs: { clones: true } }, expected: 'driver has no clones' },
    {
      name: 'restore needed',
      pool: { capabilities: { ...DIRECTORY_DRIVER, restore: false } },
      request: { needs: { restore: true } },
      expected: 'driver cannot restore from snapshots',
    },
    { name: 'access mode offered', request: { accessMode: 'RWX' }, expected: null },
    {
      name: 'access mode not offered',
      pool: { capabilities: BLOCK_DRIVER },
      request: { accessMode: 'RWX' },
      expected: 'access mode RWX not in [RWO, RWOP]',
    },
    {
      name: 'QoS asked by the profile',
      request: { profile: profile({ qos: { iops: 1000 } }) },
      expected: 'profile sets QoS, driver has no QoS',
    },
    {
      name: 'QoS on a QoS driver',
      pool: { capabilities: BLOCK_DRIVER },
      request: { profile: profile({ qos: { bandwidthBytes: 100 * MIB } }) },
      expected: null,
    },
  ]);

  table(topologyFilter, [
    { name: 'no requisite passes', pool: { zone: 'a' }, expected: null },
    { name: 'empty requisite passes', pool: { zone: 'a' }, request: { topology: { requisite: [] } }, expected: null },
    { name: 'zone in the requisite', pool: { zone: 'b' }, request: { topology: { requisite: ['a', 'b'] } }, expected: null },
    {
      name: 'zone not in the requisite',
      pool: { zone: 'c' },
      request: { topology: { requisite: ['a', 'b'] } },
      expected: 'zone c not in [a, b]',
    },
    // The one zone rule (zones.ts), as CSI and attach read it: a pool without a zone is reachable from every zone.
    { name: 'pool without a zone passes any requisite', request: { topology: { requisite: ['a'] } }, expected: null },
  ]);

  // A volume made for a node (Docker's Create on the host whose task mounts it): the attach rule, ahead of time.
  const forNode = (id: string, zone: string | null = null, home: string | null = null) => ({ node: { id, zone, home } });
  table(nodeReachFilter, [
    { name: 'no node passes every pool', pool: { nodes: ['host-1'] }, expected: null },
    { name: 'a node-local pool on the node', pool: { nodes: ['host-1', 'host-2'] }, request: forNode('host-2'), expected: null },
    { name: 'a node-local pool on other nodes', pool: { nodes: ['host-1'] }, request: forNode('host-2'), expected: 'lives on host-1, not on node host-2' },
    { name: 'a shared node-local pool', pool: { shared: true }, request: forNode('host-2'), expected: null },
    { name: 'an undeclared node-local pool on its home node', request: forNode('host-1', null, 'host-1'), expected: null },
    { name: 'an undeclared node-local pool elsewhere', request: forNode('host-2', null, 'host-1'), expected: 'lives on host-1, not on node host-2' },
    { name: 'an undeclared node-local pool before any node', request: forNode('host-2'), expected: 'lives on no node yet, not on node host-2' },
    { name: 'a networked pool, no zones', pool: { driver: 'rbd' }, request: forNode('host-2'), expected: null },
    { name: 'a networked pool of the node\'s zone', pool: { driver: 'rbd', zone: 'a' }, request: forNode('host-2', 'a'), expected: null },
    { name: 'a networked pool of another zone', pool: { driver: 'rbd', zone: 'b' }, request: forNode('host-2', 'a'), expected: "zone b is not node host-2's zone a" },
  ]);

  table(antiAffinityFilter, [
    { name: 'no anti-affinity', pool: { volumes: [{ app: 'db' }] }, expected: null },
    { name: 'empty anti-affinity selects nothing', pool: { volumes: [{ app: 'db' }] }, request: { antiAffinity: {} }, expected: null },
    { name: 'no volumes of the service', request: { antiAffinity: { app: 'db' } }, expected: null },
    {
      name: 'volumes that do not match',
      pool: { volumes: [{ app: 'web' }, { app: 'db', role: 'replica' }] },
      request: { antiAffinity: { app: 'db', role: 'primary' } },
      expected: null,
    },
    {
      name: 'a matching volume',
      pool: { volumes: [{ app: 'web' }, { app: 'db', role: 'primary' }] },
      request: { antiAffinity: { app: 'db' } },
      expected: 'holds a volume labelled app=db',
    },
    {
      name: 'two matching volumes',
      pool: { volumes: [{ app: 'db' }, { app: 'db' }] },
      request: { antiAffinity: { app: 'db' } },
      expected: 'holds 2 volumes labelled app=db',
    },
  ]);

  table(quotaFilter, [
    { name: 'no quota', expected: null },
    { name: 'unlimited', request: { quota: { remainingBytes: null, remainingVolumes: null } }, expected: null },
    { name: 'exactly the bytes left', request: { quota: { remainingBytes: 10 * GIB, remainingVolumes: 1 } }, expected: null },
    {
      name: 'not enough bytes',
      request: { quota: { remainingBytes: 5 * GIB, remainingVolumes: null } },
      expected: 'needs 10.0 GiB, quota has 5.0 GiB remaining',
    },
    {
      name: 'no volumes left',
      request: { quota: { remainingBytes: null, remainingVolumes: 0 } },
      expected: 'quota allows no more volumes (0 remaining)',
    },
  ]);

  it('the quota filter rejects every pool with the same reason', () => {
    const req = request({ quota: { remainingBytes: 0, remainingVolumes: null } });
    const reasons = ['a', 'b', 'c'].map((name) => quotaFilter.passes(candidate({ name }), req));
    expect(new Set(reasons).size).toBe(1);
    expect(reasons[0]).not.toBeNull();
  });
});
