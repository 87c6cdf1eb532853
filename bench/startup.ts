/**
 * P9 start-up of the shipped, compiled build (`node bin/polly.js`, the way `polly` runs after `npm ci`):
 * - `polly version` cold start: exec → exit, against a running server (client and server version);
 * - `polly agent --docker-socket …`: exec → the Docker plugin socket accepts a connection;
 * - `polly server`: exec → `GET /readyz` answers 200 (fresh data directory: SQLite schema, admin token).
 * Goals: 150 ms, 300 ms, 1 s (median). The reference is plain `node -e 0` (exec → exit) measured in the
 * same run, the floor no Node program can beat on this machine; the ratio says how much Polly adds to it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, type BenchRow, type Benchmark, median, msSince, ratioOf, REPO_ROOT, sleep } from './harness.js';
import { BENCH_ADMIN_TOKEN, BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

const POLLY = join(REPO_ROOT, 'bin/polly.js');

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', POLLY_LOG_LEVEL: 'warn' };
  return { ...env, ...extra };
}

/** exec → exit of `node ARGS…`, in ms; rejects on a non-zero exit. */
function timeExit(args: string[], env = cleanEnv()): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(msSince(t0)) : reject(new Error(`node ${args.join(' ')} exited ${code}:\n${out}`)))),
  );
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function canGet(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Spawns `node bin/polly.js ARGS…`, polls `ready()` every 2 ms, returns exec → ready in ms, then SIGTERM. */
async function timeUntilReady(args: string[], env: NodeJS.ProcessEnv, ready: (out: string) => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [POLLY, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`polly ${args[0]} exited before it was ready:\n${out}`);
      if (await ready(out)) return msSince(t0);
      if (msSince(t0) > timeoutMs) throw new Error(`polly ${args[0]} not ready within ${timeoutMs} ms:\n${out}`);
      await sleep(2);
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function row(name: string, samples: number[], reference: number, goalMs: number, params: Record<string, unknown>): BenchRow {
  const polly = median(samples);
  return {
    name,
    polly,
    reference,
    ratio: ratioOf(polly, reference),
    goal: `median < ${goalMs} ms`,
    unit: 'ms',
    pass: polly < goalMs,
    params: { ...params, samplesMs: samples.map((s) => Math.round(s * 10) / 10), reference: 'median exec → exit of `node -e 0`' },
  };
}

export async function runStartupBench(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = ctx.quick ? 3 : 7;
  const dir = mkdtempSync(join(tmpdir(), 'polly-bench-startup-'));
  mkdirSync(join(dir, 'server'));
  const server = await startPollyProcess({ dataDir: join(dir, 'server'), config: {} }).catch(async (err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    const bare: number[] = [];
    const version: number[] = [];
    const agent: number[] = [];
    const serverReady: number[] = [];
    // Interleaved, so that the machine's load changes hit every figure alike.
    for (let i = 0; i < runs; i++) {
      ctx.progress(`round ${i + 1}/${runs}`);
      bare.push(await timeExit(['-e', '0']));
      version.push(await timeExit([POLLY, 'version', '--url', server.url]));
      const socket = join(dir, `plugin-${i}.sock`);
      agent.push(
        await timeUntilReady(
          ['agent', '--url', server.url, '--token', BENCH_SERVICE_TOKEN, '--node', `bench-startup-${i}`, '--state-dir', join(dir, `agent-${i}`), '--data-dir', join(dir, `agent-data-${i}`), '--docker-socket', socket],
          cleanEnv(),
          () => canConnect(socket),
        ),
      );
      const dataDir = join(dir, `server-${i}`);
      const config = join(dir, `server-${i}.json`);
      writeFileSync(config, JSON.stringify({ listen: '127.0.0.1:0', dataDir, adminToken: BENCH_ADMIN_TOKEN, logLevel: 'warn' }));
      let url: string | undefined;
      serverReady.push(
        await timeUntilReady(['server', '--config', config], cleanEnv(), async (out) => {
          url ??= /serving (https?:\/\/\S+)/.exec(out)?.[1];
          return url !== undefined && (await canGet(`${url}/readyz`));
        }),
      );
    }
    const reference = median(bare);
    const params = { runs, build: 'dist/ (node bin/polly.js)' };
    return [
      row('P9 `polly version` exec → exit (against a running server)', version, reference, 150, params),
      row('P9 `polly agent` exec → Docker plugin socket accepts', agent, reference, 300, params),
      row('P9 `polly server` exec → /readyz 200 (fresh data dir)', serverReady, reference, 1000, params),
    ];
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const startupBenchmark: Benchmark = {
  id: 'P9',
  name: 'startup',
  title: 'start-up of the compiled build',
  run: (ctx) => runStartupBench(ctx),
};
