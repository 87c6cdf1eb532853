import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachLoop } from '../../src/drivers/system/loop.js';
import { POLLY_BIN, spawnServer, type ServerProcess } from '../helpers/process.js';
import { AgentProcess } from './hosts/agent.js';
import { DockerHost } from './hosts/dockerd.js';
import { alive, run, runOk, waitFor, type RunResult } from './hosts/exec.js';
import { busyboxRootfs, BUSYBOX, importImage } from './hosts/image.js';
import { createNetwork, type Network } from './hosts/netns.js';

/**
 * Never two writers, on two real Docker hosts sharing one btrfs pool (`topology.shared: true`):
 *
 * - kill -9 of host 1's agent while host 1's container writes to `ledger`: host 1's fence guard fences
 *   the volume at the agent's own deadline (before any re-grant), so the container's writes fail from
 *   then on; under `safe` host 2 waits for `polly node fence host-1`, under `force-after` it gets the
 *   volume after lease end + clock skew + forceAfterSeconds. What host 2 reads never changes afterwards.
 * - a partitioned host 2 (its agent alive) fences itself before host 1 is granted its volume.
 * - a Mount whose stage fails (the agent cannot see the pool) leaves no attachment; `docker volume rm`
 *   works.
 * - another service's token cannot heartbeat a node.
 *
 * Short lease and margins keep it quick: lease 4 s, margin 1 s, clock skew 1 s, force-after 3 s.
 */

const ADMIN = `e2e-admin-${randomBytes(12).toString('hex')}`;
const SERVICE = 'ledgers';
const LEASE = 4;
const MARGIN = 1;
const SKEW = 1;
const FORCE_AFTER = 3;

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
function exists(path: string): boolean {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}
const missing = [
  ...['dockerd', 'docker', 'ip', 'unshare', 'nsenter', 'mount', 'tar', 'mkfs.btrfs', 'losetup'].filter((c) => !onPath(c)),
  ...(onPath('busybox') || exists(BUSYBOX) ? [] : ['busybox']),
  ...(process.getuid?.() === 0 ? [] : ['root']),
];

const cleanups: Array<[string, () => Promise<unknown>]> = [];
let id = '';
let work = '';
let btrfsDir = '';
let net: Network | undefined;
let server: ServerProcess | undefined;
const hosts: DockerHost[] = [];
const agents: Record<string, AgentProcess> = {};
let serviceToken = '';
let image = '';
const figures: Array<[string, number]> = [];

// Tests inspect arbitrary JSON responses.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  if (!server) throw new Error('no server');
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function polly(args: string[], token = ADMIN): Promise<RunResult> {
  if (!server) throw new Error('no server');
  return run(process.execPath, [POLLY_BIN, ...args], { env: { ...process.env, POLLY_URL: server.url, POLLY_TOKEN: token }, timeoutMs: 30_000 });
}

function host(n: 1 | 2): DockerHost {
  const h = hosts[n - 1];
  if (!h) throw new Error(`no host ${n}`);
  return h;
}

async function startAgent(n: 1 | 2): Promise<AgentProcess> {
  if (!server) throw new Error('no server');
  const h = host(n);
  const agent = await AgentProcess.start(h, {
    serverUrl: server.url,
    token: serviceToken,
    nodeId: `host-${n}`,
    stateDir: join(h.dir, 'agent'),
    dataDir: join(h.dir, 'agent-data'),
    extraArgs: ['--heartbeat', '1'],
  });
  agents[`host-${n}`] = agent;
  return agent;
}

/** Starts the host's agent again when an earlier story left it dead. */
async function ensureAgent(n: 1 | 2): Promise<void> {
  const a = agents[`host-${n}`];
  if (!a || !alive(a.pid)) await startAgent(n);
}

interface Volume {
  id: string;
  name: string;
  backendId?: string;
}

async function volumeNamed(name: string): Promise<Volume> {
  const res = await api('GET', '/v1/volumes?limit=1000', ADMIN);
  const v = (res.body.items as Volume[]).find((x) => x.name === name);
  if (!v) throw new Error(`no volume ${name}`);
  return v;
}

/** The volume's bytes as the pool holds them (read on host 0, outside every Docker host). */
function poolBytes(v: Volume, file: string): Promise<string> {
  // btrfs names a volume's subvolume after the volume id.
  return readFile(join(btrfsDir, 'volumes', v.backendId ?? v.id, file), 'utf8').catch(() => '');
}

