import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/scheduler/index.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [10 * 1024 ** 2, '10.0 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [2.25 * 1024 ** 4, '2.3 TiB'],
    [-3 * 1024 ** 3, '-3.0 GiB'],
  ])('%d → %s', (bytes, expected) => {
    expect(formatBytes(bytes)).toBe(expected);
  });
});
