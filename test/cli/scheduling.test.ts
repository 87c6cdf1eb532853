import { describe, expect, it } from 'vitest';
import { accessModeArg, accessModes, commaList, limitArg, numberIn, parseProfileSizes, profileSizeArg, sizeLimitArg } from '../../src/cli/args.js';
import { placementBody, renderExplanation, sortVerdicts } from '../../src/cli/commands/placement.js';
import { profileSpec } from '../../src/cli/commands/profile.js';
import { applyQuotaChanges, renderQuota } from '../../src/cli/commands/quota.js';
import { buildProgram } from '../../src/cli/program.js';
import { capacityBar, formatUntil } from '../../src/cli/output.js';
import type { Explanation, Quota } from '../../src/cli/types.js';

const GiB = 1024 ** 3;

describe('scheduling arguments', () => {
  it('splits comma lists and collects repeats', () => {
    expect(commaList('a,b', ['x'])).toEqual(['x', 'a', 'b']);
    expect(() => commaList('a,,b')).toThrow('empty item');
  });

  it('takes access modes in any case', () => {
    expect(accessModeArg('rwop')).toBe('RWOP');
    expect(accessModes('rox', ['RWO'])).toEqual(['RWO', 'ROX']);
    expect(() => accessModeArg('RW')).toThrow('"RW" is not an access mode (RWO, RWOP, ROX, RWX)');
  });

  it('parses limits: numbers, sizes, or none', () => {
    expect(limitArg('0')).toBe(0);
    expect(limitArg('12')).toBe(12);
    expect(limitArg('None')).toBe('none');
    expect(limitArg('unlimited')).toBe('none');
    expect(() => limitArg('-1')).toThrow('not a whole number');
    expect(sizeLimitArg('2GiB')).toBe(2 * GiB);
    expect(sizeLimitArg('0')).toBe(0);
    expect(sizeLimitArg('none')).toBe('none');
    expect(() => sizeLimitArg('lots')).toThrow('is not a size');
  });

  it('parses PROFILE=SIZE pairs, none as null', () => {
    expect(parseProfileSizes(['gold=10GiB', 'silver=none'])).toEqual({ gold: 10 * GiB, silver: null });
    expect(profileSizeArg('gold=1GiB', ['a=1'])).toEqual(['a=1', 'gold=1GiB']);
    expect(() => profileSizeArg('gold')).toThrow('profile size "gold" must look like key=value');
    expect(() => profileSizeArg('gold=big')).toThrow('profile size gold: "big" is not a size');
  });

  it('parses bounded numbers', () => {
    expect(numberIn(1, 100)('1.5')).toBe(1.5);
    expect(numberIn(0, 99)('0')).toBe(0);
    for (const bad of ['0.5', '101', 'x', '', '-1']) expect(() => numberIn(1, 100)(bad)).toThrow('is not a number from 1 to 100');
  });

  it('registers the new commands', () => {
    const program = buildProgram();
    const names = (cmd = program): string[] => cmd.commands.flatMap((c) => [c.name(), ...names(c).map((n) => `${c.name()} ${n}`)]);
    expect(names()).toEqual(
      expect.arrayContaining([
        'profile create', 'profile update', 'profile rm', 'pool create', 'pool update', 'pool rm', 'pool unmanaged',
        'quota get', 'quota set', 'offer ls', 'offer accept', 'offer decline', 'offer revoke',
        'reservation ls', 'reservation get', 'reservation rm', 'placement explain',
        'volume offer', 'volume revoke', 'volume shares', 'volume transfer', 'volume import', 'volume release',
      ]),
    );
  });
});

