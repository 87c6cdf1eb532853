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
