import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cleanup, tempDir } from './loopfs.js';
import { type FreshPgDatabase, freshPgDatabase } from './pg.js';

/**
 * Daemons of the test fixtures (Cinder, RabbitMQ, Keystone): each started in a session and process group
 * of its own, found again by pid, stopped by group; free ports; readiness waits that show the logs.
 */

const READY_TIMEOUT_MS = 180_000;

/** Where a fixture keeps its daemons: a temp dir, a fresh PostgreSQL database, the process groups it starts. */
export interface FixtureWorkspace {
  dir: string;
  db: FreshPgDatabase;
  /** Push every process group started; cleanup stops them, the last started first. */
  groups: number[];
}

/**
 * Makes a fixture's workspace and registers its teardown: the process groups stop before the database is
 * dropped (cleanup runs in reverse), so that nothing holds a connection to it, and the dir goes last.
 */
export async function fixtureWorkspace(cleanup: Cleanup): Promise<FixtureWorkspace> {
  const dir = await tempDir(cleanup);
  const db = await freshPgDatabase();
  cleanup.add(() => db.drop());
  const groups: number[] = [];
  cleanup.add(async () => {
    for (const pgid of [...groups].reverse()) await stopGroup(pgid, 5_000);
  });
  return { dir, db, groups };
}

export async function freePort(): Promise<number> {
  // Below the ephemeral range, so that no client socket takes it between the probe and the bind.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

export function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => !/^\d+ \(.*\) Z/.test(s),
    () => false,
  );
}

export async function waitFor(what: string, check: () => Promise<boolean>, logs: () => Promise<string>, daemonsDied?: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline || (await daemonsDied?.())) throw new Error(`${what} not ready after ${timeoutMs} ms (${String(last)})\n${await logs()}`);
    await sleep(250);
  }
}

/** Stops a process group (the daemon and the workers it forked): SIGTERM, then SIGKILL after `graceMs`. */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  const members = async () => {
    const pids: number[] = [];
    for (const e of await readdir('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
      // Fields after the command name: state ppid pgrp …
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') pids.push(Number(e));
    }
    return pids;
  };
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone
    }
  };
  if ((await members()).length === 0) return;
  signal('SIGTERM');
  for (let waited = 0; waited < graceMs; waited += 100) {
    if ((await members()).length === 0) return;
    await sleep(100);
  }
  signal('SIGKILL');
  for (let waited = 0; waited < 5_000 && (await members()).length > 0; waited += 50) await sleep(50);
}

export function runWithEnv(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`)) : resolve()));
  });
}

/** Starts `cmd` in a session (and process group) of its own, output to `log`; returns its pid. */
export function daemon(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}
