import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rbdImageName } from '../../src/drivers/rbd/rbd-names.js';
import { detachLoop } from '../../src/drivers/system/loop.js';
import { type CephCluster, CEPH_BINARIES, startCephCluster } from '../helpers/ceph.js';
import { Cleanup } from '../helpers/loopfs.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { AgentProcess } from './hosts/agent.js';
import { DockerHost } from './hosts/dockerd.js';
import { run, waitFor, type RunResult } from './hosts/exec.js';
import { busyboxRootfs, importImage } from './hosts/image.js';
import { createNetwork, type Network } from './hosts/netns.js';
import { type ApiAnswer, callApi, CleanupSteps, missingForHosts } from './hosts/setup.js';

/**
 * Storage-side fencing on two real Docker hosts over a private Ceph (RBD pool, `failover:
 * storage-fence`). Host 1's container appends numbered lines to an RBD volume, each acknowledged only
 * after `dd conv=fsync` returned. Then host 1's agent is killed with kill -9 — and it runs without its
 * fence guard, so nothing on host 1 fences anything: only the Ceph blocklist stands between host 1's
 * container and the image. Host 2 asks for the volume (its plugin's Mount waits while host 1 holds it);
 * the server blocklists host 1's clients at lease end (no clock-skew wait: the fence does not depend on
 * host 1's clock) and grants it. Host 2 reads every line host 1 acknowledged, host
 * 1's container's further writes fail with EIO, and none of them ever lands.
 *
 * The monitor listens on the test bridge (host 0's address) so that the hosts' network namespaces reach
 * it; lease 3 s, margin 1 s, clock skew 1 s, heartbeat 1 s. The test prints where the takeover's time
 * went (lease end, fence, grant, stage on host 2, the container's read).
 */

const ADMIN = `e2e-admin-${randomBytes(12).toString('hex')}`;
const SERVICE = 'ledgers';
// A short lease: with storage-fence, the lease is the whole detection time (no clock-skew wait).
const LEASE = 3;
const MARGIN = 1;
const SKEW = 1;
/** Host 2's Docker plugin retries a Mount of the volume host 1 holds (every 200 ms) this long. */
const MOUNT_WAIT = 30;
const VOLUME = 'ceph-ledger';

const missing = missingForHosts([...CEPH_BINARIES, 'losetup', 'mkfs.ext4']);
const ready = missing.length === 0;

const steps = new CleanupSteps();
const cephCleanup = new Cleanup();
let id = '';
let work = '';
let net: Network | undefined;
let ceph: CephCluster | undefined;
let server: ServerProcess | undefined;
const hosts: DockerHost[] = [];
const agents: Record<string, AgentProcess> = {};
let serviceToken = '';
let image = '';
const figures: Array<[string, number]> = [];

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
    extraArgs: ['--heartbeat', '1', '--no-fence-guard', '--mount-wait', String(MOUNT_WAIT)],
  });
  agents[`host-${n}`] = agent;
  return agent;
}

/**
 * A container that appends `a <n>` lines to /data/<file>, each with its own open + write + fsync (busybox
 * dd), and prints `ack <n>` only once dd returned success; a failed write prints `fail <n>: <dd's error>`
 * on stderr.
 */
