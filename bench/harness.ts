/**
 * The benchmark harness: the row every benchmark reports, percentiles, progress on stderr, the result
 * table, and `bench/results/latest.json`. Every ratio is Polly's figure ÷ a reference (the physical limit
 * Polly cannot beat) measured in the same run on the same machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** One measured figure. `pass` is null when the row is informational, `skipped` says why it was not measured. */
export interface BenchRow {
  name: string;
  polly: number | null;
  reference: number | null;
  /** polly ÷ reference, when there is a reference. */
  ratio: number | null;
  goal: string;
  unit: string;
  pass: boolean | null;
  params: Record<string, unknown>;
  skipped?: string | undefined;
  /** The benchmark failed to run (never a pass). */
  error?: string | undefined;
}

/** What `latest.json` holds per row. */
export interface BenchEntry extends BenchRow {
  benchmark: string;
  at: string;
}

export interface BenchContext {
  quick: boolean;
  /** Start server child processes under `node --cpu-prof`, into this directory (undefined: no profiling). */
  profileDir: string | undefined;
  progress(message: string): void;
}

export interface Benchmark {
  /** Short id used by `--only` (as is the name): `P1`. */
  id: string;
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** A row for something that cannot be measured yet: never a pass. */
export function skippedRow(name: string, goal: string, why: string, params: Record<string, unknown> = {}): BenchRow {
  return { name, polly: null, reference: null, ratio: null, goal, unit: '', pass: null, params, skipped: why };
}

export function ratioOf(polly: number, reference: number | null): number | null {
  if (reference === null || !Number.isFinite(reference) || reference === 0) return null;
  return polly / reference;
}

// ---- statistics --------------------------------------------------------------------------------------

/** The q-quantile (0..1) of samples, nearest-rank on a sorted copy. */
export function quantile(samples: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(samples: ArrayLike<number>): number {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

export function mean(samples: readonly number[]): number {
  return samples.reduce((a, b) => a + b, 0) / samples.length;
}

export function summarize(samples: ArrayLike<number>): { n: number; p50: number; p90: number; p99: number; max: number } {
  return { n: samples.length, p50: quantile(samples, 0.5), p90: quantile(samples, 0.9), p99: quantile(samples, 0.99), max: quantile(samples, 1) };
}

/** Milliseconds since `start` (from `process.hrtime.bigint()`). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- progress ----------------------------------------------------------------------------------------

const started = Date.now();

/** Progress lines on stderr, prefixed with the time since the run started and the benchmark's id. */
export function progressFor(id: string): (message: string) => void {
  return (message) => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${t}s] ${id} ${message}\n`);
  };
}

// ---- output ------------------------------------------------------------------------------------------

/** A readable number: thousands separators for large values, three significant digits for small ones. */
export function formatNumber(n: number | null): string {
  if (n === null) return '—';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  if (abs === 0) return '0';
  return n.toPrecision(3);
}

function verdict(row: BenchRow): string {
  if (row.error !== undefined) return `ERROR: ${row.error}`;
  if (row.skipped !== undefined) return `skipped: ${row.skipped}`;
  if (row.pass === null) return 'info';
  return row.pass ? 'PASS' : 'FAIL';
}

/** The result table, plain text (one line per row; skipped rows say why). */
export function formatTable(entries: BenchEntry[]): string {
  const header = ['benchmark', 'measure', 'Polly', 'reference', 'ratio', 'unit', 'goal', 'result'];
  const lines: string[][] = entries.map((e) => [
    e.benchmark,
    e.name,
    formatNumber(e.polly),
    formatNumber(e.reference),
    e.ratio === null ? '—' : e.ratio.toFixed(3),
    e.unit,
    e.goal,
    verdict(e),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (i === lines[0]!.length - 1 ? 0 : l[i]!.length))));
  const numeric = new Set([2, 3, 4]);
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? 7 : w)).join('  ');
  return [fmt(header), rule, ...lines.map(fmt)].join('\n');
}

export function machineFacts(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
  };
}

/** Writes `bench/results/latest.json`: the run's facts and one entry per row. */
export function writeResults(entries: BenchEntry[], run: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'latest.json');
  const json = JSON.stringify(
    { run: { ...run, machine: machineFacts() }, entries: entries.map(toEntryJson) },
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
  writeFileSync(file, `${json}\n`);
  return file;
}

function toEntryJson(e: BenchEntry): Record<string, unknown> {
  return {
    benchmark: e.benchmark,
    name: e.name,
    polly: e.polly,
    reference: e.reference,
    ratio: e.ratio,
    goal: e.goal,
    unit: e.unit,
    pass: e.pass,
    ...(e.skipped !== undefined ? { skipped: e.skipped } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    params: e.params,
    at: e.at,
  };
}

/** Checks a row has the shape the harness needs (used by the runner and the smoke test). */
export function assertRowShape(row: BenchRow): void {
  const problems: string[] = [];
  if (typeof row.name !== 'string' || row.name === '') problems.push('name');
  if (typeof row.goal !== 'string') problems.push('goal');
  if (typeof row.unit !== 'string') problems.push('unit');
  if (row.error !== undefined) {
    if (row.pass !== false) problems.push('a failed benchmark must not pass');
  } else if (row.skipped === undefined) {
    if (typeof row.polly !== 'number' || !Number.isFinite(row.polly)) problems.push('polly');
    if (row.reference !== null && !Number.isFinite(row.reference)) problems.push('reference');
    if (row.ratio !== null && !Number.isFinite(row.ratio)) problems.push('ratio');
  } else if (row.pass !== null) {
    problems.push('a skipped row cannot pass or fail');
  }
  if (problems.length > 0) throw new Error(`bench row ${JSON.stringify(row.name)} is malformed: ${problems.join(', ')}`);
}
