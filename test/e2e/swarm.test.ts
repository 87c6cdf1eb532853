import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { abortFuseConnections, fuseConnectionsOf, loopsOnImage, loopsUnder, rbdFuseUnder, rbdMappingsOn } from './hosts/rbd-mappings.js';
import { startWriter, writerLog } from './hosts/writer.js';
import { missingForHosts } from './hosts/setup.js';

/**
 * Docker Swarm, for real: host 0 runs `polly server` and a private one-node Ceph (its monitor on the test
 * bridge); hosts 1 and 2 each run a dockerd (own network, mount and UTS namespaces, so Swarm sees two
 * nodes named host-1 and host-2) and a `polly agent`. host-1 inits the swarm over the test bridge, host-2
 * joins; the image reaches host-2 by `docker save | docker load`.
 *
 * - A replicated service (one task) mounts a Polly volume by name with `volume-opt=size/profile` on an
 *   RBD pool (each node maps the image itself: rbd-fuse + loop device, nothing shared but the network);
 *   the task writes a known 4 MiB pattern with fsync; draining its node moves the task, and the new task
 *   reads every byte (sha256). The old node let go of everything (no attachment, no rbd-fuse, no loop
 *   device, not blocklisted) and is refused the volume while the new one holds it.
 * - A stale writer: a second container on the task's node keeps appending (fsync'd) to the volume while
 *   that node's agent is killed (no fence guard: only the storage can stop it); draining the node moves
 *   the task back, the server blocklists the node's Ceph client before it grants the volume, the new task
 *   reads every line the stale writer got acknowledged, and the stale writer's next writes fail with EIO.
 *   `docker service rm` and `docker volume rm` on every node leave no attachment, mapping or loop device.
 * - A global service with a per-node volume name (`data-{{.Node.Hostname}}`) on node-local pools: each
 *   node's volume lands in the pool that node reaches.
 * - A task pinned to a node that cannot reach its volume's pool fails with Polly's reason in its status.
 */

const ADMIN = `e2e-admin-${randomBytes(12).toString('hex')}`;
const SERVICE = 'swarm';
// Long enough that a heartbeat or two lost on a loaded machine (2 cores, several test suites) is no
// lapse; the stale-writer phase waits for it once (lease end + clock skew before the blocklist).
const LEASE_SECONDS = 10;
const MiB = 2 ** 20;

const missing = missingForHosts(['hostname']);
// The drain test's pool is RBD on a private Ceph; without Ceph the node-local tests still run.
const missingCeph = missingForHosts([...CEPH_BINARIES, 'losetup', 'mkfs.ext4']).filter((m) => !missing.includes(m));

const cleanups: Array<[string, () => Promise<unknown>]> = [];
const cephCleanup = new Cleanup();
let id = '';
let work = '';
let net: Network | undefined;
let ceph: CephCluster | undefined;
/** The RBD images this file's volumes got (to find loop devices left on them after a failure). */
const rbdImages: string[] = [];
let server: ServerProcess | undefined;
/** The known pattern the replicated task writes (baked into the image as /pattern) and its sha256. */
const PATTERN = randomBytes(4 * 2 ** 20);
const PATTERN_SHA = createHash('sha256').update(PATTERN).digest('hex');
const hosts: DockerHost[] = [];
const agents: Record<string, AgentProcess> = {};
let serviceToken = '';
let image = '';
const timings: Array<[string, number]> = [];

async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push([step, Date.now() - t0]);
  }
}

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

function host(n: 1 | 2): DockerHost {
  const h = hosts[n - 1];
  if (!h) throw new Error(`no host ${n}`);
  return h;
}

