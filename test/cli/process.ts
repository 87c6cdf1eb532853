import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Runs the real `polly` binary as a child process, for the CLI's end-to-end tests. */

export const POLLY_BIN = fileURLToPath(new URL('../../scripts/polly-src.js', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every child spawned here, so that afterAll can kill what is still running. */
export const children = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}

/** A minimal environment: no POLLY_* leaks in from the shell that runs the tests. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
  return { ...env, ...extra };
}

export function spawnPolly(args: string[], env: Record<string, string>, cwd?: string): ChildProcess {
  const child = spawn(process.execPath, [POLLY_BIN, ...args], { env: cleanEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs `polly ARGS…` to completion (30 s at most) and returns its exit code and output. */
export function runPolly(args: string[], env: Record<string, string>, cwd?: string): Promise<RunResult> {
  const child = spawnPolly(args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolves when `pattern` appears in the child's stdout; rejects on exit or timeout. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
    // The pattern may be on either stream (the server's start-up lines are on stderr, its JSON log on stdout).
    const check = () => {
      const m = pattern.exec(out) ?? pattern.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
    });
  });
}

export function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
