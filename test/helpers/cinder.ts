import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../src/drivers/system/exec.js';
import { type CephCluster, startCephCluster } from './ceph.js';
import { alive, daemon, fixtureWorkspace, freePort, runWithEnv, waitFor } from './daemons.js';
import type { Cleanup } from './loopfs.js';
import { type KeystoneService, startKeystone } from './keystone.js';

/**
 * A private OpenStack Cinder for tests: cinder-api, cinder-scheduler and cinder-volume from Debian's
 * packages, run by hand (no systemd) with `auth_strategy = noauth` (or `keystone`, validating tokens at a
 * private Keystone: test/helpers/keystone.ts), a RabbitMQ of their own, a fresh
 * database on the test PostgreSQL, and two backends: `ceph` (the RBD driver on a private test Ceph) and
 * `fake` (Cinder's own FakeLoggingVolumeDriver, whose connection info is iSCSI: what a transport Polly's
 * nodes cannot map looks like). Everything lives in one `polly-test-*` directory; every process is
 * found again by its pid and stopped by process group.
 */
export interface CinderService {
  /** The v3 endpoint with the project: `http://127.0.0.1:<port>/v3/<project>`. */
  endpoint: string;
  /** The project volumes are made in: the hex id noauth callers name (`X-Auth-Token: <user>:<project>`), or the Keystone project's id. */
  projectId: string;
  /** Set when Cinder validates tokens at a private Keystone (`startCinder(…, { keystone: true })`). */
  keystone?: CinderKeystone;
  ceph: CephCluster;
  /** The RBD pool the `ceph` backend creates images in, and its cephx user and key. */
  rbdPool: string;
  rbdUser: string;
  rbdKey: string;
  /** Volume types created at start: one per backend. */
  volumeTypes: { ceph: string; fake: string };
  /** Wall-clock milliseconds of the bring-up, in parts (`keystoneMs`: Keystone up and provisioned, beside Ceph and RabbitMQ). */
  timings: { cephMs: number; rabbitMs: number; keystoneMs?: number; dbSyncMs: number; servicesMs: number; totalMs: number };
  /** One call of the Cinder API as an admin of the project (noauth, or the Keystone user's token), at microversion 3.54; throws on an HTTP error. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  dir: string;
}

/**
 * What a Cinder that validates tokens was given in its Keystone: a project (`CinderService.projectId`),
 * a user with the admin and member roles in it (admin: volume types, QoS specs and pool statistics are
 * admin calls in Cinder), an application credential of that user, Cinder's own service user, and the
 * `block-storage` service whose public endpoint in the Keystone's region is the fixture's cinder-api.
 */
export interface CinderKeystone {
  service: KeystoneService;
  projectName: string;
  username: string;
  userId: string;
  password: string;
  applicationCredential: { id: string; secret: string };
  /** The catalog's endpoint template: `http://127.0.0.1:<port>/v3/%(project_id)s`. */
  endpointTemplate: string;
}

export const CINDER_BINARIES = ['cinder-api', 'cinder-scheduler', 'cinder-volume', 'cinder-manage', '/usr/lib/rabbitmq/bin/rabbitmq-server', 'epmd'];

/** True when Cinder and RabbitMQ are installed (scripts/pretest.sh installs them). */
export async function cinderAvailable(): Promise<boolean> {
  try {
    for (const b of CINDER_BINARIES) await run('sh', ['-c', `command -v ${b}`]);
    return true;
  } catch {
    return false;
  }
}

interface AuthtokenConf {
  authUrl: string;
  username: string;
  password: string;
  project: string;
}

function cinderConf(d: string, o: { rabbitPort: number; apiPort: number; db: string; cephConf: string; rbdPool: string; host: string; keystone: AuthtokenConf | undefined }): string {
  // keystonemiddleware caches validated tokens for 300 s by default; the tests revoke tokens and expect
  // Cinder to see it at once, so every request is validated at Keystone.
  const authtoken = o.keystone
    ? `[keystone_authtoken]
www_authenticate_uri = ${o.keystone.authUrl}
auth_url = ${o.keystone.authUrl}
auth_type = password
username = ${o.keystone.username}
password = ${o.keystone.password}
user_domain_name = Default
project_name = ${o.keystone.project}
project_domain_name = Default
# The catalog holds public endpoints only (keystonemiddleware looks for the internal one by default).
interface = public
token_cache_time = -1
`
    : '';
  return `[DEFAULT]
auth_strategy = ${o.keystone ? 'keystone' : 'noauth'}
transport_url = rabbit://guest:guest@127.0.0.1:${o.rabbitPort}/
state_path = ${d}/state
log_dir = ${d}/log
api_paste_config = /etc/cinder/api-paste.ini
rootwrap_config = /etc/cinder/rootwrap.conf
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = ${o.apiPort}
osapi_volume_workers = 1
enabled_backends = ceph,fake
default_volume_type = polly-ceph
host = ${o.host}
my_ip = 127.0.0.1
debug = false
use_stderr = false
# Services report often, and backends their pool statistics every 3 s (the least Cinder takes), so that
# tests see capacity move.
report_interval = 2
periodic_interval = 1
backend_stats_polling_interval = 3
scheduler_driver_init_wait_time = 1
# No project quotas: the suites make more than Cinder's default 10 volumes.
quota_volumes = -1
quota_snapshots = -1
quota_gigabytes = -1
per_volume_size_limit = -1
[database]
connection = ${o.db}
[oslo_concurrency]
lock_path = ${d}/lock
[coordination]
backend_url = file://${d}/lock
[ceph]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph
rbd_pool = ${o.rbdPool}
rbd_ceph_conf = ${o.cephConf}
rbd_user = cinder
rbd_secret_uuid = ${'5b4b6d4e-6f1c-4a55-9d4c-2f0a4f8f1b11'}
rbd_flatten_volume_from_snapshot = false
report_discard_supported = true
# The pool's total stays the cluster's size instead of free + used (which moves with every write).
report_dynamic_total_capacity = false
[fake]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
${authtoken}`;
}

/** The RabbitMQ environment: private node name, ports, data and cookie, all under `r`. */
function rabbitEnv(r: string, ports: { node: number; dist: number; epmd: number }): NodeJS.ProcessEnv {
  return {
    PATH: `/usr/lib/rabbitmq/bin:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: r,
    RABBITMQ_NODENAME: `polly${ports.node}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(ports.node),
    RABBITMQ_DIST_PORT: String(ports.dist),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_EPMD_PORT: String(ports.epmd),
    RABBITMQ_MNESIA_BASE: join(r, 'mnesia'),
    RABBITMQ_LOG_BASE: join(r, 'log'),
    RABBITMQ_PID_FILE: join(r, 'rabbit.pid'),
    RABBITMQ_CONFIG_FILE: join(r, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(r, 'enabled_plugins'),
    // One scheduler thread and small allocators: the broker carries a handful of RPC calls only.
    RABBITMQ_SERVER_ERL_ARGS: '+S 1:1 +A 4 +MBas ageffcbf +MHas ageffcbf +MBlmbcs 512 +MHlmbcs 512 +MMmcs 30',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
}

/**
 * Provisions, in a fresh Keystone, what a token-validating Cinder on `apiPort` and its tests need (see
 * CinderKeystone), with Cinder's service user (admin in a `service` project: it validates tokens).
 */
async function provisionKeystone(ks: KeystoneService, apiPort: number): Promise<CinderKeystone & { projectId: string; cinderUser: AuthtokenConf }> {
  const suffix = randomBytes(3).toString('hex');
  const roles = (await ks.api<{ roles: Array<{ id: string; name: string }> }>('GET', '/roles')).roles;
  const role = (name: string): string => {
    const id = roles.find((r) => r.name === name)?.id;
    if (id === undefined) throw new Error(`Keystone has no role ${name}`);
    return id;
  };
  const project = async (name: string) => (await ks.api<{ project: { id: string } }>('POST', '/projects', { project: { name, domain_id: 'default' } })).project.id;
  const user = async (name: string, password: string, projectId: string, roleNames: string[]) => {
    const id = (await ks.api<{ user: { id: string } }>('POST', '/users', { user: { name, password, domain_id: 'default', default_project_id: projectId } })).user.id;
    for (const r of roleNames) await ks.api('PUT', `/projects/${projectId}/users/${id}/roles/${role(r)}`);
    return id;
  };
  const projectName = `polly-${suffix}`;
  const projectId = await project(projectName);
  const username = `polly-${suffix}`;
  const password = randomBytes(12).toString('hex');
  const userId = await user(username, password, projectId, ['admin', 'member']);
  const serviceProject = await project('service');
  const cinderUser = { authUrl: ks.authUrl, username: 'cinder', password: randomBytes(12).toString('hex'), project: 'service' };
  await user(cinderUser.username, cinderUser.password, serviceProject, ['admin']);
  const serviceId = (await ks.api<{ service: { id: string } }>('POST', '/services', { service: { type: 'block-storage', name: 'cinderv3', enabled: true } })).service.id;
  const endpointTemplate = `http://127.0.0.1:${apiPort}/v3/%(project_id)s`;
  await ks.api('POST', '/endpoints', { endpoint: { service_id: serviceId, interface: 'public', region_id: ks.region, url: endpointTemplate } });
  // An application credential is made by its user, with a token of that user.
  const token = await ks.passwordToken(username, password, projectId);
  const cred = (await ks.api<{ application_credential: { id: string; secret: string } }>('POST', `/users/${userId}/application_credentials`, { application_credential: { name: `polly-tests-${suffix}` } }, { 'X-Auth-Token': token }))
    .application_credential;
  return { service: ks, projectId, projectName, username, userId, password, applicationCredential: { id: cred.id, secret: cred.secret }, endpointTemplate, cinderUser };
}

function keystoneView(k: CinderKeystone): CinderKeystone {
  return { service: k.service, projectName: k.projectName, username: k.username, userId: k.userId, password: k.password, applicationCredential: k.applicationCredential, endpointTemplate: k.endpointTemplate };
}

/**
 * Starts Ceph (unless given one), RabbitMQ and Cinder, and registers the teardown of all of it in
 * `cleanup` before anything starts. Takes ~30-60 s on this machine. With `keystone`, Cinder validates
 * tokens (`auth_strategy = keystone`) at a private Keystone started beside Ceph and RabbitMQ.
 */
export async function startCinder(cleanup: Cleanup, opts: { ceph?: CephCluster; keystone?: boolean } = {}): Promise<CinderService> {
  const t0 = Date.now();
  // Stopped in reverse: Cinder first (it talks to the broker and Ceph), then the broker, then epmd.
  const { dir, db, groups } = await fixtureWorkspace(cleanup);

  // Ceph and RabbitMQ come up in parallel: each takes seconds of waiting more than of work.
  const rabbitDir = join(dir, 'rabbit');
  await mkdir(join(rabbitDir, 'mnesia'), { recursive: true });
  await mkdir(join(rabbitDir, 'log'), { recursive: true });
  const ports = { node: await freePort(), dist: await freePort(), epmd: await freePort() };
  const renv = rabbitEnv(rabbitDir, ports);
  const rabbit = (async () => {
    const r0 = Date.now();
    await writeFile(join(rabbitDir, 'enabled_plugins'), '[].\n');
    await writeFile(join(rabbitDir, 'rabbitmq.conf'), 'loopback_users = none\nvm_memory_high_watermark.absolute = 256MiB\ndisk_free_limit.absolute = 50MB\n');
    await writeFile(join(rabbitDir, '.erlang.cookie'), randomBytes(15).toString('hex'), { mode: 0o400 });
    groups.push(daemon('epmd', ['-address', '127.0.0.1', '-port', String(ports.epmd)], renv, join(rabbitDir, 'log', 'epmd.log')));
    groups.push(daemon('/usr/lib/rabbitmq/bin/rabbitmq-server', [], renv, join(rabbitDir, 'log', 'stdout.log')));
    await runWithEnv('/usr/lib/rabbitmq/bin/rabbitmqctl', ['wait', '--timeout', '90', join(rabbitDir, 'rabbit.pid')], renv, 100_000);
    return Date.now() - r0;
  })();
  const apiPort = await freePort();
  const keystonePromise = opts.keystone
    ? (async () => {
        const k0 = Date.now();
        const ks = await startKeystone(cleanup);
        return { ...(await provisionKeystone(ks, apiPort)), ms: Date.now() - k0 };
      })()
    : Promise.resolve(undefined);
  const ceph0 = Date.now();
  let cephMs = 0;
  const cephPromise = opts.ceph
    ? Promise.resolve(opts.ceph)
    : startCephCluster(cleanup, { store: 'bluestore-loop', osdBytes: 12 * 1024 ** 3 }).then((ceph) => {
        cephMs = Date.now() - ceph0;
        return ceph;
      });
  // All settled before a failure is thrown: the cleanup must not run while another part still starts.
  const settled = await Promise.allSettled([cephPromise, rabbit, keystonePromise] as const);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  const [ceph, rabbitMs, keystone] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [CephCluster, number, Awaited<typeof keystonePromise>];

  // Cinder's own Ceph identity and client configuration (the fixture's admin conf stays the fixture's).
  const cd = join(dir, 'cinder');
  for (const sub of ['state', 'log', 'lock']) await mkdir(join(cd, sub), { recursive: true });
  const rbdPool = ceph.rbdPool;
  const user = await ceph.createUser('cinder', { mon: 'profile rbd', osd: `profile rbd pool=${rbdPool}`, mgr: `profile rbd pool=${rbdPool}` });
  const keyring = join(cd, 'ceph.client.cinder.keyring');
  await writeFile(keyring, `[client.cinder]\n\tkey = ${user.key}\n`, { mode: 0o600 });
  const cephConf = join(cd, 'ceph.conf');
  await writeFile(cephConf, `[global]\nmon host = [v2:${ceph.monAddress}]\nkeyring = ${keyring}\nlog to stderr = false\nerr to stderr = true\nadmin socket =\n[client]\npid file =\nlog file = ${cd}/log/ceph-$name.$pid.log\n`);

  const d0 = Date.now();
  const url = new URL(db.url);
  const dbUrl = `postgresql+psycopg2://${url.username}:${url.password}@${url.hostname}:${url.port || '5432'}${url.pathname}`;
  const conf = join(cd, 'cinder.conf');
  await writeFile(conf, cinderConf(cd, { rabbitPort: ports.node, apiPort, db: dbUrl, cephConf, rbdPool, host: `polly-test-${apiPort}`, keystone: keystone?.cinderUser }));
  await run('cinder-manage', ['--config-file', conf, 'db', 'sync'], { timeoutMs: 180_000 });
  const dbSyncMs = Date.now() - d0;

  const s0 = Date.now();
  // Cinder's services need /usr/bin/python3 and a plain environment (no proxy, no virtualenv).
  const cenv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cd, LANG: 'C.UTF-8' };
  const services: number[] = [];
  for (const svc of ['volume', 'scheduler', 'api']) {
    const pid = daemon(`/usr/bin/cinder-${svc}`, ['--config-file', conf], cenv, join(cd, 'log', `${svc}.stdout`));
    groups.push(pid);
    services.push(pid);
  }
  const projectId = keystone?.projectId ?? randomBytes(16).toString('hex');
  const endpoint = `http://127.0.0.1:${apiPort}/v3/${projectId}`;
  let token: string | undefined;
  const authToken = async (renew: boolean): Promise<string> => {
    if (!keystone) return `admin:${projectId}`;
    if (renew || token === undefined) token = await keystone.service.passwordToken(keystone.username, keystone.password, projectId);
    return token;
  };
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${endpoint}${path}`, {
        method,
        headers: { 'X-Auth-Token': await authToken(attempt > 0), 'Content-Type': 'application/json', 'OpenStack-API-Version': 'volume 3.54' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      // The tests revoke tokens of the fixture's user: a 401 gets one fresh token.
      if (res.status === 401 && keystone && attempt === 0) continue;
      if (!res.ok) throw new Error(`Cinder ${method} ${path}: HTTP ${res.status} ${text}`);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
  };
  const logs = async () => {
    const dead = [];
    for (const pid of services) if (!(await alive(pid))) dead.push(pid);
    const parts: string[] = [];
    for (const f of ['volume.stdout', 'scheduler.stdout', 'api.stdout', 'cinder-volume.log', 'cinder-scheduler.log', 'cinder-api.log']) {
      const text = await readFile(join(cd, 'log', f), 'utf8').catch(() => '');
      if (text) parts.push(`--- ${f}\n${text.split('\n').slice(-30).join('\n')}`);
    }
    return `${dead.length > 0 ? `exited: ${dead.join(', ')}\n` : ''}${parts.join('\n')}`;
  };
  const died = async () => {
    for (const pid of services) if (!(await alive(pid))) return true;
    return false;
  };
  await waitFor('Cinder fixture: cinder-api', async () => (await api<{ volumes: unknown[] }>('GET', '/volumes')).volumes !== undefined, logs, died);
  await waitFor(
    'Cinder fixture: cinder-scheduler and both cinder-volume backends',
    async () => (await api<{ services: Array<{ state: string }> }>('GET', '/os-services')).services.filter((s) => s.state === 'up').length >= 3,
    logs,
    died,
  );
  // The scheduler places volumes only once the backends reported their pools.
  await waitFor(
    'Cinder fixture: backend pool statistics',
    async () => {
      const pools = (await api<{ pools: Array<{ name: string; capabilities: { free_capacity_gb?: unknown } }> }>('GET', '/scheduler-stats/get_pools?detail=true')).pools;
      return ['ceph', 'fake'].every((b) => pools.some((p) => p.name.includes(`@${b}#`) && p.capabilities.free_capacity_gb !== undefined));
    },
    logs,
    died,
  );
  const volumeTypes = { ceph: 'polly-ceph', fake: 'polly-fake' };
  for (const [backend, name] of Object.entries(volumeTypes)) {
    await api('POST', '/types', { volume_type: { name, extra_specs: { volume_backend_name: backend } } });
  }
  const servicesMs = Date.now() - s0;

  return {
    endpoint,
    projectId,
    ceph,
    rbdPool,
    rbdUser: 'cinder',
    rbdKey: user.key,
    volumeTypes,
    ...(keystone ? { keystone: keystoneView(keystone) } : {}),
    timings: { cephMs, rabbitMs, ...(keystone ? { keystoneMs: keystone.ms } : {}), dbSyncMs, servicesMs, totalMs: Date.now() - t0 },
    api,
    dir,
  };
}

/** Waits until a Cinder volume or snapshot reaches `status` (throws on an error status or after `timeoutMs`). */
export async function waitForCinderStatus(c: CinderService, kind: 'volume' | 'snapshot', id: string, status: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await c.api<Record<string, { status: string }>>('GET', `/${kind}s/${id}`))[kind]?.status;
    if (got === status) return;
    if (got?.startsWith('error')) throw new Error(`Cinder ${kind} ${id} is ${got}`);
    if (Date.now() > deadline) throw new Error(`Cinder ${kind} ${id} still ${got} after ${timeoutMs} ms`);
    await sleep(250);
  }
}
