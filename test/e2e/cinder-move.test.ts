import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detachLoop } from '../../src/drivers/system/loop.js';
import { type CephCluster, CEPH_BINARIES, startCephCluster } from '../helpers/ceph.js';
import { CINDER_BINARIES, type CinderService, startCinder } from '../helpers/cinder.js';
import { Cleanup } from '../helpers/loopfs.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { AgentProcess } from './hosts/agent.js';
import { DockerHost } from './hosts/dockerd.js';
import { run, waitFor, type RunResult } from './hosts/exec.js';
import { busyboxRootfs, importImage } from './hosts/image.js';
import { createNetwork, type Network } from './hosts/netns.js';
import { type ApiAnswer, callApi, CleanupSteps, missingForHosts } from './hosts/setup.js';

/**
 * OpenStack Cinder on two real Docker hosts. The Polly server's pool is `cinder` (a private Cinder 21.3
 * from Debian, noauth, its RBD backend on a private Ceph); only the server talks to Cinder, the agents on
 * the hosts map what Cinder's connection info names (RBD: rbd-fuse + a loop device) and so need the
 * Ceph monitor, which listens on the test bridge. Ceph, RabbitMQ and Cinder start once for the file.
 *
 * 1. The move: a container on host 1 writes random bytes (fsync), is removed; a container on host 2
 *    mounts the same volume and reads every byte back (sha256).
 * 2. The storage fence (`failover: storage-fence`): host 1's agent is killed with kill -9 while its
 *    container writes; the server blocklists host 1's Ceph client (monitors and image from the Cinder
 *    attachment's connection info) and grants host 2, which reads every acknowledged line; host 1's
 *    further writes fail with EIO and never land.
 */

const ADMIN = `e2e-admin-${randomBytes(12).toString('hex')}`;
const SERVICE = 'openstack-apps';
const LEASE = 4;
const MARGIN = 1;
const SKEW = 1;
const PATTERN_BYTES = 32 * 1024 * 1024;

const missing = [
  ...missingForHosts([...CEPH_BINARIES, ...CINDER_BINARIES.filter((b) => !b.startsWith('/')), 'losetup', 'mkfs.ext4']),
  ...CINDER_BINARIES.filter((b) => b.startsWith('/') && !existsSync(b)),
];
const ready = missing.length === 0;

const steps = new CleanupSteps();
const backendCleanup = new Cleanup();
let id = '';
let work = '';
let net: Network | undefined;
let ceph: CephCluster | undefined;
let cinder: CinderService | undefined;
let server: ServerProcess | undefined;
const hosts: DockerHost[] = [];
const agents: Record<string, AgentProcess> = {};
let serviceToken = '';
let image = '';
const figures: Array<[string, number | string]> = [];
/** Cinder volume ids of the test's volumes: their RBD images are `volume-<id>`. */
const cinderIds: string[] = [];

function api(method: string, path: string, token: string, body?: unknown): Promise<ApiAnswer> {
  if (!server) throw new Error('no server');
  return callApi(server.url, method, path, token, body);
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
    // No fence guard: a dead agent leaves the volume to the storage-side fence alone.
    extraArgs: ['--heartbeat', '1', '--no-fence-guard'],
  });
  agents[`host-${n}`] = agent;
  return agent;
}

/** The Cinder volume behind a Polly volume (named polly-volume-<backend id>). */
async function cinderVolumeOf(name: string): Promise<{ id: string; status: string; attachments: Array<{ host_name: string }> }> {
  const volumes = (await api('GET', '/v1/volumes?limit=1000', ADMIN)).body.items as Array<{ name: string; backendId?: string; id: string; pool: string }>;
  const v = volumes.find((x) => x.name === name);
  if (!v) throw new Error(`no Polly volume ${name}`);
  const cname = `polly-volume-${v.backendId ?? v.id}`;
  const list = (await cinder!.api<{ volumes: Array<{ id: string; name: string; status: string; attachments: Array<{ host_name: string }> }> }>('GET', `/volumes/detail?name=${cname}`)).volumes;
  const found = list.find((x) => x.name === cname);
  if (!found) throw new Error(`Cinder has no volume ${cname}`);
  return found;
}

/** Loop devices on an RBD image's rbd-fuse file, read from sysfs (`losetup` would stat a hung FUSE mount). */
async function loopsOnImage(imageName: string): Promise<string[]> {
  const out: string[] = [];
  for (const dev of (await readdir('/sys/block')).filter((d) => d.startsWith('loop'))) {
    const backing = await readFile(`/sys/block/${dev}/loop/backing_file`, 'utf8').catch(() => '');
    if (backing.trim().endsWith(`/${imageName}`)) out.push(`/dev/${dev}`);
  }
  return out;
}

