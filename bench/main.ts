/**
 * `npm run bench [-- --quick] [--only NAME[,NAME]] [--json] [--profile]`: runs the benchmarks, shows
 * progress on stderr, prints the result table (or the JSON document with --json) on stdout and writes
 * bench/results/latest.json. Exit status: 0 when every benchmark ran (goals met or not: the table says),
 * 1 when one failed to run, 2 on a usage error.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { csiProxyBenchmark } from './csi-proxy.js';
import { dataPathBenchmark } from './data-path.js';
import { haBenchmark } from './ha.js';
import {
  assertRowShape,
  type BenchEntry,
  type Benchmark,
  type BenchRow,
  formatTable,
  progressFor,
  RESULTS_DIR,
  writeResults,
} from './harness.js';
import { mountTimeBenchmark } from './mount-time.js';
import { runPlacementBench } from './placement.js';
import { postgresBenchmark } from './postgres.js';
import { rbdBenchmark } from './rbd.js';
import { scaleBenchmark } from './scale.js';
import { pgScaleBenchmark } from './scale-postgres.js';
import { snapshotCostBenchmark } from './snapshot-cost.js';
import { startupBenchmark } from './startup.js';
import { takeoverBenchmark } from './takeover.js';
import { throughputBenchmark } from './throughput.js';

const placementBenchmark: Benchmark = {
  id: 'P2',
  name: 'placement',
  title: 'placement over in-memory pools',
  run: (ctx) => runPlacementBench({ quick: ctx.quick }),
};

export const BENCHMARKS: Benchmark[] = [
  throughputBenchmark,
  placementBenchmark,
  scaleBenchmark,
  pgScaleBenchmark,
  dataPathBenchmark,
  mountTimeBenchmark,
  snapshotCostBenchmark,
  postgresBenchmark,
  startupBenchmark,
  takeoverBenchmark,
  haBenchmark,
  csiProxyBenchmark,
  rbdBenchmark,
];

interface Options {
  quick: boolean;
  only: string[];
  json: boolean;
  profile: boolean;
}

const USAGE = `usage: npm run bench -- [--quick] [--only NAME[,NAME…]]… [--json] [--profile]
  --quick      small sizes (the whole run takes under 2 minutes)
  --only NAME  run only these benchmarks (id or name, repeatable or comma-separated):
               ${BENCHMARKS.map((b) => `${b.id} ${b.name}`).join(', ')}
  --json       print the results as JSON on stdout instead of the table
  --profile    run server processes under node --cpu-prof and print where they spend CPU time`;

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, only: [], json: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--json') opts.json = true;
    else if (flag === '--profile') opts.profile = true;
    else if (flag === '--only') {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError('--only needs a benchmark name');
      opts.only.push(...value.split(',').map((v) => v.trim()).filter((v) => v !== ''));
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return opts;
}

class UsageError extends Error {}

function select(only: string[]): Benchmark[] {
  if (only.length === 0) return BENCHMARKS;
  const wanted = only.map((o) => o.toLowerCase());
  for (const w of wanted) {
    if (!BENCHMARKS.some((b) => b.id.toLowerCase() === w || b.name.toLowerCase() === w)) {
      throw new UsageError(`--only ${w}: no such benchmark (known: ${BENCHMARKS.map((b) => `${b.id}/${b.name}`).join(', ')})`);
    }
  }
  return BENCHMARKS.filter((b) => wanted.includes(b.id.toLowerCase()) || wanted.includes(b.name.toLowerCase()));
}

async function main(): Promise<number> {
  let opts: Options;
  let benchmarks: Benchmark[];
  try {
    opts = parseArgs(process.argv.slice(2));
    benchmarks = select(opts.only);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  const runStarted = Date.now();
  const profileDir = opts.profile ? join(RESULTS_DIR, 'profiles') : undefined;
  if (profileDir !== undefined) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const log = progressFor('bench');
  log(`${opts.quick ? 'quick' : 'full'} run: ${benchmarks.map((b) => `${b.id} ${b.name}`).join(', ')}`);
  const entries: BenchEntry[] = [];
  const durations: Record<string, number> = {};
  let failed = false;
  for (const b of benchmarks) {
    const progress = progressFor(b.id);
    const t0 = Date.now();
    progress(`${b.title}: start`);
    let rows: BenchRow[];
    try {
      rows = await b.run({ quick: opts.quick, profileDir, progress });
      for (const r of rows) assertRowShape(r);
    } catch (err) {
      failed = true;
      const message = (err as Error).message.split('\n')[0]!;
      progress(`FAILED: ${(err as Error).stack ?? message}`);
      rows = [{ name: b.title, polly: null, reference: null, ratio: null, goal: '', unit: '', pass: false, params: {}, error: message }];
    }
    durations[b.id] = (Date.now() - t0) / 1000;
    progress(`${b.title}: done in ${durations[b.id]!.toFixed(1)} s`);
    const at = new Date().toISOString();
    entries.push(...rows.map((r) => ({ ...r, benchmark: b.id, at })));
  }
  const totalSeconds = (Date.now() - runStarted) / 1000;
  const file = writeResults(entries, {
    startedAt: new Date(runStarted).toISOString(),
    quick: opts.quick,
    only: opts.only,
    durationSeconds: totalSeconds,
    benchmarkSeconds: durations,
  });
  const count = (p: (e: BenchEntry) => boolean) => entries.filter(p).length;
  const summary =
    `${count((e) => e.pass === true)} pass, ${count((e) => e.pass === false)} fail, ` +
    `${count((e) => e.skipped !== undefined)} skipped, ${count((e) => e.pass === null && e.skipped === undefined)} informational; ` +
    `${opts.quick ? 'quick' : 'full'} run took ${totalSeconds.toFixed(1)} s; results in ${relative(process.cwd(), file) || file}`;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ entries, durationSeconds: totalSeconds }, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${formatTable(entries)}\n\n${summary}\n`);
  }
  log(summary);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