async function startWriter(h: DockerHost, volume: string, file: string): Promise<string> {
  const script = [
    'i=0',
    'while true; do i=$((i+1))',
    `if out=$(echo "a $i" | dd of=/data/${file} oflag=append conv=notrunc,fsync status=none 2>&1); then echo "ack $i"; else echo "fail $i: $out" >&2; fi`,
    'sleep 0.02; done',
  ].join('; ');
  const r = await h.docker(['run', '-d', '--network', 'none', '-v', `${volume}:/data`, image, 'sh', '-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function writerLog(h: DockerHost, container: string): Promise<{ acked: number[]; failures: string[] }> {
  const logs = await h.docker(['logs', container], { timeoutMs: 20_000 });
  const acked = [...logs.stdout.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
  const failures = logs.stderr.split('\n').filter((l) => l.startsWith('fail '));
  return { acked, failures };
}

/**
 * `cat` of a file in a new container. `nocopy`: the image has a /data directory, and Docker would mount
 * the volume once more (and unmount it) at create time just to copy it in.
 */
function readOn(h: DockerHost, volume: string, file: string): Promise<RunResult> {
  return h.docker(['run', '--rm', '--network', 'none', '-v', `${volume}:/data:nocopy`, image, 'cat', `/data/${file}`]);
}

function lineNumbers(text: string): number[] {
  return [...text.matchAll(/^a (\d+)$/gm)].map((m) => Number(m[1]));
}

/**
 * Loop devices on this volume's image file (as the kernel names their backing files: the rbd-fuse
 * mount may be gone with its host's namespace). Read from sysfs: `losetup` stats every backing file
 * and would wait for a hung FUSE server.
 */
async function loopsOnImage(image: string): Promise<string[]> {
  const out: string[] = [];
  for (const dev of (await readdir('/sys/block')).filter((d) => d.startsWith('loop'))) {
    const backing = await readFile(`/sys/block/${dev}/loop/backing_file`, 'utf8').catch(() => '');
    if (backing.trim().endsWith(`/${image}`)) out.push(`/dev/${dev}`);
  }
  return out;
}

/** FUSE connections (their fusectl numbers) of the rbd-fuse mounts in a host's mount namespace. */
async function fuseConnectionsOf(h: DockerHost): Promise<string[]> {
  if (h.pid === 0) return [];
  const info = await readFile(`/proc/${h.pid}/mountinfo`, 'utf8').catch(() => '');
  return info
    .split('\n')
    .filter((l) => / - fuse(\.[^ ]+)? /.test(l) && l.includes(h.dir))
    .map((l) => l.split(' ')[2]?.split(':')[1] ?? '')
    .filter(Boolean);
}

/**
 * After a host is gone, its killed rbd-fuse can hang in exit while the kernel still waits on it (a loop
 * device's I/O): abort exactly the FUSE connections that host had, as `fusectl` allows.
 */
async function abortFuseConnections(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await run('mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections']);
  for (const c of ids) await writeFile(`/sys/fs/fuse/connections/${c}/abort`, '1').catch(() => undefined);
}

let imageName = '';

/** The agent's first `staged` log line of a volume since `since` (pino JSON): when the stage ended, how long it took. */
function stagedLine(output: string, volumeId: string, since: number): { time: number; stageMs: number } | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"staged"') || !line.includes(volumeId)) continue;
    const entry = JSON.parse(line) as { time: number; stageMs: number };
    if (entry.time >= since) return { time: entry.time, stageMs: entry.stageMs };
  }
  return undefined;
}

function diagnostics(): string {
  const parts: string[] = [];
  for (const [node, a] of Object.entries(agents)) parts.push(`--- agent ${node} ---\n${a.output().slice(-5000)}`);
  if (server) parts.push(`--- server ---\n${server.output().slice(-5000)}`);
  return parts.join('\n');
}

if (!ready && process.env.CI) {
  describe('storage-side fencing over RBD on two Docker hosts', () => {
    it('has what it needs', () => {
      throw new Error(`missing on this machine: ${missing.join(', ')}`);
    });
  });
}