/** FUSE connections of the rbd-fuse mounts in a host's mount namespace. */
async function fuseConnectionsOf(h: DockerHost): Promise<string[]> {
  if (h.pid === 0) return [];
  const info = await readFile(`/proc/${h.pid}/mountinfo`, 'utf8').catch(() => '');
  return info
    .split('\n')
    .filter((l) => / - fuse(\.[^ ]+)? /.test(l) && l.includes(h.dir))
    .map((l) => l.split(' ')[2]?.split(':')[1] ?? '')
    .filter(Boolean);
}

/** A killed rbd-fuse can hang in exit while a loop device waits on it: abort that host's FUSE connections. */
async function abortFuseConnections(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await run('mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections']);
  for (const c of ids) await writeFile(`/sys/fs/fuse/connections/${c}/abort`, '1').catch(() => undefined);
}

/**
 * A container that appends `a <n>` lines to /data/<file>, each with its own open + write + fsync (busybox
 * dd), and prints `ack <n>` only once dd returned success; a failed write prints `fail <n>: <dd's error>`.
 */
async function startWriter(h: DockerHost, volume: string, file: string): Promise<string> {
  const script = [
    'i=0',
    'while true; do i=$((i+1))',
    `if out=$(echo "a $i" | dd of=/data/${file} oflag=append conv=notrunc,fsync status=none 2>&1); then echo "ack $i"; else echo "fail $i: $out" >&2; fi`,
    'sleep 0.02; done',
  ].join('; ');
  const r = await h.docker(['run', '-d', '--network', 'none', '-v', `${volume}:/data`, image, 'sh', '-c', script], { timeoutMs: 150_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function writerLog(h: DockerHost, container: string): Promise<{ acked: number[]; failures: string[] }> {
  const logs = await h.docker(['logs', container], { timeoutMs: 20_000 });
  const acked = [...logs.stdout.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
  const failures = logs.stderr.split('\n').filter((l) => l.startsWith('fail '));
  return { acked, failures };
}

function readOn(h: DockerHost, volume: string, file: string): Promise<RunResult> {
  return h.docker(['run', '--rm', '--network', 'none', '-v', `${volume}:/data`, image, 'cat', `/data/${file}`], { timeoutMs: 60_000 });
}

function lineNumbers(text: string): number[] {
  return [...text.matchAll(/^a (\d+)$/gm)].map((m) => Number(m[1]));
}

function diagnostics(): string {
  const parts: string[] = [];
  for (const [node, a] of Object.entries(agents)) parts.push(`--- agent ${node} ---\n${a.output().slice(-5000)}`);
  if (server) parts.push(`--- server ---\n${server.output().slice(-5000)}`);
  return parts.join('\n');
}

if (!ready && process.env.CI) {
  describe('OpenStack Cinder on two Docker hosts', () => {
    it('has what it needs', () => {
      throw new Error(`missing on this machine: ${missing.join(', ')}`);
    });
  });
}

describe.skipIf(!ready)('OpenStack Cinder on two Docker hosts (RBD backend, rbd-fuse nodes)', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    id = randomBytes(3).toString('hex');
    work = await mkdtemp(join(tmpdir(), `polly-e2e-cinder-${id}-`));
    steps.add('remove the work directory', () => rm(work, { recursive: true, force: true, maxRetries: 3 }));
    net = await createNetwork(id, 2);
    const network = net;
    steps.add('remove namespaces, veths and the bridge', () => network.destroy());
    // Cinder, RabbitMQ and Ceph go after the hosts (whose rbd-fuse clients die with them), before the network.
    steps.add('stop Cinder, RabbitMQ and Ceph', () => backendCleanup.run());
    steps.add('detach loop devices left on the volumes\' rbd-fuse files', async () => {
      for (const cid of cinderIds) for (const d of await loopsOnImage(`volume-${cid}`)) await detachLoop(d);
    });

    const t0 = Date.now();
    const backend = (async () => {
      ceph = await startCephCluster(backendCleanup, { bindAddress: network.hostAddress, osdBytes: 4 * 1024 ** 3 });
      cinder = await startCinder(backendCleanup, { ceph });
      console.log(`ceph + cinder up in ${Date.now() - t0} ms (ceph ${ceph.bringUpMs} ms, monitor at ${ceph.monAddress}; cinder ${JSON.stringify(cinder.timings)})`);
    })();
    for (const [i, h] of network.hosts.entries()) {
      const dockerHost = new DockerHost(`host-${i + 1}`, join(work, `host-${i + 1}`), h.netns);
      hosts.push(dockerHost);
      steps.add(`stop dockerd of host-${i + 1}`, async () => {
        const fuse = await fuseConnectionsOf(dockerHost);
        await dockerHost.stop();
        await abortFuseConnections(fuse);
      });
    }
    await Promise.all([backend, Promise.all(hosts.map((h) => h.start()))]);
    const c = cinder!;

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
        '  - name: openstack',
        '    driver: cinder',
        '    topology: {shared: true}',
        '    parameters:',
        '      auth: noauth',
        `      endpoint: "${c.endpoint.slice(0, -(c.projectId.length + 1))}"`,
        `      projectId: "${c.projectId}"`,
        `      volumeType: ${c.volumeTypes.ceph}`,
        `      nodeKey: "${c.rbdKey}"`,
        '      mapper: rbd-fuse',
        '      timeoutSeconds: "120"',
        'profiles:',
        '  - {name: cinder-rwo, pools: [openstack], fsType: ext4, accessModes: [RWO], failover: storage-fence}',
        '',
      ].join('\n'),
    );
    server = await spawnServer({ POLLY_CONFIG: config, POLLY_DATA_DIR: serverDir, POLLY_ADMIN_TOKEN: ADMIN });
    const s = server;
    // The server goes before Cinder and Ceph (its calls would wait for services that are gone).
    steps.add('stop the server', () => s.kill9());
    image = `polly-cinder-${id}:e2e`;
    const tarball = await busyboxRootfs(join(work, 'rootfs'), ['sha256sum', 'head']);
    await Promise.all(hosts.map((h) => importImage(h, tarball, image)));
    expect((await api('POST', '/v1/services', ADMIN, { name: SERVICE })).status).toBe(201);
    serviceToken = (await api('POST', `/v1/services/${SERVICE}/tokens`, ADMIN, {})).body.token as string;
    steps.add('kill the agents', async () => {
      for (const a of Object.values(agents)) await a.kill9();
    });
    await Promise.all([startAgent(1), startAgent(2)]);
    steps.add('remove containers', async () => {
      for (const h of hosts) {
        const ps = await h.docker(['ps', '-aq'], { timeoutMs: 10_000 });
        const ids = ps.stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await h.docker(['rm', '-f', ...ids], { timeoutMs: 30_000 });
      }
    });
    figures.push(['bring-up (ms)', Date.now() - t0]);
  }, 400_000);

  afterAll(async () => {
    console.log(`cinder e2e figures: ${figures.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const t = Date.now();
    const problems = await steps.run();
    console.log(`cinder e2e clean-up ${Date.now() - t} ms`);
    if (problems.length > 0) console.error(`cinder e2e clean-up problems:\n${problems.join('\n')}`);
  }, 180_000);

  it('moves a volume Cinder created from host 1 to host 2: every byte written and fsynced on host 1 reads back on host 2', async () => {
    const h1 = host(1);
    const h2 = host(2);
    const name = 'cinder-move';
    try {
      let t = Date.now();
      const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=1GiB', '-o', 'profile=cinder-rwo', name], { timeoutMs: 150_000 });
      expect(created.code, created.stderr).toBe(0);
      figures.push(['docker volume create (ms)', Date.now() - t]);
      const cv = await cinderVolumeOf(name);
      cinderIds.push(cv.id);
      expect(cv.status).toBe('available');

      const pattern = randomBytes(PATTERN_BYTES);
      const want = createHash('sha256').update(pattern).digest('hex');
      t = Date.now();
      const write = await h1.docker(
        ['run', '-i', '--rm', '--network', 'none', '-v', `${name}:/data`, image, 'sh', '-c', 'dd of=/data/pattern bs=1M conv=fsync status=none && sha256sum /data/pattern'],
        { input: pattern, timeoutMs: 150_000 },
      );
      expect(write.code, write.stderr).toBe(0);
      expect(write.stdout.split(' ')[0]).toBe(want);
      figures.push(['host 1 mount + write 32 MiB + fsync + unmount (ms)', Date.now() - t]);

      // While host 1 had it, Cinder held an attachment for host-1; after the container went, none.
      const after1 = await cinderVolumeOf(name);
      expect(after1.attachments).toEqual([]);
      expect(after1.status).toBe('available');

      t = Date.now();
      const read: RunResult = await h2.docker(['run', '--rm', '--network', 'none', '-v', `${name}:/data`, image, 'sha256sum', '/data/pattern'], { timeoutMs: 150_000 });
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout.split(' ')[0]).toBe(want);
      figures.push(['host 2 mount + read 32 MiB + unmount (ms)', Date.now() - t]);
      figures.push(['sha256', want.slice(0, 16)]);

      t = Date.now();
      const removed = await h2.docker(['volume', 'rm', name], { timeoutMs: 150_000 });
      expect(removed.code, removed.stderr).toBe(0);
      figures.push(['docker volume rm (ms)', Date.now() - t]);
      await waitFor('Cinder to delete the volume', 60_000, async () => {
        const left = (await cinder!.api<{ volumes: Array<{ id: string }> }>('GET', '/volumes/detail')).volumes.filter((v) => v.id === cv.id);
        return left.length === 0 ? true : undefined;
      }, 250);
      figures.push(['volume rm → gone in Cinder (ms)', Date.now() - t]);
    } catch (err) {
      console.error(diagnostics());
      throw err;
    }
  });

  it('storage fence: kill -9 of host 1\'s agent; the server blocklists host 1\'s Ceph client (from the Cinder attachment) and grants host 2, which reads every acknowledged line; host 1\'s writes fail with EIO and never land', async () => {
    const h1 = host(1);
    const h2 = host(2);
    const name = 'cinder-ledger';
    try {
      const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=1GiB', '-o', 'profile=cinder-rwo', name], { timeoutMs: 150_000 });
      expect(created.code, created.stderr).toBe(0);
      const cv = await cinderVolumeOf(name);
      cinderIds.push(cv.id);
      const writer = await startWriter(h1, name, 'ledger');
      await waitFor('host 1 to acknowledge 20 lines', 60_000, async () => ((await writerLog(h1, writer)).acked.length >= 20 ? true : undefined), 200);
      expect((await cinderVolumeOf(name)).attachments.map((a) => a.host_name)).toEqual(['host-1']);

      await agents['host-1']!.kill9();
      const killedAt = Date.now();
      const read = await waitFor('host 2 to get the volume', 90_000, async () => {
        const r = await readOn(h2, name, 'ledger');
        return r.code === 0 ? r : undefined;
      }, 200);
      const readAt = Date.now();

      const events = (await api('GET', '/v1/events?type=attachment.fenced&limit=1000', ADMIN)).body.items as Array<{ at: string; data: Record<string, unknown> }>;
      const fenced = events.find((e) => e.data.node === 'host-1' && e.data.how === 'storage-fence');
      expect(fenced, JSON.stringify(events)).toBeDefined();
      const fencedAt = Date.parse(fenced!.at);
      const blocklist = await ceph!.ceph(['osd', 'blocklist', 'ls']);
      expect(blocklist).toContain(`${net!.hosts[0]!.address}:0/`);
      // The fence deleted host 1's Cinder attachment (Cinder allows one on a volume that is not
      // multiattach); host 2's went when its reader's container did.
      expect((await cinderVolumeOf(name)).attachments).toEqual([]);

      const log = await writerLog(h1, writer);
      const onB = new Set(lineNumbers(read.stdout));
      const lost = log.acked.filter((n) => !onB.has(n));
      expect(lost, 'acknowledged by host 1 but not read on host 2').toEqual([]);
      expect(Math.max(...onB)).toBeLessThanOrEqual(Math.max(...log.acked) + 1);

      // Host 1's container still runs and writes, and its writes fail at the OSDs.
      expect(log.failures.length, 'host 1 saw no failed write').toBeGreaterThan(0);
      expect(log.failures[0]).toMatch(/Input\/output error/i);
      const late = await h1.docker(['exec', writer, 'sh', '-c', 'echo "a late" | dd of=/data/ledger oflag=append conv=notrunc,fsync status=none'], { timeoutMs: 30_000 });
      expect(late.code).not.toBe(0);
      expect(late.stderr).toMatch(/Input\/output error|Read-only file system/i);
      console.log(`cinder fence: host 1's first failed write: ${log.failures[0]}; a late write: ${late.stderr.trim()}`);

      await new Promise((r) => setTimeout(r, 500));
      const again = await readOn(h2, name, 'ledger');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(read.stdout);
      expect(again.stdout).not.toContain('a late');
      expect((await writerLog(h1, writer)).acked.length).toBe(log.acked.length);

      figures.push(
        ['kill→fence (ms)', fencedAt - killedAt],
        ['kill→host 2 read (ms)', readAt - killedAt],
        ['lines acked by host 1', log.acked.length],
        ['lines read on host 2', onB.size],
      );

      // Host 1 comes back: its container goes, and the restarted agent lets go of the fenced mapping.
      await h1.docker(['rm', '-f', writer], { timeoutMs: 30_000 });
      await startAgent(1);
      await waitFor('host 1 to release its fenced mapping', 60_000, async () => ((await loopsOnImage(`volume-${cv.id}`)).length === 0 ? true : undefined), 250);
    } catch (err) {
      console.error(diagnostics());
      throw err;
    }
  });
});
