import { InvalidArgumentError } from 'commander';
import { parseSize } from './sizes.js';

/** Commander helpers: repeatable options and argument parsers that fail as usage errors. */

/** For repeatable options: `--label a=1 --label b=2`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `key=value` pairs into a map (split at the first `=`; the value may be empty). */
export function parseKeyValues(pairs: string[] | undefined, what = 'label'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const i = pair.indexOf('=');
    if (i < 1) throw new InvalidArgumentError(`${what} ${JSON.stringify(pair)} must look like key=value`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** A repeatable `key=value` option, checked as it is parsed. */
export function keyValue(what: string): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    parseKeyValues([value], what);
    return collect(value, previous);
  };
}

export function sizeArg(value: string): number {
  try {
    return parseSize(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function positiveInt(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a positive whole number`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a whole number`);
  }
  return n;
}

/** A repeatable option that also takes comma-separated lists: `--to a,b --to c`. */
export function commaList(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError(`${JSON.stringify(value)} has an empty item`);
  return [...previous, ...items];
}

export const ACCESS_MODES = ['RWO', 'RWOP', 'ROX', 'RWX'] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

/** An access mode, case-insensitive: RWO, RWOP, ROX or RWX. */
export function accessModeArg(value: string): AccessMode {
  const mode = ACCESS_MODES.find((m) => m === value.trim().toUpperCase());
  if (!mode) throw new InvalidArgumentError(`${JSON.stringify(value)} is not an access mode (${ACCESS_MODES.join(', ')})`);
  return mode;
}

/** A repeatable access mode option. */
export function accessModes(value: string, previous: AccessMode[] = []): AccessMode[] {
  return [...previous, accessModeArg(value)];
}

const UNLIMITED = ['none', 'unlimited'];

/**
 * No limit: parsers return this string, not null, since commander turns a null option value into ''.
 * `unlimited` reads as `none` too.
 */
export type Unlimited = 'none';
const isUnlimited = (value: string) => UNLIMITED.includes(value.trim().toLowerCase());

/** A count limit: a whole number, or `none`. */
export function limitArg(value: string): number | Unlimited {
  return isUnlimited(value) ? 'none' : nonNegativeInt(value);
}

/** A size limit: a size (or 0), or `none`. */
export function sizeLimitArg(value: string): number | Unlimited {
  const v = value.trim();
  if (isUnlimited(v)) return 'none';
  if (/^0+$/.test(v)) return 0;
  return sizeArg(v);
}

/** A limit as the API has it: null for none. */
export const limitValue = (limit: number | Unlimited): number | null => (limit === 'none' ? null : limit);

/** A repeatable `PROFILE=SIZE` (or `PROFILE=none`), checked as it is parsed. */
export function profileSizeArg(value: string, previous: string[] = []): string[] {
  parseProfileSizes([value]);
  return collect(value, previous);
}

/** `PROFILE=SIZE` pairs into a map; `none` gives null (the limit is removed). */
export function parseProfileSizes(pairs: string[] | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [profile, size] of Object.entries(parseKeyValues(pairs, 'profile size'))) {
    try {
      out[profile] = limitValue(sizeLimitArg(size));
    } catch (err) {
      throw new InvalidArgumentError(`profile size ${profile}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** A decimal number within bounds, e.g. an over-subscription ratio or a percentage. */
export function numberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a number from ${min} to ${max}`);
    return n;
  };
}
