import { createRequire } from 'node:module';
import type TableConstructor from 'cli-table3';
import pc from 'picocolors';
import type { stringify as YamlStringify } from 'yaml';

// cli-table3 and yaml are loaded on first use, not at start: most commands print one of the formats only,
// and `polly version` / `polly agent` / `polly server` start faster without them (bench: start-up rows).
const requireLazily = createRequire(import.meta.url);
const Table = (...args: ConstructorParameters<typeof TableConstructor>) =>
  new (requireLazily('cli-table3') as typeof TableConstructor)(...args);
const toYaml = (data: unknown): string => (requireLazily('yaml') as { stringify: typeof YamlStringify }).stringify(data);

export const FORMATS = ['table', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

/** A table column: a header and how to show one row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/** A field of a detail view (`get`): a label and how to show it. */
export type Field<T> = [label: string, value: (obj: T) => string];

/** Colours only on a terminal, and never with NO_COLOR (picocolors alone would colour under CI=1). */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** A borderless, compact table: columns separated by two spaces, headers bold on a terminal. */
export function table(head: string[], rows: string[][], color = useColor()): string {
  const c = pc.createColors(color);
  const t = Table({
    head: head.map((h) => c.bold(h)),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  ',
    },
    style: { compact: true, head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows);
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** JSON (pretty) or YAML of exactly what the server returned. */
export function serialize(data: unknown, format: Exclude<Format, 'table'>): string {
  return format === 'json' ? JSON.stringify(data, null, 2) : toYaml(data).trimEnd();
}

/** A list: the items as a table, or the array as JSON/YAML. */
export function renderList<T>(items: T[], columns: Column<T>[], format: Format, color = useColor()): string {
  if (format !== 'table') return serialize(items, format);
  return table(
    columns.map((col) => col.header),
    items.map((item) => columns.map((col) => col.value(item))),
    color,
  );
}

/** One object: `label  value` lines, or the object as JSON/YAML. */
export function renderObject<T>(obj: T, fields: Field<T>[], format: Format, color = useColor()): string {
  if (format !== 'table') return serialize(obj, format);
  const c = pc.createColors(color);
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${c.bold(`${label}:`.padEnd(width))}  ${value(obj)}`).join('\n');
}

/** `k=v,k2=v2` sorted by key, `-` when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** How long ago: `42s`, `5m`, `3h`, `12d`. */
export function formatAge(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** How long until: `in 42s`, `in 5m`, or `expired`. */
export function formatUntil(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  if (t <= now) return 'expired';
  return `in ${formatAge(new Date(now).toISOString(), t)}`;
}

/**
 * `used` of `total` as a fixed-width ASCII bar and a percentage: `[#######...]  70%`. The bar is full
 * past 100% (over-subscribed pools); the percentage is not capped. `-` without a total.
 */
export function capacityBar(used: number, total: number, width = 10): string {
  if (!(total > 0) || !Number.isFinite(used)) return `[${'.'.repeat(width)}]    -`;
  const ratio = Math.max(0, used / total);
  const filled = Math.min(width, Math.round(ratio * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${`${Math.round(ratio * 100)}%`.padStart(4)}`;
}

/** Prints a block of text to stdout. */
export function print(text: string): void {
  if (text !== '') process.stdout.write(`${text}\n`);
}

/** Prints a note for humans to stderr (kept out of piped JSON/YAML). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
