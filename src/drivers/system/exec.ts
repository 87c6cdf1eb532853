import { execFile } from 'node:child_process';
import { PollyError } from '../../core/errors.js';

export interface RunOptions {
  /** Exit codes that are answers rather than failures (e.g. blkid's 2 = "nothing found"). */
  allowedExitCodes?: readonly number[] | undefined;
  /** Kills the command after this long; the default suits mkfs and copies of large sparse files. */
  timeoutMs?: number | undefined;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
// Parsing depends on stable, untranslated output.
const ENV = { ...process.env, LC_ALL: 'C', LANG: 'C' };

/**
 * Runs a program with an argument vector (never through a shell). A non-zero exit that is not in
 * `allowedExitCodes`, a signal or a missing program throws `BACKEND_FAILED` naming the command line and
 * its stderr; `details` carries `command`, `exitCode` and `stderr` for callers that branch on them.
 */
export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: ENV, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr, exitCode: 0 });
          return;
        }
        const exitCode = typeof err.code === 'number' ? err.code : null;
        if (exitCode !== null && opts.allowedExitCodes?.includes(exitCode)) {
          resolve({ stdout, stderr, exitCode });
          return;
        }
        const line = formatCommand(command, args);
        const why = exitCode !== null ? `exit ${exitCode}` : err.signal ? `signal ${err.signal}` : String(err.code ?? err.message);
        const text = stderr.trim() || stdout.trim() || err.message;
        reject(new PollyError('BACKEND_FAILED', `${line} failed (${why}): ${text}`, { command: line, exitCode, stderr: stderr.trim() }));
      },
    );
  });
}

/** The command line as a human would type it, for messages only (it is never executed). */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The stderr a failed `run` captured, or '' for any other error. */
export function stderrOf(err: unknown): string {
  if (err instanceof PollyError && typeof err.details?.stderr === 'string') return err.details.stderr;
  return '';
}
