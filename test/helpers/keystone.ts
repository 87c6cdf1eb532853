import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, daemon, fixtureWorkspace, freePort, runWithEnv, waitFor } from './daemons.js';
import type { Cleanup } from './loopfs.js';

/**
 * A private OpenStack Keystone for tests: Debian's `keystone` (22.0) served by uWSGI (no systemd, no
 * Apache), its database a fresh one on the test PostgreSQL (SQLite's single writer failed with
 * "database is locked" while Ceph and Cinder started beside it), its Fernet and credential keys written
 * by the fixture, and an admin bootstrapped in the `admin` project. Everything lives in one `polly-test-*`
 * directory; uWSGI and its worker are stopped by process group.
 */
export interface KeystoneService {
  /** The v3 URL: `http://127.0.0.1:<port>/v3`. */
  authUrl: string;
  /** The region bootstrap made (the catalog's endpoints are in it). */
  region: string;
  admin: { username: string; password: string; project: string };
  /** One call of Keystone's API as the admin (a token scoped to the admin project); throws on an HTTP error. */
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /** A token for a user by name (Default domain) and password, scoped to a project by id. */
  passwordToken(username: string, password: string, projectId: string): Promise<string>;
  /** Wall-clock milliseconds of the bring-up, in parts (`serveMs`: uWSGI answering after bootstrap ended; it starts with bootstrap). */
  timings: { dbSyncMs: number; bootstrapMs: number; serveMs: number; totalMs: number };
  dir: string;
}

export const KEYSTONE_BINARIES = ['keystone-manage', 'uwsgi', '/usr/bin/keystone-wsgi-public', '/usr/lib/uwsgi/plugins/python3_plugin.so'];

/** True when Keystone and uWSGI's Python 3 plugin are installed (scripts/pretest.sh installs them). */
export async function keystoneAvailable(): Promise<boolean> {
  try {
    for (const b of KEYSTONE_BINARIES) {
      if (b.startsWith('/')) await access(b);
      else await runWithEnv('sh', ['-c', `command -v ${b}`], { PATH: process.env.PATH ?? '/usr/bin:/bin' }, 10_000);
    }
    return true;
  } catch {
    return false;
  }
}

/** A Fernet key as Keystone's `fernet_setup` writes it (`Fernet.generate_key()`): 32 random bytes, url-safe base64. */
const fernetKey = () => `${randomBytes(32).toString('base64url')}=`;

function keystoneConf(d: string, db: string): string {
  return `[DEFAULT]
log_dir = ${d}/log
use_stderr = false
debug = false
[database]
connection = ${db}
[fernet_tokens]
key_repository = ${d}/fernet-keys
[fernet_receipts]
key_repository = ${d}/fernet-keys
[credential]
key_repository = ${d}/credential-keys
[identity]
# bcrypt's least cost: every password authentication is CPU on a 2-core machine.
password_hash_rounds = 4
[cache]
# One uWSGI process: its in-memory cache is coherent (a revocation invalidates it in the same process),
# and validating a token (every Cinder call) no longer reads roles, projects and the catalog each time.
enabled = true
backend = dogpile.cache.memory
`;
}

/**
 * Starts Keystone on a free port and registers its teardown in `cleanup` before anything starts. Takes
 * ~20-40 s here (two `keystone-manage` runs, then uWSGI loading the app).
 */
export async function startKeystone(cleanup: Cleanup): Promise<KeystoneService> {
  const t0 = Date.now();
  const { dir, db, groups } = await fixtureWorkspace(cleanup);
  for (const sub of ['log', 'fernet-keys', 'credential-keys']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  // `fernet_setup` and `credential_setup` would be two more Python start-ups of ~8 s: the keys are files
  // named 0 (staged) and 1 (primary).
  for (const repo of ['fernet-keys', 'credential-keys']) {
    for (const name of ['0', '1']) await writeFile(join(dir, repo, name), fernetKey(), { mode: 0o600 });
  }
  const url = new URL(db.url);
  const dbUrl = `postgresql+psycopg2://${url.username}:${url.password}@${url.hostname}:${url.port || '5432'}${url.pathname}`;
  const conf = join(dir, 'keystone.conf');
  await writeFile(conf, keystoneConf(dir, dbUrl));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', OS_KEYSTONE_CONFIG_FILES: conf };

  const port = await freePort();
  const authUrl = `http://127.0.0.1:${port}/v3`;
  const region = 'RegionOne';
  const admin = { username: 'admin', password: randomBytes(12).toString('hex'), project: 'admin' };
  const d0 = Date.now();
  await runWithEnv('keystone-manage', ['--config-file', conf, 'db_sync'], env, 180_000);
  const dbSyncMs = Date.now() - d0;
  // uWSGI loads the app (~10 s of Python) while bootstrap writes the admin: the readiness wait below
  // needs both.
  const s0 = Date.now();
  const uwsgiLog = join(dir, 'log', 'uwsgi.log');
  const pid = daemon(
    'uwsgi',
    ['--plugin', 'python3', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', '/usr/bin/keystone-wsgi-public', '--master', '--die-on-term', '--processes', '1', '--threads', '2', '--enable-threads', '--lazy-apps'],
    env,
    uwsgiLog,
  );
  groups.push(pid);
  await runWithEnv(
    'keystone-manage',
    ['--config-file', conf, 'bootstrap', '--bootstrap-password', admin.password, '--bootstrap-region-id', region, '--bootstrap-public-url', authUrl],
    env,
    180_000,
  );
  const bootstrapMs = Date.now() - s0;

  const passwordToken = async (username: string, password: string, projectId: string): Promise<string> => {
    const res = await fetch(`${authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: username, domain: { name: 'Default' }, password } } }, scope: { project: { id: projectId } } } }),
    });
    const text = await res.text();
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`Keystone: token for ${username}: HTTP ${res.status} ${text}`);
    return token;
  };
  let adminToken: string | undefined;
  const adminTokenFor = async (): Promise<string> => {
    if (adminToken) return adminToken;
    const res = await fetch(`${authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: { identity: { methods: ['password'], password: { user: { name: admin.username, domain: { name: 'Default' }, password: admin.password } } }, scope: { project: { name: admin.project, domain: { name: 'Default' } } } },
      }),
    });
    const text = await res.text();
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`Keystone: admin token: HTTP ${res.status} ${text}`);
    adminToken = token;
    return token;
  };
  const api = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${authUrl}${path}`, {
      method,
      headers: { 'X-Auth-Token': await adminTokenFor(), 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Keystone ${method} ${path}: HTTP ${res.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  const logs = async () => {
    const parts: string[] = [];
    if (!(await alive(pid))) parts.push(`uwsgi (pid ${pid}) exited`);
    for (const f of ['uwsgi.log', 'keystone-wsgi-public.log', 'keystone.log']) {
      const text = await readFile(join(dir, 'log', f), 'utf8').catch(() => '');
      if (text) parts.push(`--- ${f}\n${text.split('\n').slice(-30).join('\n')}`);
    }
    return parts.join('\n');
  };
  await waitFor('Keystone fixture: uwsgi', async () => (await adminTokenFor()) !== '', logs, async () => !(await alive(pid)));
  const serveMs = Date.now() - s0 - bootstrapMs;

  return { authUrl, region, admin, api, passwordToken, timings: { dbSyncMs, bootstrapMs, serveMs, totalMs: Date.now() - t0 }, dir };
}
