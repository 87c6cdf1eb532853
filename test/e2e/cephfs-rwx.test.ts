import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CephCluster, CEPH_BINARIES, startCephCluster } from '../helpers/ceph.js';
import { Cleanup } from '../helpers/loopfs.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { AgentProcess } from './hosts/agent.js';
import { DockerHost } from './hosts/dockerd.js';
import { run, waitFor } from './hosts/exec.js';
import { busyboxRootfs, importImage } from './hosts/image.js';
import { createNetwork, type Network } from './hosts/netns.js';
import { type ApiAnswer, callApi, CleanupSteps, missingForHosts } from './hosts/setup.js';

/**
 * A CephFS volume shared by two real Docker hosts at once (RWX) through the Polly Docker plugin: the
 * profile lists RWX first, so each host's plugin attaches it RWX and its agent mounts the subvolume with
 * ceph-fuse. A container on each host writes a file and sees the other host's file; when both containers
 * are gone, neither host keeps a ceph-fuse mount or process, and the server no live attachment.
 *
 * Ceph (monitor, manager, memstore OSD, MDS) starts once for the file and listens on the test bridge
 * (host 0's address), so that the hosts' network namespaces reach it.
 */

const ADMIN = `e2e-admin-${randomBytes(12).toString('hex')}`;
const SERVICE = 'shared-files';
const VOLUME = 'cephfs-shared';

const missing = missingForHosts([...CEPH_BINARIES, 'ceph-mds', 'ceph-fuse']);
const ready = missing.length === 0;

const steps = new CleanupSteps();
const cephCleanup = new Cleanup();
let work = '';
let net: Network | undefined;
let ceph: CephCluster | undefined;
let server: ServerProcess | undefined;
const hosts: DockerHost[] = [];
const agents: AgentProcess[] = [];
let serviceToken = '';
let image = '';

function api(method: string, path: string, token: string, body?: unknown): Promise<ApiAnswer> {
  if (!server) throw new Error('no server');
  return callApi(server.url, method, path, token, body);
}

/** ceph-fuse mounts in a host's mount namespace under its directory: `mountpoint (fusectl connection)`. */
async function cephFuseMounts(h: DockerHost): Promise<Array<{ mountPoint: string; connection: string }>> {
  if (h.pid === 0) return [];
  const info = await readFile(`/proc/${h.pid}/mountinfo`, 'utf8').catch(() => '');
  return info
    .split('\n')
    .filter((l) => / - fuse\.ceph-fuse /.test(l) && l.includes(h.dir))
    .map((l) => ({ mountPoint: l.split(' ')[4] ?? '', connection: l.split(' ')[2]?.split(':')[1] ?? '' }));
}

/** ceph-fuse processes whose command line names a host's directory (the agent's per-volume files). */
async function cephFuseProcesses(h: DockerHost): Promise<string[]> {
  const r = await run('pgrep', ['-f', `ceph-fuse .*${h.dir}/`]);
  return r.stdout.split('\n').filter(Boolean);
}

function diagnostics(): string {
  const parts = agents.map((a, i) => `--- agent host-${i + 1} ---\n${a.output().slice(-5000)}`);
  if (server) parts.push(`--- server ---\n${server.output().slice(-5000)}`);
  return parts.join('\n');
}

if (!ready && process.env.CI) {
  describe('CephFS RWX on two Docker hosts', () => {
    it('has what it needs', () => {
      throw new Error(`missing on this machine: ${missing.join(', ')}`);
    });
  });
}