async function eventsOf(type: string): Promise<Array<{ at: string; objectId: string; data: Record<string, unknown> }>> {
  const res = await api('GET', `/v1/events?type=${encodeURIComponent(type)}&limit=1000`, ADMIN);
  expect(res.status).toBe(200);
  return res.body.items;
}

/** A container on a host that appends numbered lines to /data/<file> and says on stderr when a write fails. */
async function startWriter(h: DockerHost, volume: string, file: string, tag: string): Promise<string> {
  const script = `i=0; while true; do i=$((i+1)); echo "${tag} $i" >> /data/${file} || echo "write ${tag} $i failed" >&2; sleep 0.05; done`;
  const r = await h.docker(['run', '-d', '--network', 'none', '-v', `${volume}:/data`, image, 'sh', '-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function running(h: DockerHost, container: string): Promise<boolean> {
  const r = await h.docker(['inspect', '-f', '{{.State.Running}}', container]);
  return r.stdout.trim() === 'true';
}

/** One write attempt from inside a running container; answers the shell's outcome. */
async function writeFrom(h: DockerHost, container: string, file: string, line: string): Promise<RunResult> {
  return h.docker(['exec', container, 'sh', '-c', `echo "${line}" >> /data/${file}`]);
}

function readOn(h: DockerHost, volume: string, file: string): Promise<RunResult> {
  return h.docker(['run', '--rm', '--network', 'none', '-v', `${volume}:/data`, image, 'cat', `/data/${file}`]);
}

/** The fencedAt of the last fence guard report in a host's agent state directory (its log), if after `after`. */
function guardFencedAt(h: DockerHost, after: number): number | undefined {
  let log = '';
  try {
    log = readFileSync(join(h.dir, 'agent', 'fence-guard.log'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = log.split('\n').filter((l) => l.includes('self-fenced at its deadline'));
  const last = lines.at(-1);
  const at = last ? Date.parse((JSON.parse(last) as { fencedAt: string }).fencedAt) : undefined;
  return at !== undefined && at > after ? at : undefined;
}

/** The fencedAt of the agent's last `self-fenced` log line. */
function agentFencedAt(agent: AgentProcess): number | undefined {
  const lines = agent.output().split('\n').filter((l) => l.includes('"msg":"self-fenced"'));
  const last = lines.at(-1);
  return last ? Date.parse((JSON.parse(last) as { fencedAt: string }).fencedAt) : undefined;
}

function diagnostics(): string {
  const parts: string[] = [];
  for (const [node, a] of Object.entries(agents)) parts.push(`--- agent ${node} ---\n${a.output().slice(-5000)}`);
  for (const h of hosts) {
    try {
      parts.push(`--- fence guard ${h.name} ---\n${readFileSync(join(h.dir, 'agent', 'fence-guard.log'), 'utf8').slice(-2000)}`);
    } catch {
      // none
    }
  }
  if (server) parts.push(`--- server ---\n${server.output().slice(-4000)}`);
  return parts.join('\n');
}

async function cleanUp(): Promise<void> {
  const errors: string[] = [];
  while (cleanups.length > 0) {
    const [what, fn] = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) console.error(`failover clean-up problems:\n${errors.join('\n')}`);
}

const ready = missing.length === 0;
if (!ready && process.env.CI) {
  describe('failover on two Docker hosts', () => {
    it('has what it needs', () => {
      throw new Error(`missing on this machine: ${missing.join(', ')}`);
    });
  });
}

describe.skipIf(!ready)('failover on two Docker hosts sharing a btrfs pool (never two writers)', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    id = randomBytes(3).toString('hex');
    work = await mkdtemp(join(tmpdir(), `polly-e2e-failover-${id}-`));
    cleanups.push(['remove the work directory', () => rm(work, { recursive: true, force: true, maxRetries: 3 })]);
    cleanups.push([
      'unmount what is left under the work directory',
      async () => {
        const left = readFileSync('/proc/mounts', 'utf8')
          .split('\n')
          .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
          .filter((m) => m.startsWith(work));
        for (const m of left.sort((a, b) => b.length - a.length)) await run('umount', ['-l', m]);
      },
    ]);

    // The shared btrfs pool: a loop file mounted outside the temp directory, which each Docker host's
    // mount namespace lets go of at its start; both hosts (and the server) see this one.
    const image0 = join(work, 'btrfs.img');
    await writeFile(image0, '');
    await truncate(image0, 512 * 2 ** 20);
    await runOk('mkfs.btrfs', ['-q', '-f', image0]);
    // attachLoop, not a bare `losetup --find`: it clears a read-only flag a free loop device may still
    // carry (the pool then came up mounted read-only, and the server refused it).
    const loop = await attachLoop(image0, { readOnly: false });
    cleanups.push(['detach the loop device', () => run('losetup', ['-d', loop])]);
    btrfsDir = `/var/tmp/polly-e2e-failover-${id}`;
    await mkdir(btrfsDir, { recursive: true });
    cleanups.push(['remove the btrfs mountpoint', () => rm(btrfsDir, { recursive: true, force: true })]);
    await runOk('mount', ['-t', 'btrfs', loop, btrfsDir]);
    cleanups.push(['unmount the btrfs pool', () => run('umount', ['-l', btrfsDir])]);

    // A pool only the server sees: a tmpfs under the temp directory (the Docker hosts drop it).
    const hidden = join(work, 'hidden');
    await mkdir(hidden, { recursive: true });
    await runOk('mount', ['-t', 'tmpfs', '-o', 'size=64m', `polly-e2e-hidden-${id}`, hidden]);

    net = await createNetwork(id, 2);
    const network = net;
    cleanups.push(['remove namespaces, veths and the bridge', () => network.destroy()]);
    const serverDir = join(work, 'server');
    await mkdir(serverDir, { recursive: true });
    const config = join(work, 'polly.yml');
    await writeFile(
      config,
      [
        `listen: "${network.hostAddress}:0"`,
        `attachmentLeaseSeconds: ${LEASE}`,
        `selfFenceMarginSeconds: ${MARGIN}`,
        `clockSkewSeconds: ${SKEW}`,
        'pools:',
        '  - name: ledger',
        '    driver: btrfs',
        `    path: "${btrfsDir}"`,
        '    topology: {shared: true}',
        '  - name: hidden',
        '    driver: local',
        `    path: "${hidden}"`,
        '    topology: {shared: true}',
        'profiles:',
        '  - {name: safe, pools: [ledger], failover: safe}',
        `  - {name: forced, pools: [ledger], failover: force-after, forceAfterSeconds: ${FORCE_AFTER}}`,
        '  - {name: unseen, pools: [hidden]}',
        '',
      ].join('\n'),
    );
    const serverReady = spawnServer({ POLLY_CONFIG: config, POLLY_DATA_DIR: serverDir, POLLY_ADMIN_TOKEN: ADMIN }).then((s) => {
      server = s;
      cleanups.push(['stop the server', () => s.kill9()]);
    });
    for (const [i, h] of network.hosts.entries()) {
      const dockerHost = new DockerHost(`host-${i + 1}`, join(work, `host-${i + 1}`), h.netns);
      hosts.push(dockerHost);
      cleanups.push([`stop dockerd of host-${i + 1}`, () => dockerHost.stop()]);
    }
    await Promise.all([serverReady, Promise.all(hosts.map((h) => h.start()))]);
    image = `polly-failover-${id}:e2e`;
    const tarball = await busyboxRootfs(join(work, 'rootfs'));
    await Promise.all(hosts.map((h) => importImage(h, tarball, image)));
    expect((await api('POST', '/v1/services', ADMIN, { name: SERVICE })).status).toBe(201);
    serviceToken = (await api('POST', `/v1/services/${SERVICE}/tokens`, ADMIN, {})).body.token as string;
    cleanups.push([
      'kill the agents and their fence guards',
      async () => {
        for (const a of Object.values(agents)) await a.kill9();
      },
    ]);
    await Promise.all([startAgent(1), startAgent(2)]);
    cleanups.push([
      'remove containers',
      async () => {
        for (const h of hosts) {
          const ps = await h.docker(['ps', '-aq'], { timeoutMs: 10_000 });
          const ids = ps.stdout.split('\n').filter(Boolean);
          if (ids.length > 0) await h.docker(['rm', '-f', ...ids], { timeoutMs: 20_000 });
        }
      },
    ]);
  }, 150_000);

  afterAll(async () => {
    console.log(`failover figures (ms): ${figures.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    await cleanUp();
  }, 120_000);

  it('another service cannot heartbeat or report for a node (404)', async () => {
    expect((await api('POST', '/v1/services', ADMIN, { name: 'intruder' })).status).toBe(201);
    const intruder = (await api('POST', '/v1/services/intruder/tokens', ADMIN, {})).body.token as string;
    const hb = await api('POST', '/v1/nodes/host-1/heartbeat', intruder);
    expect(hb.status).toBe(404);
    expect(hb.body.error.code).toBe('NODE_NOT_FOUND');
    expect((await api('POST', '/v1/nodes/host-1/self-fence', intruder, { attachments: [], fencedAt: new Date().toISOString() })).status).toBe(404);
  });

  it('a Mount whose stage fails leaves no attachment, and docker volume rm then works', async () => {
    const h1 = host(1);
    const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=16MiB', '-o', 'profile=unseen', 'unseen']);
    expect(created.code, created.stderr).toBe(0);
    const v = await volumeNamed('unseen');
    const mount = await h1.docker(['run', '--rm', '--network', 'none', '-v', 'unseen:/data', image, 'true']);
    expect(mount.code).not.toBe(0);
    console.log(`failover: a Mount that cannot stage: ${mount.stderr.trim()}`);
    expect((await api('GET', `/v1/attachments?volume=${v.id}`, ADMIN)).body.items).toEqual([]);
    expect((await api('GET', `/v1/volumes/${v.id}`, ADMIN)).body.status).toBe('available');
    const rm1 = await h1.docker(['volume', 'rm', 'unseen']);
    expect(rm1.code, rm1.stderr).toBe(0);
    expect((await api('GET', `/v1/volumes/${v.id}`, ADMIN)).status).toBe(404);
  });

  for (const policy of ['safe', 'force-after'] as const) {
    it(`kill -9 of the holder's agent (failover ${policy}): its container's writes fail before host 2 gets the volume, and never land`, async () => {
      const h1 = host(1);
      const h2 = host(2);
      const name = `ledger-${policy}`;
      try {
        await ensureAgent(1);
        const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=64MiB', '-o', `profile=${policy === 'safe' ? 'safe' : 'forced'}`, name]);
        expect(created.code, created.stderr).toBe(0);
        const v = await volumeNamed(name);
        const writer = await startWriter(h1, name, 'ledger', 'a');
        await waitFor('host 1 to write', 10_000, async () => ((await poolBytes(v, 'ledger')).split('\n').length > 5 ? true : undefined));

        await agents['host-1']!.kill9();
        const killedAt = Date.now();
        // Host 2 is refused, told why, while host 1's lease and then the policy hold it.
        const waiting = await waitFor('host 2 to be told it waits for host 1 to be fenced', 20_000, async () => {
          const r = await readOn(h2, name, 'ledger');
          if (r.code === 0) throw new Error(`host 2 got ${name} before host 1 was fenced (${policy})`);
          return /waiting for node host-1 to be fenced/.test(r.stderr) ? r : undefined;
        }, 300);
        console.log(`failover (${policy}): host 2 waits with: ${waiting.stderr.trim()}`);

        // Host 1's fence guard fenced the volume at the dead agent's deadline: writes fail from then on.
        const fencedAt = await waitFor('the fence guard of host 1 to fence', 15_000, () => guardFencedAt(h1, killedAt), 100);
        figures.push([`${policy}: kill -9 → fence guard fenced`, fencedAt - killedAt]);
        if (await running(h1, writer)) {
          const late = await writeFrom(h1, writer, 'ledger', 'a late');
          expect(late.code).not.toBe(0);
          expect(late.stderr).toMatch(/read-only|no such file|i\/o error/i);
        }
        // (A writer caught with the file open for writing is killed by the fence instead.)
        if (await running(h1, writer)) {
          await new Promise((r) => setTimeout(r, 200));
          expect((await h1.docker(['logs', writer])).stderr).toMatch(/write a \d+ failed/);
        } else figures.push([`${policy}: writer killed by the fence (1 = yes)`, 1]);
        const frozen = await poolBytes(v, 'ledger');

        if (policy === 'safe') {
          // Nothing moves by itself: the operator confirms host 1 down.
          await new Promise((r) => setTimeout(r, Math.max(0, (LEASE + SKEW + 1) * 1000 - (Date.now() - killedAt))));
          expect((await readOn(h2, name, 'ledger')).code, 'safe must not move the volume without a fence').not.toBe(0);
          const ls = await polly(['node', 'ls']);
          console.log(`failover: polly node ls\n${ls.stdout}`);
          const fence = await polly(['node', 'fence', 'host-1', '--reason', 'agent killed; host checked']);
          expect(fence.code, fence.stderr).toBe(0);
          console.log(`failover: polly node fence host-1\n${fence.stdout}`);
        }
        const read = await waitFor('host 2 to get the volume', 20_000, async () => {
          const r = await readOn(h2, name, 'ledger');
          return r.code === 0 ? r : undefined;
        }, 200);
        const grantedAt = Date.now();
        figures.push([`${policy}: kill -9 → host 2 attached and read`, grantedAt - killedAt]);
        const created2 = (await eventsOf('attachment.created')).filter((e) => e.data.volumeId === v.id && e.data.node === 'host-2');
        expect(created2.length).toBeGreaterThan(0);
        const grantEvent = Math.min(...created2.map((e) => Date.parse(e.at)));
        // Order: host 1 was fenced before host 2 was granted.
        expect(fencedAt).toBeLessThan(grantEvent);
        figures.push([`${policy}: fence → grant`, grantEvent - fencedAt]);
        expect(read.stdout).toBe(frozen);

        // Nothing host 1's container does reaches the volume any more.
        if (await running(h1, writer)) expect((await writeFrom(h1, writer, 'ledger', 'a after')).code).not.toBe(0);
        await new Promise((r) => setTimeout(r, 500));
        const again = await readOn(h2, name, 'ledger');
        expect(again.code, again.stderr).toBe(0);
        expect(again.stdout).toBe(frozen);
        expect(again.stdout).not.toMatch(/a (late|after)/);

        // Clean up for the next story: host 1 comes back (unfenced by the operator after it was repaired).
        await h1.docker(['rm', '-f', writer], { timeoutMs: 30_000 });
        if (policy === 'safe') expect((await polly(['node', 'unfence', 'host-1'])).code).toBe(0);
        await startAgent(1);
      } catch (err) {
        console.error(diagnostics());
        throw err;
      }
    });
  }

  it('a partitioned host (agent alive) fences itself before the other host is granted its volume', async () => {
    const h1 = host(1);
    const h2 = host(2);
    const name = 'ledger-partition';
    try {
      await ensureAgent(1);
      const created = await h2.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=64MiB', '-o', 'profile=forced', name]);
      expect(created.code, created.stderr).toBe(0);
      const v = await volumeNamed(name);
      const writer = await startWriter(h2, name, 'ledger', 'b');
      await waitFor('host 2 to write', 10_000, async () => ((await poolBytes(v, 'ledger')).split('\n').length > 5 ? true : undefined));
      // Host 2's network goes down; its agent lives on.
      const inside = `pn${id}2`;
      await runOk('ip', ['-n', net!.hosts[1]!.netns, 'link', 'set', inside, 'down']);
      const cutAt = Date.now();
      try {
        const read = await waitFor('host 1 to get the volume', 30_000, async () => {
          const r = await readOn(h1, name, 'ledger');
          return r.code === 0 ? r : undefined;
        }, 200);
        const grantedAt = Date.now();
        const fencedAt = await waitFor('host 2 to log its self-fence', 5_000, () => agentFencedAt(agents['host-2']!), 100);
        const grant = (await eventsOf('attachment.created')).filter((e) => e.data.volumeId === v.id && e.data.node === 'host-1');
        expect(grant.length).toBeGreaterThan(0);
        const grantEvent = Math.min(...grant.map((e) => Date.parse(e.at)));
        figures.push(['partition: cut → host 2 self-fenced', fencedAt - cutAt], ['partition: cut → host 1 attached and read', grantedAt - cutAt], ['partition: self-fence → grant', grantEvent - fencedAt]);
        expect(fencedAt).toBeLessThan(grantEvent);
        const frozen = read.stdout;
        if (await running(h2, writer)) expect((await writeFrom(h2, writer, 'ledger', 'b late')).code).not.toBe(0);
        const again = await readOn(h1, name, 'ledger');
        expect(again.stdout).toBe(frozen);
      } finally {
        await runOk('ip', ['-n', net!.hosts[1]!.netns, 'link', 'set', inside, 'up']);
      }
      // Back on the network, host 2 reports the self-fence it made (late) and holds nothing.
      await waitFor('host 2 to report its self-fence', 15_000, async () => {
        const n = await api('GET', '/v1/nodes/host-2', ADMIN);
        return n.body.selfFencedAt ? true : undefined;
      });
      await h2.docker(['rm', '-f', writer], { timeoutMs: 30_000 });
    } catch (err) {
      console.error(diagnostics());
      throw err;
    }
  });
});