describe.skipIf(!ready)('storage-side fencing over RBD on two Docker hosts (Ceph blocklist)', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    id = randomBytes(3).toString('hex');
    work = await mkdtemp(join(tmpdir(), `polly-e2e-ceph-${id}-`));
    steps.add('remove the work directory', () => rm(work, { recursive: true, force: true, maxRetries: 3 }));
    net = await createNetwork(id, 2);
    const network = net;
    steps.add('remove namespaces, veths and the bridge', () => network.destroy());
    // Ceph goes after the hosts (their rbd-fuse clients die with them), before the network.
    steps.add('stop the Ceph cluster', () => cephCleanup.run());
    steps.add('detach loop devices left on the volume\'s rbd-fuse files', async () => {
      if (imageName) for (const d of await loopsOnImage(imageName)) await detachLoop(d);
    });

    const cephReady = startCephCluster(cephCleanup, { bindAddress: network.hostAddress }).then((c) => {
      ceph = c;
      console.log(`ceph fixture up in ${c.bringUpMs} ms (monitor at ${c.monAddress})`);
    });
    for (const [i, h] of network.hosts.entries()) {
      const dockerHost = new DockerHost(`host-${i + 1}`, join(work, `host-${i + 1}`), h.netns);
      hosts.push(dockerHost);
      steps.add(`stop dockerd of host-${i + 1}`, async () => {
        const fuse = await fuseConnectionsOf(dockerHost);
        await dockerHost.stop();
        await abortFuseConnections(fuse);
      });
    }
    await Promise.all([cephReady, Promise.all(hosts.map((h) => h.start()))]);
    const cluster = ceph!;

    const adminKey = (await cluster.ceph(['auth', 'print-key', 'client.admin'])).trim();
    const nodeUser = await cluster.createUser('polly-node', { mon: 'profile rbd', osd: `profile rbd pool=${cluster.rbdPool}` });
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
        '  - name: ceph',
        '    driver: rbd',
        '    topology: {shared: true}',
        '    parameters:',
        `      monHost: "[v2:${cluster.monAddress}]"`,
        `      pool: ${cluster.rbdPool}`,
        `      key: "${adminKey}"`,
        `      nodeUser: ${nodeUser.id}`,
        `      nodeKey: "${nodeUser.key}"`,
        '      mapper: rbd-fuse',
        'profiles:',
        '  - {name: ceph-rwo, pools: [ceph], fsType: ext4, accessModes: [RWO], failover: storage-fence}',
        '',
      ].join('\n'),
    );
    server = await spawnServer({ POLLY_CONFIG: config, POLLY_DATA_DIR: serverDir, POLLY_ADMIN_TOKEN: ADMIN });
    const s = server;
    // The server goes before Ceph (its CLI calls would wait for a monitor that is gone).
    steps.add('stop the server', () => s.kill9());
    image = `polly-ceph-${id}:e2e`;
    const tarball = await busyboxRootfs(join(work, 'rootfs'));
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
  }, 180_000);

  afterAll(async () => {
    console.log(`ceph failover figures: ${figures.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const problems = await steps.run();
    if (problems.length > 0) console.error(`ceph failover clean-up problems:\n${problems.join('\n')}`);
  }, 120_000);

  it('kill -9 of the holder\'s agent: host 2 gets the volume after the blocklist, reads every acknowledged line; host 1\'s writes fail with EIO and never land', async () => {
    const h1 = host(1);
    const h2 = host(2);
    try {
      const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=64MiB', '-o', 'profile=ceph-rwo', VOLUME]);
      expect(created.code, created.stderr).toBe(0);
      const volumes = (await api('GET', '/v1/volumes?limit=1000', ADMIN)).body.items as Array<{ name: string; backendId?: string; id: string }>;
      const v = volumes.find((x) => x.name === VOLUME)!;
      imageName = rbdImageName('volume', v.backendId ?? v.id);
      const writer = await startWriter(h1, VOLUME, 'ledger');
      await waitFor('host 1 to acknowledge 20 lines', 30_000, async () => ((await writerLog(h1, writer)).acked.length >= 20 ? true : undefined), 200);

      await agents['host-1']!.kill9();
      const killedAt = Date.now();
      // One docker run: host 2's Mount waits in its plugin until the server grants the volume.
      const first = await readOn(h2, VOLUME, 'ledger');
      const readAt = Date.now();
      expect(first.code, first.stderr).toBe(0);
      const read = first;

      // The server blocklisted host 1 (the attachment's end says how) before it granted host 2.
      const events = (await api('GET', '/v1/events?type=attachment.fenced&limit=1000', ADMIN)).body.items as Array<{ at: string; data: Record<string, unknown> }>;
      const fenced = events.find((e) => e.data.node === 'host-1' && e.data.how === 'storage-fence');
      expect(fenced, JSON.stringify(events)).toBeDefined();
      const fencedAt = Date.parse(fenced!.at);
      const leaseEnd = Date.parse(String(fenced!.data.leaseExpiresAt));
      const fenceMs = Number(fenced!.data.storageFenceMs);
      const staged = stagedLine(agents['host-2']!.output(), v.id, killedAt);
      expect(staged, 'host 2 logged no stage of the volume').toBeDefined();
      const breakdown = {
        'lease end': leaseEnd - killedAt,
        'fence start': fencedAt - fenceMs - killedAt,
        'fence (ms)': fenceMs,
        granted: fencedAt - killedAt,
        'stage start on host 2': staged!.time - staged!.stageMs - killedAt,
        'stage on host 2 (ms)': staged!.stageMs,
        'mounted on host 2': staged!.time - killedAt,
        'read on host 2': readAt - killedAt,
      };
      console.log(`ceph takeover breakdown (ms after the kill unless marked): ${Object.entries(breakdown).map(([k, ms]) => `${k} ${ms}`).join(', ')}`);
      const blocklist = await ceph!.ceph(['osd', 'blocklist', 'ls']);
      expect(blocklist).toContain(`${net!.hosts[0]!.address}:0/`);
      expect(blocklist).not.toMatch(/fe80/i);

      // Every line host 1 acknowledged is on host 2 (acknowledgements stop at the blocklist).
      const log = await writerLog(h1, writer);
      const onB = new Set(lineNumbers(read.stdout));
      const lost = log.acked.filter((n) => !onB.has(n));
      expect(lost, `acknowledged by host 1 but not read on host 2`).toEqual([]);
      const lastAcked = Math.max(...log.acked);
      expect(Math.max(...onB)).toBeLessThanOrEqual(lastAcked + 1);

      // Host 1's container is still running and writing, and its writes fail at the OSDs.
      expect(log.failures.length, 'host 1 saw no failed write').toBeGreaterThan(0);
      expect(log.failures[0]).toMatch(/Input\/output error/i);
      const late = await h1.docker(['exec', writer, 'sh', '-c', 'echo "a late" | dd of=/data/ledger oflag=append conv=notrunc,fsync status=none'], { timeoutMs: 30_000 });
      expect(late.code).not.toBe(0);
      expect(late.stderr).toMatch(/Input\/output error|Read-only file system/i);
      console.log(`ceph failover: host 1's first failed write: ${log.failures[0]}; a late write: ${late.stderr.trim()}`);

      // Nothing host 1 did after the fence reached the image.
      await new Promise((r) => setTimeout(r, 500));
      const again = await readOn(h2, VOLUME, 'ledger');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(read.stdout);
      expect(again.stdout).not.toContain('a late');
      expect((await writerLog(h1, writer)).acked.length).toBe(log.acked.length);

      figures.push(
        ['kill→lease end (ms)', leaseEnd - killedAt],
        ['storage fence (ms)', fenceMs],
        ['kill→granted (ms)', fencedAt - killedAt],
        ['kill→mounted on host 2 (ms)', staged!.time - killedAt],
        ['kill→host 2 read (ms)', readAt - killedAt],
        ['lines acked by host 1', log.acked.length],
        ['lines read on host 2', onB.size],
      );
      // The fence starts at lease end, not a clock-skew margin later (the Mount retries every 200 ms).
      expect(breakdown['fence start'] - breakdown['lease end']).toBeLessThan(SKEW * 1000);
      // Lease end (≤ LEASE after the kill), the fence (one monitor proposal), host 2's map + mount: under
      // 5 s on a quiet machine; the bound leaves room for a loaded one (each step is a CLI start).
      expect(readAt - killedAt).toBeLessThan((LEASE + 12) * 1000);

      // Host 1 comes back: its container goes, and the restarted agent lets go of the fenced mapping.
      await h1.docker(['rm', '-f', writer], { timeoutMs: 30_000 });
      await startAgent(1);
      await waitFor('host 1 to release its fenced mapping', 40_000, async () => ((await loopsOnImage(imageName)).length === 0 ? true : undefined), 250);
    } catch (err) {
      console.error(diagnostics());
      throw err;
    }
  });
});
