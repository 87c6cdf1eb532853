import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { POOL_COLUMNS } from '../../src/cli/commands/pool.js';
import { VOLUME_COLUMNS, VOLUME_FIELDS } from '../../src/cli/commands/volume.js';
import { formatAge, formatLabels, renderList, renderObject, table, useColor } from '../../src/cli/output.js';
import type { Pool, Volume } from '../../src/cli/types.js';

const GiB = 1024 ** 3;
const volume: Volume = {
  id: 'vol-01',
  name: 'data',
  service: 'alice',
  pool: 'local',
  profile: 'default',
  sizeBytes: 10 * GiB,
  status: 'available',
  statusReason: null,
  labels: { tier: 'gold', app: 'db' },
  fields: {},
  source: null,
  createdAt: new Date(Date.now() - 5 * 60_000).toISOString(),
  updatedAt: new Date().toISOString(),
};
const pool = {
  name: 'local',
  driver: 'local',
  state: 'enabled',
  capacity: { totalBytes: 100 * GiB, freeBytes: 60 * GiB, allocatedBytes: 10 * GiB, volumeCount: 1 },
} as Pool;

describe('tables', () => {
  it('are borderless, aligned, without colours when asked', () => {
    expect(table(['NAME', 'SIZE'], [['a', '10.0 GiB'], ['bbbbbb', '1 B']], false)).toBe('NAME    SIZE\na       10.0 GiB\nbbbbbb  1 B');
  });

  it('bold headers with colours', () => {
    expect(table(['NAME'], [['a']], true)).toContain('\u001b[1mNAME');
  });

  it('volume ls: one row per volume, human sizes, sorted labels', () => {
    const out = renderList([volume], VOLUME_COLUMNS, 'table', false).split('\n');
    expect(out[0]).toMatch(/^ID\s+NAME\s+SERVICE\s+POOL\s+SIZE\s+STATUS\s+LABELS\s+AGE$/);
    expect(out[1]).toMatch(/^vol-01\s+data\s+alice\s+local\s+10\.0 GiB\s+available\s+app=db,tier=gold\s+5m$/);
  });

  it('pool ls: capacity columns in binary units', () => {
    const out = renderList([pool], POOL_COLUMNS, 'table', false).split('\n');
    expect(out[0]).toMatch(/^NAME\s+DRIVER\s+STATE\s+TOTAL\s+FREE\s+ALLOCATED\s+VOLUMES\s+USAGE$/);
    expect(out[1]).toMatch(/^local\s+local\s+enabled\s+100\.0 GiB\s+60\.0 GiB\s+10\.0 GiB\s+1\s+\[#\.{9}\] {2}10%$/);
  });

  it('detail views are label: value lines', () => {
    const out = renderObject(volume, VOLUME_FIELDS, 'table', false);
    expect(out).toContain('Size:     10.0 GiB (10737418240 bytes)');
    expect(out).toContain('Labels:   app=db,tier=gold');
    expect(out).toContain('Fields:   -');
  });
});

describe('JSON and YAML', () => {
  it('lists print the items array exactly', () => {
    expect(JSON.parse(renderList([volume], VOLUME_COLUMNS, 'json'))).toEqual([volume]);
    expect(parseYaml(renderList([volume], VOLUME_COLUMNS, 'yaml'))).toEqual([volume]);
  });

  it('objects print as they came, pretty', () => {
    const json = renderObject(volume, VOLUME_FIELDS, 'json');
    expect(json).toBe(JSON.stringify(volume, null, 2));
    expect(parseYaml(renderObject(volume, VOLUME_FIELDS, 'yaml'))).toEqual(volume);
  });

  it('an empty list is [] in JSON', () => {
    expect(renderList([], VOLUME_COLUMNS, 'json')).toBe('[]');
  });
});

describe('helpers', () => {
  it('formats labels and ages', () => {
    expect(formatLabels({})).toBe('-');
    expect(formatLabels({ b: '2', a: '' })).toBe('a=,b=2');
    const now = Date.parse('2025-01-02T00:00:00Z');
    expect(formatAge('2025-01-01T23:59:30Z', now)).toBe('30s');
    expect(formatAge('2025-01-01T21:00:00Z', now)).toBe('3h');
    expect(formatAge('2024-12-01T00:00:00Z', now)).toBe('32d');
    expect(formatAge('garbage', now)).toBe('-');
  });

  it('colours only on a TTY without NO_COLOR', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: false }, { CI: 'true' })).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
  });
});