async function ok(r: Promise<RunResult> | RunResult, what: string): Promise<RunResult> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr}${res.stdout}`);
  return res;
}

interface Volume {
  id: string;
  name: string;
  pool: string;
  profile: string;
  sizeBytes: number;
  backendId?: string;
}

async function volumeNamed(name: string): Promise<Volume | undefined> {
  const res = await api('GET', '/v1/volumes?limit=1000', ADMIN);
  expect(res.status).toBe(200);
  return (res.body.items as Volume[]).find((v) => v.name === name);
}

/** Live attachments, as the server sees them (all of them, or one volume's). */
async function attachments(volumeId?: string): Promise<Array<{ volumeId: string; node: string }>> {
  const res = await api('GET', `/v1/attachments${volumeId ? `?volume=${encodeURIComponent(volumeId)}` : ''}`, ADMIN);
  expect(res.status).toBe(200);
  return res.body.items as Array<{ volumeId: string; node: string }>;
}

interface Task {
  id: string;
  node: string;
  desired: string;
  current: string;
  error: string;
}

/** `docker service ps` on the manager, one entry per task (newest first). */
async function tasks(service: string): Promise<Task[]> {
  const r = await ok(host(1).docker(['service', 'ps', '--no-trunc', '--format', '{{.ID}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}', service]), 'service ps');
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [tid = '', node = '', desired = '', current = '', error = ''] = l.split('\t');
      return { id: tid, node, desired, current, error };
    });
}

/** The container of a service's running task on a host. */
async function containerOf(h: DockerHost, service: string): Promise<string | undefined> {
  const r = await h.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`, '--filter', 'status=running']);
  return r.stdout.split('\n').find(Boolean);
}

/** Starts (or restarts, with the same state) the agent of a host. */
async function startAgent(h: DockerHost): Promise<AgentProcess> {
  const agent = await AgentProcess.start(h, {
    serverUrl: server!.url,
    token: serviceToken,
    nodeId: h.name,
    stateDir: join(h.dir, 'agent'),
    dataDir: join(h.dir, 'agent-data'),
    // A drained task's replacement mounts while the old task is still stopping: wait for it. No fence
    // guard: a killed agent leaves its node's stale writers to the storage-side fence (Ceph blocklist).
    extraArgs: ['--heartbeat', '1', '--mount-wait', '10', '--no-fence-guard'],
  }, 60_000);
  agents[h.name] = agent;
  return agent;
}

const watched: string[] = [];

