import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 server programs (the `postgresql-15` package). */
const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of one test's own, in a temporary directory on a free port: a test may stop it,
 * crash it and start it again without touching the machine's shared cluster that other tests use.
 */
export interface PrivatePg {
  /** Superuser URL of the `postgres` database (trust authentication on 127.0.0.1). */
  adminUrl: string;
  port: number;
  /** URL of database `name` on this server. */
  urlOf(name: string): string;
  /** Stops it the way a crash would (`pg_ctl stop -m immediate`: no checkpoint, sessions cut). */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory; safe to call twice. */
  destroy(): Promise<void>;
}

/** Why a private PostgreSQL cannot be made here (null when it can). */
export function privatePgSkipReason(): string | null {
  if (!existsSync(join(PG_BIN, 'initdb'))) return `${PG_BIN}/initdb not found (install postgresql-15)`;
  if (process.getuid?.() !== 0) return 'a private PostgreSQL is started as user postgres, which needs root';
  return null;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** As user postgres (initdb and the server refuse to run as root). */
async function asPostgres(cmd: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { timeout: 60_000 });
}

export async function startPrivatePg(): Promise<PrivatePg> {
  const dir = mkdtempSync(join(tmpdir(), 'polly-pg-'));
  const data = join(dir, 'data');
  const ids = await run('id', ['-u', 'postgres']).then(async (u) => ({ uid: Number(u.stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) }));
  chownSync(dir, ids.uid, ids.gid);
  const port = await freePort();
  let running = false;
  const ctl = async (...args: string[]) => asPostgres('pg_ctl', ['-D', data, '-w', '-t', '60', ...args]);
  const pg: PrivatePg = {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    urlOf: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async crash() {
      await ctl('stop', '-m', 'immediate');
      running = false;
    },
    async start() {
      // Sockets in its own directory; fsync off: the data is thrown away after the test.
      await ctl('start', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`);
      running = true;
    },
    async destroy() {
      if (running) await ctl('stop', '-m', 'immediate').catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await pg.start();
  } catch (err) {
    await pg.destroy();
    throw err;
  }
  return pg;
}
