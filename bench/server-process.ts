/**
 * `polly server` as a child process, the way it runs in production: its own event loop and core, its own
 * memory (VmRSS is the server's alone), and an optional `--cpu-prof`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.js';

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const BENCH_SERVICE = 'bench';
export const BENCH_SERVICE_TOKEN = 'bench-service-token-0123456789abcdef';

export interface PollyProcess {
  url: string;
  pid: number;
  /** Resident set size of the server process now, in bytes (VmRSS). */
  rssBytes(): number;
  /** Peak resident set size so far (VmHWM). */
  peakRssBytes(): number;
  /** CPU time (user + system) the server process has used so far, in seconds. */
  cpuSeconds(): number;
  output(): string;
  /** SIGTERM and wait (the server stops cleanly, which also writes a CPU profile); SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface PollyProcessOptions {
  dataDir: string;
  /** The configuration document (written as JSON, which is YAML); `listen`, `dataDir`, the admin token and the bench service are filled in. */
  config: Record<string, unknown>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/** Starts `node bin/polly.js server --config <file>` and waits for the URL it prints. */
export async function startPollyProcess(opts: PollyProcessOptions): Promise<PollyProcess> {
  const configFile = join(opts.dataDir, 'bench-config.yml');
  const doc = {
    listen: '127.0.0.1:0',
    dataDir: opts.dataDir,
    adminToken: BENCH_ADMIN_TOKEN,
    logLevel: 'warn',
    services: [{ name: BENCH_SERVICE, tokens: [BENCH_SERVICE_TOKEN] }],
    ...opts.config,
  };
  writeFileSync(configFile, JSON.stringify(doc, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('POLLY_')) delete env[key];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), join(REPO_ROOT, 'bin/polly.js'), 'server', '--config', configFile], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`polly server did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const check = () => {
        const m = /serving (https?:\/\/[^\s]+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          // Not again on every later chunk: a server that logs each request would cost this process a
          // scan of everything it printed so far per request (and delay the client it measures with).
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`polly server exited (${child.exitCode ?? child.signalCode}) before it started:\n${out}`));
      });
    });
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  }
  const pid = child.pid!;
  const status = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return {
    url,
    pid,
    rssBytes: () => status('VmRSS'),
    peakRssBytes: () => status('VmHWM'),
    cpuSeconds: () => {
      // utime and stime are fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised name.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
