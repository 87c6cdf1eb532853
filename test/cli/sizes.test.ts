import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../src/cli/sizes.js';

const KiB = 1024;
const MiB = KiB * 1024;
const GiB = MiB * 1024;
const TiB = GiB * 1024;

describe('parseSize', () => {
  it.each([
    ['10GiB', 10 * GiB],
    ['512MiB', 512 * MiB],
    ['1.5TiB', 1.5 * TiB],
    ['100GB', 100e9],
    ['1024', 1024],
    ['10gib', 10 * GiB],
    ['10Gi', 10 * GiB],
    ['10G', 10e9],
    ['4 KiB', 4 * KiB],
    ['2kb', 2000],
    ['1PiB', 2 ** 50],
    ['.5MiB', 0.5 * MiB],
    ['7b', 7],
    [' 3MB ', 3e6],
  ])('%s → %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('rounds a fraction of a byte up', () => {
    expect(parseSize('0.3KiB')).toBe(308);
  });

  it.each(['', 'abc', '10XB', '-5GiB', '1.2.3GiB', 'GiB', '10 GiB extra', '1.5', '0', '0GiB', '9EiB', '20PiB'])(
    'rejects %j with a clear message',
    (text) => {
      expect(() => parseSize(text)).toThrow(/size|byte/);
    },
  );

  it('names the input and gives examples', () => {
    expect(() => parseSize('lots')).toThrow('"lots" is not a size (use e.g. 10GiB, 512MiB, 1.5TiB, 100GB or a number of bytes)');
  });
});

describe('formatSize', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [10 * GiB, '10.0 GiB'],
    [1.5 * TiB, '1.5 TiB'],
    [100e9, '93.1 GiB'],
    [MiB - 1, '1.0 MiB'],
    [2 ** 53, '8.0 PiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it('round-trips with parseSize for whole binary units', () => {
    expect(formatSize(parseSize('20GiB'))).toBe('20.0 GiB');
  });
});