async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const svc of watched) {
    const r = await host(1).docker(['service', 'ps', '--no-trunc', svc]).catch(() => undefined);
    parts.push(`--- service ps ${svc} ---\n${r?.stdout ?? ''}${r?.stderr ?? ''}`);
  }
  for (const [node, a] of Object.entries(agents)) parts.push(`--- agent ${node} ---\n${a.output().slice(-5000)}`);
  for (const h of hosts) {
    try {
      parts.push(`--- dockerd ${h.name} (tail) ---\n${h.log.split('\n').slice(-40).join('\n')}`);
    } catch {
      // no log
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
  if (errors.length > 0) console.error(`swarm clean-up problems:\n${errors.join('\n')}`);
}

/** Removes a service, waits until its containers are gone on both hosts. */
async function removeService(name: string): Promise<void> {
  await host(1).docker(['service', 'rm', name]);
  await waitFor(`service ${name}'s containers to go`, 60_000, async () => {
    for (const h of hosts) {
      const r = await h.docker(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${name}`]);
      if (r.stdout.trim() !== '') return undefined;
    }
    return true;
  }, 250);
}

const ready = missing.length === 0;
if ((!ready || missingCeph.length > 0) && process.env.CI) {
  describe('Docker Swarm with Polly volumes', () => {
    it('has what it needs (pretest installs docker.io, busybox-static, iproute2 and the Ceph packages)', () => {
      throw new Error(`missing on this machine: ${[...missing, ...missingCeph].join(', ')}`);
    });
  });
}

describe.skipIf(!ready)('Docker Swarm on two hosts with Polly volumes (real dockerd, swarm mode, network/mount/UTS namespaces)', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    id = randomBytes(3).toString('hex');
    work = await mkdtemp(join(tmpdir(), `polly-e2e-swarm-${id}-`));
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

    net = await timed('network', () => createNetwork(id, 2));
    const network = net;
    cleanups.push(['remove namespaces, veths and the bridge', () => network.destroy()]);

    // Ceph goes after the hosts (their rbd-fuse clients die with them), before the network.
    cleanups.push(['stop the Ceph cluster', () => cephCleanup.run()]);
    cleanups.push([
      'detach loop devices and stop rbd-fuse left under the work directory',
      async () => {
        // Loops first: a loop device on a killed rbd-fuse's file hangs whoever stats it (losetup -a). This
        // runs after the hosts are gone: a loop left on an image then names it `/<image>`, not a path here.
        const images = await Promise.all(rbdImages.map((i) => loopsOnImage(i)));
        for (const d of new Set([...(await loopsUnder(`${work}/`)), ...images.flat()])) await detachLoop(d);
        for (const pid of await rbdFuseUnder(`${work}/`)) process.kill(pid, 'SIGKILL');
      },
    ]);

    const serverDir = join(work, 'server');
    await mkdir(serverDir, { recursive: true });
    for (const d of ['local-1', 'local-2']) await mkdir(join(work, 'pools', d), { recursive: true });
    const config = join(work, 'polly.yml');
    const serverReady = timed('ceph + server', async () => {
      const rbdPool: string[] = [];
      if (missingCeph.length === 0) {
        ceph = await timed('ceph', () => startCephCluster(cephCleanup, { bindAddress: network.hostAddress }));
        const adminKey = (await ceph.ceph(['auth', 'print-key', 'client.admin'])).trim();
        const nodeUser = await ceph.createUser('polly-node', { mon: 'profile rbd', osd: `profile rbd pool=${ceph.rbdPool}` });
        rbdPool.push(
          // Networked: every node maps the image itself (rbd-fuse + loop here), over the test bridge.
          '  - name: ceph',
          '    driver: rbd',
          '    topology: {shared: true}',
          '    parameters:',
          `      monHost: "[v2:${ceph.monAddress}]"`,
          `      pool: ${ceph.rbdPool}`,
          `      key: "${adminKey}"`,
          `      nodeUser: ${nodeUser.id}`,
          `      nodeKey: "${nodeUser.key}"`,
          '      mapper: rbd-fuse',
        );
      }
      await writeFile(
        config,
        [
          `listen: "${network.hostAddress}:0"`,
          `attachmentLeaseSeconds: ${LEASE_SECONDS}`,
          'selfFenceMarginSeconds: 2',
          'clockSkewSeconds: 1',
          'pools:',
          ...rbdPool,
          '  - {name: local-1, driver: local, path: "' + join(work, 'pools', 'local-1') + '", topology: {nodes: [host-1]}}',
          '  - {name: local-2, driver: local, path: "' + join(work, 'pools', 'local-2') + '", topology: {nodes: [host-2]}}',
          'profiles:',
          ...(rbdPool.length > 0 ? ['  - {name: replicated, pools: [ceph], fsType: ext4, accessModes: [RWO], failover: storage-fence}'] : []),
          '  - {name: node-local, pools: [local-1, local-2]}',
          '',
        ].join('\n'),
      );
      server = await spawnServer({ POLLY_CONFIG: config, POLLY_DATA_DIR: serverDir, POLLY_ADMIN_TOKEN: ADMIN });
      // The server goes before Ceph (its CLI calls would wait for a monitor that is gone).
      cleanups.push(['stop the server', () => server!.kill9()]);
    });

    for (const [i, h] of network.hosts.entries()) {
      const name = `host-${i + 1}`;
      const dockerHost = new DockerHost(name, join(work, name), h.netns, { hostname: name });
      hosts.push(dockerHost);
      cleanups.push([
        `stop dockerd of ${name}`,
        async () => {
          const fuse = await fuseConnectionsOf(dockerHost);
          await dockerHost.stop();
          await abortFuseConnections(fuse);
        },
      ]);
    }
    // Ceph and the server come up while the hosts, the swarm and the image do (awaited before the agents).
    serverReady.catch(() => undefined);
    await timed('dockerd x2', () => Promise.all(hosts.map((h) => h.start())));
    const [h1, h2] = [host(1), host(2)];

    // The swarm, over the bridge. Leaving it first keeps a graceful dockerd stop quick.
    await timed('swarm init + join', async () => {
      await ok(h1.docker(['swarm', 'init', '--advertise-addr', network.hosts[0]!.address]), 'swarm init');
      cleanups.push(['leave the swarm', async () => {
        await h2.docker(['swarm', 'leave', '--force'], { timeoutMs: 20_000 });
        await h1.docker(['swarm', 'leave', '--force'], { timeoutMs: 20_000 });
      }]);
      const token = (await ok(h1.docker(['swarm', 'join-token', '-q', 'worker']), 'join-token')).stdout.trim();
      await ok(h2.docker(['swarm', 'join', '--advertise-addr', network.hosts[1]!.address, '--token', token, `${network.hosts[0]!.address}:2377`]), 'swarm join');
      await waitFor('both nodes ready', 30_000, async () => {
        const r = await h1.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}}']);
        const lines = r.stdout.split('\n').filter(Boolean).sort();
        return lines.join(',') === 'host-1 Ready Active,host-2 Ready Active' ? true : undefined;
      });
    });

    // The image: imported on host-1, carried to host-2 with docker save | docker load (no registry).
    image = `polly-swarm-${id}:e2e`;
    await timed('image (import, save | load)', async () => {
      await mkdir(join(work, 'rootfs'), { recursive: true });
      await writeFile(join(work, 'rootfs', 'pattern'), PATTERN);
      const tarball = await busyboxRootfs(join(work, 'rootfs'), ['head', 'sha256sum', 'tail']);
      await importImage(h1, tarball, image);
      const saved = join(work, 'image.tar');
      await ok(h1.docker(['save', '-o', saved, image]), 'docker save');
      await ok(h2.docker(['load', '-i', saved]), 'docker load');
    });

    await timed('waiting for ceph + server', () => serverReady);
    await timed('service+token', async () => {
      expect((await api('POST', '/v1/services', ADMIN, { name: SERVICE })).status).toBe(201);
      const tok = await api('POST', `/v1/services/${SERVICE}/tokens`, ADMIN, {});
      expect(tok.status).toBe(201);
      serviceToken = tok.body.token as string;
    });

    cleanups.push([
      'kill the agents',
      async () => {
        for (const a of Object.values(agents)) await a.kill9();
      },
    ]);
    await timed('agents x2', () => Promise.all(hosts.map((h) => startAgent(h))));
    // dockerd loads a legacy plugin when it first needs it, and only then lists it in the node description
    // Swarm's plugin filter reads (else: "missing plugin on N nodes"). `docker volume ls` loads it; the
    // node description reaches the manager within swarmkit's update period.
    await timed('polly plugin in both node descriptions', async () => {
      for (const h of hosts) await ok(h.docker(['volume', 'ls']), 'volume ls');
      await waitFor('Volume/polly in both node descriptions', 60_000, async () => {
        const r = await h1.docker(['node', 'inspect', '--format', '{{.Description.Hostname}}:{{range .Description.Engine.Plugins}}{{.Type}}/{{.Name}},{{end}}', 'host-1', 'host-2']);
        const lines = r.stdout.split('\n').filter(Boolean);
        return lines.length === 2 && lines.every((l) => l.includes('Volume/polly,')) ? true : undefined;
      }, 500);
    });
    // Services go before the agents (this runs first), so that their tasks' volumes are let go.
    cleanups.push([
      'remove swarm services',
      async () => {
        const ls = await h1.docker(['service', 'ls', '-q'], { timeoutMs: 10_000 });
        const ids = ls.stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await h1.docker(['service', 'rm', ...ids], { timeoutMs: 20_000 });
        for (const h of hosts) {
          await waitFor(`containers on ${h.name} to go`, 30_000, async () => ((await h.docker(['ps', '-aq'])).stdout.trim() === '' ? true : undefined), 250).catch(async () => {
            const ps = await h.docker(['ps', '-aq']);
            const left = ps.stdout.split('\n').filter(Boolean);
            if (left.length > 0) await h.docker(['rm', '-f', ...left], { timeoutMs: 20_000 });
          });
        }
      },
    ]);
    console.log(`swarm setup timings (ms): ${timings.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    timings.length = 0;
  }, 200_000);

  afterAll(async () => {
    console.log(`swarm timings (ms): ${timings.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    await cleanUp();
  }, 150_000);

  it.skipIf(missingCeph.length > 0)('a replicated task on an RBD volume follows it when its node drains: every byte read on the new node, the old one let go and is refused; a stale writer on a node whose agent died gets EIO once the task moves; rm leaves nothing', async () => {
    const h1 = host(1);
    const h2 = host(2);
    const svc = `ledger-${id}`;
    watched.push(svc);
    const volName = `ledger-data-${id}`;
    // The first task copies the known pattern in and fsyncs it (its sha256 after), every task logs its
    // start with an fsync'd append. No sync(2): it would flush every filesystem of the machine.
    const script = [
      'if [ ! -f /data/payload.sha256 ]; then dd if=/pattern of=/data/payload bs=1M conv=fsync status=none && sha256sum /data/payload | dd of=/data/payload.sha256 conv=fsync status=none; fi',
      'echo "started on $NODE" | dd of=/data/log oflag=append conv=notrunc,fsync status=none',
      // Stops at SIGTERM as a service should (a plain `sleep` as pid 1 ignores it: 2 s of grace more).
      'trap "exit 0" TERM',
      'sleep 3600 & wait',
    ].join('; ');
    let stale: { h: DockerHost; cid: string } | undefined;
    let deadAgent: DockerHost | undefined;
    try {
      const created = await timed('service create (1 replica)', () =>
        h1.docker([
          'service', 'create', '--detach', '--name', svc, '--no-resolve-image', '--network', 'host', '--replicas', '1',
          '--env', 'NODE={{.Node.Hostname}}',
          '--stop-grace-period', '2s',
          '--mount', `type=volume,source=${volName},target=/data,volume-driver=polly,volume-opt=size=64MiB,volume-opt=profile=replicated`,
          image, 'sh', '-c', script,
        ]),
      );
      expect(created.code, created.stderr).toBe(0);

      const first = await timed('first task running with its data (create, map, mkfs, write)', () =>
        waitFor('the first task to run and write', 90_000, async () => {
          const running = (await tasks(svc)).find((t) => t.desired === 'Running' && t.current.startsWith('Running'));
          if (!running) return undefined;
          const h = running.node === 'host-1' ? h1 : h2;
          const cid = await containerOf(h, svc);
          if (!cid) return undefined;
          const sum = await h.docker(['exec', cid, 'cat', '/data/payload.sha256']);
          return sum.code === 0 && sum.stdout.includes('/data/payload') ? { node: running.node as 'host-1' | 'host-2', cid, sum: sum.stdout.trim().split(/\s+/)[0]! } : undefined;
        }, 250),
      );
      expect(first.sum, 'the first task wrote the pattern').toBe(PATTERN_SHA);
      const v = await volumeNamed(volName);
      expect(v, 'the task made the Polly volume').toBeDefined();
      expect(v!.sizeBytes).toBe(64 * MiB);
      expect(v!.profile).toBe('replicated');
      expect(v!.pool).toBe('ceph');
      const rbdImage = rbdImageName('volume', v!.backendId ?? v!.id);
      rbdImages.push(rbdImage);
      expect((await attachments(v!.id)).map((a) => a.node)).toEqual([first.node]);
      // Every node answers the same about the volume (global scope): Get and List.
      const inspected = await Promise.all(hosts.map(async (h) => JSON.parse((await ok(h.docker(['volume', 'inspect', volName]), 'volume inspect')).stdout)[0].Status));
      expect(inspected[0]).toEqual(inspected[1]);
      console.log(`swarm: docker volume inspect ${volName} → Status on both nodes: ${JSON.stringify(inspected[0])}`);
      expect(inspected[0]).toMatchObject({ id: v!.id, pool: 'ceph', profile: 'replicated', attachedTo: [first.node] });
      const from = first.node === 'host-1' ? h1 : h2;
      const to = first.node === 'host-1' ? h2 : h1;
      const toName = to.name;
      const fromAddress = net!.hosts[first.node === 'host-1' ? 0 : 1]!.address;
      const toAddress = net!.hosts[first.node === 'host-1' ? 1 : 0]!.address;
      // The task's node maps the image itself (rbd-fuse + a loop device); the other node holds nothing.
      expect((await rbdMappingsOn(from)).loops.length).toBe(1);
      expect(await rbdMappingsOn(to)).toEqual({ loops: [], rbdFuse: [] });

      const events = async (type: string) =>
        ((await api('GET', `/v1/events?type=${type}&limit=1000`, ADMIN)).body.items as Array<{ at: string; data: { volumeId?: string; node?: string; how?: string } }>).filter((e) => e.data.volumeId === v!.id);

      // 1. Drain the task's node: Swarm stops the task there (Unmount → unmap → detach) and starts one on
      // the other, which maps the image over the network and reads every byte.
      const drainedAt = Date.now();
      await ok(h1.docker(['node', 'update', '--availability', 'drain', first.node]), 'node update --availability drain');
      const moved = await waitFor('the task to run on the other node with every byte', 90_000, async () => {
        const cid = await containerOf(to, svc);
        if (!cid) return undefined;
        const check = await to.docker(['exec', cid, 'sh', '-c', 'sha256sum /data/payload; cat /data/log']);
        if (check.code !== 0 || !check.stdout.includes(`started on ${toName}`)) return undefined;
        return { cid, out: check.stdout };
      }, 100);
      const drainMs = Date.now() - drainedAt;
      timings.push(['drain → task running with its data on the new node', drainMs]);
      // Where the time went, from the server's own events: the old task's Unmount, the new task's Mount.
      const ended = (await events('attachment.ended')).filter((e) => e.data.node === first.node && Date.parse(e.at) >= drainedAt).sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
      const granted = (await events('attachment.created')).find((e) => e.data.node === toName);
      if (ended && granted) {
        timings.push(['drain → old node detached (its task stopped, Unmount, unmap)', Date.parse(ended.at) - drainedAt]);
        timings.push(['old node detached → new node attached (Mount)', Date.parse(granted.at) - Date.parse(ended.at)]);
        timings.push(['new node attached → data verified in the new task (map, mount, sha256)', drainedAt + drainMs - Date.parse(granted.at)]);
      }
      console.log(`swarm: drain of ${first.node} → task running on ${toName} with all 4 MiB read over RBD (sha256 ${PATTERN_SHA.slice(0, 16)}…): ${drainMs} ms`);
      console.log(`swarm: service ps after the drain:\n${(await h1.docker(['service', 'ps', svc])).stdout}`);
      expect(moved.out.split(/\s+/)[0], 'the new task reads the very bytes the first one wrote').toBe(PATTERN_SHA);
      expect(moved.out).toContain(`started on ${first.node}\nstarted on ${toName}`);
      expect((await attachments(v!.id)).map((a) => a.node)).toEqual([toName]);
      expect(await containerOf(from, svc)).toBeUndefined();

      // A graceful drain detaches: the old node holds no mapping, Ceph has no reason to fence it, and
      // Polly refuses it the volume while the new node holds it.
      expect(await rbdMappingsOn(from)).toEqual({ loops: [], rbdFuse: [] });
      expect(await ceph!.ceph(['osd', 'blocklist', 'ls'])).not.toContain(`${fromAddress}:0/`);
      const refused = await timed('refused on the old node', () => from.docker(['run', '--rm', '--network', 'none', '-v', `${volName}:/data`, image, 'sh', '-c', 'echo intruder >> /data/log']));
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(toName);
      console.log(`swarm: the old node is refused with: ${refused.stderr.trim()}`);
      expect((await to.docker(['exec', moved.cid, 'cat', '/data/log'])).stdout).not.toContain('intruder');

      // 2. A stale writer: a second container on the task's node appends acknowledged lines; that node's
      // agent dies (no fence guard); the node is drained. Nothing on it can stop the writer now: the
      // server blocklists its Ceph client (lease end + clock skew) before the task's new node gets the image.
      stale = { h: to, cid: await startWriter(to, image, volName, 'stale-ledger') };
      await waitFor('the stale writer to acknowledge 20 lines', 30_000, async () => ((await writerLog(to, stale!.cid)).acked.length >= 20 ? true : undefined), 200);
      await ok(h1.docker(['node', 'update', '--availability', 'active', first.node]), 'node update --availability active');
      deadAgent = to;
      await agents[toName]!.kill9();
      const killedAt = Date.now();
      await ok(h1.docker(['node', 'update', '--availability', 'drain', toName]), 'node update --availability drain (dead agent)');
      const back = await waitFor('the task to run again on the first node, with every byte', 120_000, async () => {
        const cid = await containerOf(from, svc);
        if (!cid) return undefined;
        const check = await from.docker(['exec', cid, 'sh', '-c', 'sha256sum /data/payload; cat /data/log; echo ---; cat /data/stale-ledger']);
        if (check.code !== 0 || !check.stdout.includes(`started on ${toName}\nstarted on ${first.node}`)) return undefined;
        return { cid, out: check.stdout };
      }, 200);
      const backMs = Date.now() - killedAt;
      timings.push(['agent kill + drain → task running with its data on the other node (lease end, blocklist, map)', backMs]);
      const fenced = (await events('attachment.fenced')).find((e) => e.data.node === toName);
      expect(fenced, 'the server fenced the dead node at the storage').toBeDefined();
      expect(fenced!.data.how).toBe('storage-fence');
      const regranted = (await events('attachment.created')).filter((e) => e.data.node === first.node).sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0]!;
      expect(Date.parse(regranted.at)).toBeGreaterThanOrEqual(Date.parse(fenced!.at));
      timings.push(['agent kill → blocklisted', Date.parse(fenced!.at) - killedAt]);
      timings.push(['blocklisted → attached to the other node', Date.parse(regranted.at) - Date.parse(fenced!.at)]);
      expect(await ceph!.ceph(['osd', 'blocklist', 'ls'])).toContain(`${toAddress}:0/`);
      expect(back.out.split(/\s+/)[0]).toBe(PATTERN_SHA);

      // Every line the stale writer got acknowledged is there; its writes since fail with EIO.
      const staleRead = new Set([...back.out.split('---')[1]!.matchAll(/^a (\d+)$/gm)].map((m) => Number(m[1])));
      await waitFor('the stale writer to see a failed write', 30_000, async () => ((await writerLog(to, stale!.cid)).failures.length > 0 ? true : undefined), 200);
      const log = await writerLog(to, stale.cid);
      expect(log.acked.filter((n) => !staleRead.has(n)), `acknowledged on the stale node but not read on the new one (acknowledged up to ${Math.max(...log.acked)}, read up to ${Math.max(...staleRead)}, first failure: ${log.failures[0]})`).toEqual([]);
      expect(log.failures[0]).toMatch(/Input\/output error/i);
      const late = await to.docker(['exec', stale.cid, 'sh', '-c', 'echo "a late" | dd of=/data/stale-ledger oflag=append conv=notrunc,fsync status=none'], { timeoutMs: 30_000 });
      expect(late.code).not.toBe(0);
      expect(late.stderr).toMatch(/Input\/output error|Read-only file system/i);
      expect((await writerLog(to, stale.cid)).acked.length, 'no write acknowledged after the fence').toBe(log.acked.length);
      console.log(`swarm: stale writer on ${toName}: ${log.acked.length} lines acknowledged (last ${Math.max(...log.acked)}), ${staleRead.size} read on ${first.node} (last ${Math.max(...staleRead)}); first failed write: ${log.failures[0]}; a late write: ${late.stderr.trim()}`);
      console.log(`swarm: service ps after the second drain:\n${(await h1.docker(['service', 'ps', svc])).stdout}`);

      // The dead node comes back: the stale writer stops, the restarted agent lets go of the fenced mapping.
      await to.docker(['kill', stale.cid], { timeoutMs: 30_000 });
      await startAgent(to);
      deadAgent = undefined;
      await waitFor(`${toName} to release its fenced mapping`, 60_000, async () => {
        const m = await rbdMappingsOn(to);
        return m.loops.length === 0 && m.rbdFuse.length === 0 ? true : undefined;
      }, 250);
      await to.docker(['rm', '-f', stale.cid], { timeoutMs: 60_000 });
      stale = undefined;

      // Removing the service lets go of the volume; removing the volume on every node leaves nothing.
      await timed('service rm', () => removeService(svc));
      await waitFor('the last attachment to go', 20_000, async () => ((await attachments(v!.id)).length === 0 ? true : undefined), 250);
      const removals = await timed('volume rm on both nodes', () => Promise.all([h1, h2].map((h) => h.docker(['volume', 'rm', volName]))));
      // At the same time on both nodes: a dockerd that asks (Get) after the other node's removal went
      // through says `no such volume` without calling Remove; either way the volume is gone.
      for (const r of removals) if (r.code !== 0) expect(r.stderr).toMatch(/no such volume/);
      expect(removals.some((r) => r.code === 0)).toBe(true);
      expect(await volumeNamed(volName)).toBeUndefined();
      expect((await attachments()).filter((a) => a.volumeId === v!.id)).toEqual([]);
      for (const h of hosts) {
        expect((await h.docker(['volume', 'ls', '-q'])).stdout.split('\n')).not.toContain(volName);
        expect(await rbdMappingsOn(h), `${h.name} holds no rbd-fuse and no loop device`).toEqual({ loops: [], rbdFuse: [] });
      }
      expect((await ceph!.rbd(['ls', ceph!.rbdPool])).split('\n')).not.toContain(rbdImage);
    } catch (err) {
      console.error(await diagnostics());
      throw err;
    } finally {
      if (stale) await stale.h.docker(['rm', '-f', stale.cid], { timeoutMs: 60_000 });
      if (deadAgent) await startAgent(deadAgent).catch((e: unknown) => console.error(`restarting ${deadAgent!.name}'s agent: ${(e as Error).message}`));
      await h1.docker(['node', 'update', '--availability', 'active', 'host-1']);
      await h1.docker(['node', 'update', '--availability', 'active', 'host-2']);
    }
  });

  it('a global service with a per-node volume name gets one volume per node, each in the pool its node reaches', async () => {
    const h1 = host(1);
    const svc = `per-node-${id}`;
    watched.push(svc);
    try {
      const created = await timed('service create (global)', () =>
        h1.docker([
          'service', 'create', '--detach', '--name', svc, '--no-resolve-image', '--network', 'host', '--mode', 'global',
          '--env', 'NODE={{.Node.Hostname}}',
          '--stop-grace-period', '2s',
          '--mount', `type=volume,source=node-${id}-{{.Node.Hostname}},target=/data,volume-driver=polly,volume-opt=size=32MiB,volume-opt=profile=node-local`,
          image, 'sh', '-c', 'echo "$NODE" > /data/owner; exec sleep 3600',
        ]),
      );
      expect(created.code, created.stderr).toBe(0);
      await timed('global tasks running', () =>
        waitFor('a running task on each node', 60_000, async () => {
          const running = (await tasks(svc)).filter((t) => t.desired === 'Running' && t.current.startsWith('Running'));
          return running.length === 2 ? true : undefined;
        }, 250),
      );
      for (const n of [1, 2] as const) {
        const v = await volumeNamed(`node-${id}-host-${n}`);
        expect(v, `host-${n}'s volume`).toBeDefined();
        expect(v!.pool, `host-${n}'s volume is in the pool host-${n} reaches`).toBe(`local-${n}`);
        expect(v!.sizeBytes).toBe(32 * MiB);
        expect((await attachments(v!.id)).map((a) => a.node)).toEqual([`host-${n}`]);
        const cid = await containerOf(host(n), svc);
        expect((await host(n).docker(['exec', cid!, 'cat', '/data/owner'])).stdout.trim()).toBe(`host-${n}`);
      }
      await timed('service rm (global)', () => removeService(svc));
      for (const n of [1, 2] as const) {
        const name = `node-${id}-host-${n}`;
        const v = await volumeNamed(name);
        await waitFor(`${name} to be detached`, 20_000, async () => ((await attachments(v!.id)).length === 0 ? true : undefined), 250);
        const removed = await host(n).docker(['volume', 'rm', name]);
        expect(removed.code, removed.stderr).toBe(0);
        expect(await volumeNamed(name)).toBeUndefined();
      }
    } catch (err) {
      console.error(await diagnostics());
      throw err;
    }
  });

  it('a task on a node that cannot reach its volume\'s pool fails with the reason in its status', async () => {
    const h1 = host(1);
    const svc = `misplaced-${id}`;
    watched.push(svc);
    const volName = `pinned-${id}`;
    try {
      // The volume lives on host-1's node-local pool; the service insists on host-2.
      const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=16MiB', '-o', 'profile=node-local', volName]);
      expect(created.code, created.stderr).toBe(0);
      expect((await volumeNamed(volName))?.pool).toBe('local-1');
      const svcCreated = await h1.docker([
        'service', 'create', '--detach', '--name', svc, '--no-resolve-image', '--network', 'host', '--replicas', '1',
        '--constraint', 'node.hostname==host-2', '--restart-max-attempts', '1',
        '--mount', `type=volume,source=${volName},target=/data,volume-driver=polly,volume-opt=profile=node-local`,
        image, 'sleep', '3600',
      ]);
      expect(svcCreated.code, svcCreated.stderr).toBe(0);
      const failed = await waitFor('the task to fail with a reason', 60_000, async () => (await tasks(svc)).find((t) => t.error !== ''), 250);
      console.log(`swarm: a task on host-2 for a volume of host-1's pool: ${failed.error}`);
      expect(failed.node).toBe('host-2');
      expect(failed.error).toMatch(/pool local-1 .*lives on node host-1.*node host-2 cannot attach/);
      await removeService(svc);
      expect(await attachments((await volumeNamed(volName))!.id)).toEqual([]);
      const removed = await h1.docker(['volume', 'rm', volName]);
      expect(removed.code, removed.stderr).toBe(0);
    } catch (err) {
      console.error(await diagnostics());
      throw err;
    }
  });
});