describe('request bodies', () => {
  it('a profile spec carries only the options given', () => {
    expect(profileSpec({})).toEqual({});
    expect(profileSpec({ maxSize: GiB, iops: 100, poolSelector: ['tier=ssd'], param: ['a=b=c'], accessMode: ['RWO'] })).toEqual({
      maxBytes: GiB,
      qos: { iops: 100 },
      poolSelector: { tier: 'ssd' },
      parameters: { a: 'b=c' },
      accessModes: ['RWO'],
    });
  });

  it('placement constraints become topology, affinity and anti-affinity', () => {
    expect(placementBody({})).toEqual({});
    expect(placementBody({ zone: ['a', 'b'], affinity: ['app=db'], antiAffinity: ['app=web'], accessMode: 'RWX' })).toEqual({
      accessMode: 'RWX',
      topology: { requisite: ['a', 'b'] },
      affinity: { app: 'db' },
      antiAffinity: { app: 'web' },
    });
    expect(placementBody({ preferZone: ['c'] })).toEqual({ topology: { preferred: ['c'] } });
  });

  it('quota set keeps the limits not given', () => {
    const current = { maxVolumes: 5, maxBytes: 10 * GiB, maxSnapshots: null, profileBytes: { gold: GiB, silver: 2 * GiB } };
    expect(applyQuotaChanges(current, { maxSnapshots: 3, maxVolumes: 'none', profileSize: ['gold=none', 'bronze=4GiB'] })).toEqual({
      maxVolumes: null,
      maxBytes: 10 * GiB,
      maxSnapshots: 3,
      profileBytes: { silver: 2 * GiB, bronze: 4 * GiB },
    });
    expect(current.profileBytes).toEqual({ gold: GiB, silver: 2 * GiB }); // not modified
  });
});

describe('scheduling output', () => {
  it('draws a fixed-width capacity bar', () => {
    expect(capacityBar(70, 100)).toBe('[#######...]  70%');
    expect(capacityBar(0, 100)).toBe('[..........]   0%');
    expect(capacityBar(100, 100)).toBe('[##########] 100%');
    expect(capacityBar(250, 100)).toBe('[##########] 250%'); // over-subscribed
    expect(capacityBar(5, 0)).toBe('[..........]    -');
    expect(capacityBar(1, 3, 6)).toBe('[##....]  33%');
  });

  it('says how long until a time', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(formatUntil('2025-01-01T00:04:00Z', now)).toBe('in 4m');
    expect(formatUntil('2025-01-01T00:00:30Z', now)).toBe('in 30s');
    expect(formatUntil('2024-12-31T23:00:00Z', now)).toBe('expired');
    expect(formatUntil('soon', now)).toBe('-');
  });

  it('shows a quota with its usage side by side', () => {
    const q: Quota = {
      service: 'alice',
      maxVolumes: 5,
      maxBytes: 20 * GiB,
      maxSnapshots: null,
      profileBytes: { gold: 8 * GiB },
      usage: { volumes: 2, bytes: 3 * GiB, snapshots: 1, reservedBytes: GiB, profileBytes: { default: 3 * GiB } },
    };
    expect(renderQuota(q, 'table', false).split('\n')).toEqual([
      'RESOURCE                 USED                         LIMIT      FREE',
      'volumes                  2                            5          3',
      'size                     3.0 GiB (+1.0 GiB reserved)  20.0 GiB   16.0 GiB',
      'snapshots                1                            unlimited  -',
      'size of profile default  3.0 GiB                      unlimited  -',
      'size of profile gold     0 B                          8.0 GiB    8.0 GiB',
    ]);
    expect(JSON.parse(renderQuota(q, 'json'))).toEqual(q);
  });

  it('explains placement: chosen first, then by rank, then the rejected, then the summary', () => {
    const w = (weighted: number) => ({ raw: weighted, normalized: weighted, multiplier: 1, weighted });
    const e: Explanation = {
      chosen: 'b',
      summary: '2 of 3 pools fit; chose b',
      filters: [],
      pools: [
        { pool: 'x', passed: false, rejectedBy: { filter: 'capacity', reason: 'needs 10.0 GiB' } },
        { pool: 'a', passed: true, weights: { 'free-capacity': w(0.4), affinity: w(0) }, score: 0.4, rank: 2 },
        { pool: 'b', passed: true, weights: { 'free-capacity': w(1) }, score: 1, rank: 1 },
      ],
    };
    expect(sortVerdicts(e.pools, e.chosen).map((p) => p.pool)).toEqual(['b', 'a', 'x']);
    expect(renderExplanation(e, 'table', false)).toBe(
      [
        'POOL  VERDICT               REASON              SCORE  RANK',
        'b     chosen                free-capacity=1.00  1.000  1',
        'a     passed                free-capacity=0.40  0.400  2',
        'x     rejected by capacity  needs 10.0 GiB      -      -',
        '',
        '2 of 3 pools fit; chose b',
      ].join('\n'),
    );
  });
});
