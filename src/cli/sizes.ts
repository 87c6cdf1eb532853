/** Human sizes: parsing what people type (`10GiB`, `100GB`, `1024`) and printing bytes (`10.0 GiB`). */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 2 ** 10,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mi: 2 ** 20,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gi: 2 ** 30,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  ti: 2 ** 40,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pi: 2 ** 50,
  pib: 2 ** 50,
};

const MAX_BYTES = 2 ** 53;
const HINT = 'use e.g. 10GiB, 512MiB, 1.5TiB, 100GB or a number of bytes';

/**
 * Parses a size into bytes. Units are case-insensitive: binary (KiB, MiB, GiB, TiB, PiB; also Ki, Mi…)
 * and decimal (KB, MB, GB, TB, PB; also K, M…); no unit means bytes. Fractions round up to a whole byte.
 * Throws an Error with a message fit for the user.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${JSON.stringify(text)} is not a size (${HINT})`);
  const amount = Number(m[1]);
  if (unit === 1 && !Number.isInteger(amount)) throw new Error(`${JSON.stringify(text)} is not a whole number of bytes (${HINT})`);
  const bytes = Math.ceil(amount * unit);
  if (bytes < 1) throw new Error(`${JSON.stringify(text)}: a size must be at least 1 byte`);
  if (bytes > MAX_BYTES) throw new Error(`${JSON.stringify(text)}: a size must be at most 8 PiB`);
  return bytes;
}

const BINARY = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `10.0 GiB`. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  if (Math.abs(bytes) < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 'B';
  for (const u of BINARY) {
    if (Math.abs(value) < 1024) break;
    value /= 1024;
    unit = u;
  }
  // 1023.96 MiB would print as "1024.0 MiB"; carry it to the next unit.
  if (Math.abs(value) >= 1023.95 && unit !== BINARY[BINARY.length - 1]) {
    value /= 1024;
    unit = BINARY[BINARY.indexOf(unit) + 1] ?? unit;
  }
  return `${value.toFixed(1)} ${unit}`;
}