describe.skipIf(!ready)('CephFS RWX on two Docker hosts at once (Polly Docker plugin, ceph-fuse)', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const id = randomBytes(3).toString('hex');
    work = await mkdtemp(join(tmpdir(), `polly-e2e-cephfs-${id}-`));
    steps.add('remove the work directory', () => rm(work, { recursive: true, force: true, maxRetries: 3 }));
    net = await createNetwork(id, 2);
    const network = net;
    steps.add('remove namespaces, veths and the bridge', () => network.destroy());
    steps.add('stop the Ceph cluster', () => cephCleanup.run());
    const cephReady = startCephCluster(cephCleanup, { bindAddress: network.hostAddress, mds: true }).then((c) => {
      ceph = c;
      console.log(`ceph fixture (with MDS + CephFS) up in ${c.bringUpMs} ms (monitor at ${c.monAddress})`);
    });
    for (const [i, h] of network.hosts.entries()) {
      const dockerHost = new DockerHost(`host-${i + 1}`, join(work, `host-${i + 1}`), h.netns);
      hosts.push(dockerHost);
      steps.add(`stop dockerd of host-${i + 1}`, async () => {
        // A ceph-fuse left behind (a failed test) is unmounted first; one that hangs is aborted.
        const left = await cephFuseMounts(dockerHost);
        for (const m of left) await run('nsenter', [`--mount=/proc/${dockerHost.pid}/ns/mnt`, 'umount', '-l', m.mountPoint]);
        for (const pid of await cephFuseProcesses(dockerHost)) process.kill(Number(pid), 'SIGKILL');
        await dockerHost.stop();
        if (left.length > 0) {
          await run('mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections']);
          for (const m of left) await writeFile(`/sys/fs/fuse/connections/${m.connection}/abort`, '1').catch(() => undefined);
        }
      });
    }
    await Promise.all([cephReady, Promise.all(hosts.map((h) => h.start()))]);
    const cluster = ceph!;
    const fsName = cluster.fsName ?? 'cephfs';
    const adminKey = (await cluster.ceph(['auth', 'print-key', 'client.admin'])).trim();
    await cluster.ceph(['fs', 'authorize', fsName, 'client.polly-fs-node', '/volumes/polly', 'rw']);
    const nodeKey = (await cluster.ceph(['auth', 'print-key', 'client.polly-fs-node'])).trim();
    const serverDir = join(work, 'server');
    await mkdir(serverDir, { recursive: true });
    const config = join(work, 'polly.yml');
    await writeFile(
      config,
      [
        `listen: "${network.hostAddress}:0"`,
        'pools:',
        '  - name: shared-fs',
        '    driver: cephfs',
        '    topology: {shared: true}',
        '    parameters:',
        `      monHost: "[v2:${cluster.monAddress}]"`,
        `      fsName: ${fsName}`,
        `      key: "${adminKey}"`,
        '      nodeUser: polly-fs-node',
        `      nodeKey: "${nodeKey}"`,
        '      mounter: ceph-fuse',
        'profiles:',
        '  - {name: shared, pools: [shared-fs], accessModes: [RWX, RWO]}',
        '',
      ].join('\n'),
    );
    server = await spawnServer({ POLLY_CONFIG: config, POLLY_DATA_DIR: serverDir, POLLY_ADMIN_TOKEN: ADMIN });
    const s = server;
    // The server goes before Ceph (its CLI calls would wait for a monitor that is gone).
    steps.add('stop the server', () => s.kill9());
    image = `polly-cephfs-${id}:e2e`;
    const tarball = await busyboxRootfs(join(work, 'rootfs'));
    await Promise.all(hosts.map((h) => importImage(h, tarball, image)));
    expect((await api('POST', '/v1/services', ADMIN, { name: SERVICE })).status).toBe(201);
    serviceToken = (await api('POST', `/v1/services/${SERVICE}/tokens`, ADMIN, {})).body.token as string;
    steps.add('stop the agents', async () => {
      for (const a of agents) await a.kill9();
    });
    for (const [i, h] of hosts.entries()) {
      agents.push(
        await AgentProcess.start(h, {
          serverUrl: s.url,
          token: serviceToken,
          nodeId: `host-${i + 1}`,
          stateDir: join(h.dir, 'agent'),
          dataDir: join(h.dir, 'agent-data'),
          extraArgs: ['--heartbeat', '2'],
        }),
      );
    }
    steps.add('remove containers', async () => {
      for (const h of hosts) {
        const ps = await h.docker(['ps', '-aq'], { timeoutMs: 10_000 });
        const ids = ps.stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await h.docker(['rm', '-f', ...ids], { timeoutMs: 30_000 });
      }
    });
  }, 240_000);

  afterAll(async () => {
    const problems = await steps.run();
    if (problems.length > 0) console.error(`cephfs rwx clean-up problems:\n${problems.join('\n')}`);
  }, 120_000);

  it('both hosts mount the volume at once, each writes a file and reads the other\'s; detach leaves no ceph-fuse behind', async () => {
    const [h1, h2] = [hosts[0]!, hosts[1]!];
    try {
      const created = await h1.docker(['volume', 'create', '--driver', 'polly', '-o', 'size=64MiB', '-o', 'profile=shared', VOLUME]);
      expect(created.code, created.stderr).toBe(0);
      const containers: string[] = [];
      for (const [i, h] of [h1, h2].entries()) {
        const t0 = Date.now();
        const r = await h.docker(['run', '-d', '--network', 'none', '-v', `${VOLUME}:/data`, image, 'sh', '-c', `echo "written on host-${i + 1}" > /data/from-host-${i + 1}; sleep 3600`]);
        expect(r.code, r.stderr).toBe(0);
        containers.push(r.stdout.trim());
        console.log(`cephfs rwx: host-${i + 1}'s container running (attach RWX + ceph-fuse mount) after ${Date.now() - t0} ms`);
      }

      // Both attachments are live at the same time, RWX, one per host.
      const volumes = (await api('GET', '/v1/volumes?limit=1000', ADMIN)).body.items as Array<{ name: string; id: string }>;
      const v = volumes.find((x) => x.name === VOLUME)!;
      const live = (await api('GET', `/v1/attachments?volume=${v.id}`, ADMIN)).body.items as Array<{ node: string; accessMode: string }>;
      expect(live.map((a) => `${a.node} ${a.accessMode}`).sort()).toEqual(['host-1 RWX', 'host-2 RWX']);
      // One ceph-fuse client per host (its staging mount and the bind mount Docker gets share it).
      for (const h of [h1, h2]) expect(new Set((await cephFuseMounts(h)).map((m) => m.connection)).size, `${h.name} has one ceph-fuse client`).toBe(1);

      // Each host sees both files: its own and the other host's.
      for (const [i, h] of [h1, h2].entries()) {
        const other = i === 0 ? 2 : 1;
        const seen = await waitFor(`host-${i + 1} to see host-${other}'s file`, 20_000, async () => {
          const r = await h.docker(['exec', containers[i]!, 'cat', `/data/from-host-${other}`, `/data/from-host-${i + 1}`], { timeoutMs: 10_000 });
          return r.code === 0 ? r.stdout : undefined;
        }, 200);
        expect(seen).toBe(`written on host-${other}\nwritten on host-${i + 1}\n`);
      }
      // A write on one host is read on the other while both stay mounted.
      expect((await h2.docker(['exec', containers[1]!, 'sh', '-c', 'echo appended-on-host-2 >> /data/from-host-1'])).code).toBe(0);
      const appended = await waitFor('host-1 to see host-2\'s append', 20_000, async () => {
        const r = await h1.docker(['exec', containers[0]!, 'cat', '/data/from-host-1'], { timeoutMs: 10_000 });
        return r.stdout.includes('appended-on-host-2') ? r.stdout : undefined;
      }, 200);
      expect(appended).toBe('written on host-1\nappended-on-host-2\n');

      // Both containers go: each plugin's Unmount detaches, and each agent unmounts its ceph-fuse.
      for (const [i, h] of [h1, h2].entries()) expect((await h.docker(['rm', '-f', containers[i]!], { timeoutMs: 30_000 })).code).toBe(0);
      for (const h of [h1, h2]) {
        await waitFor(`${h.name} to let go of its ceph-fuse mount`, 20_000, async () => ((await cephFuseMounts(h)).length === 0 ? true : undefined), 200);
        await waitFor(`${h.name}'s ceph-fuse to exit`, 20_000, async () => ((await cephFuseProcesses(h)).length === 0 ? true : undefined), 200);
      }
      expect((await api('GET', `/v1/attachments?volume=${v.id}`, ADMIN)).body.items).toEqual([]);
    } catch (err) {
      console.error(diagnostics());
      throw err;
    }
  });
});
