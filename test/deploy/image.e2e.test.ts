import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost } from '../e2e/hosts/dockerd.js';
import { run, waitFor } from '../e2e/hosts/exec.js';
import { createNetwork, type Network } from '../e2e/hosts/netns.js';

/**
 * deploy/image/build.sh builds the image the Kubernetes and Nomad files run, with no registry: a private
 * dockerd (its own network and mount namespace) imports it, and the image runs `polly version`, the
 * node-side tools, and `polly server` answering /readyz and the CLI inside the container.
 */

const BUILD = fileURLToPath(new URL('../../deploy/image/build.sh', import.meta.url));
const id = randomBytes(2).toString('hex');
const tag = `polly:test-${id}`;
let work = '';
let net: Network | undefined;
let host: DockerHost | undefined;
let buildSeconds = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), `polly-image-${id}-`));
  net = await createNetwork(id, 1);
  host = new DockerHost('image', join(work, 'docker'), net.hosts[0]!.netns);
  await host.start();
  const started = Date.now();
  const built = await run('bash', [BUILD, '--tag', tag], { timeoutMs: 300_000, env: { ...process.env, DOCKER_HOST: `unix://${host.socket}` } });
  buildSeconds = (Date.now() - started) / 1000;
  if (built.code !== 0) throw new Error(`build.sh failed (${built.code}):\n${built.stdout}\n${built.stderr}`);
  expect(built.stdout).toMatch(new RegExp(`^build-image: built ${tag} \\(\\d+M\\)$`, 'm'));
}, 400_000);

afterAll(async () => {
  await host?.docker(['rm', '-f', `polly-srv-${id}`]);
  await host?.stop();
  await net?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the container image', () => {
  it('is imported with its entrypoint, and prints the client version', async () => {
    const inspect = await host!.docker(['image', 'inspect', tag, '--format', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}']);
    expect(inspect.stdout.trim()).toBe('["/usr/local/bin/node","/opt/polly/bin/polly.js"] ["server"]');
    const version = await host!.docker(['run', '--rm', '--network', 'none', tag, 'version']);
    expect(version.stderr).toBe('');
    expect(version.stdout).toMatch(/^Client: 0\.1\.0\nServer: not reachable at http:\/\/127\.0\.0\.1:7978\n$/);
    console.log(`image built and imported in ${buildSeconds.toFixed(1)} s`);
  });

  it('holds the node-side tools the agent and drivers run, with their libraries', async () => {
    // As the agent runs them: execFile through PATH (busybox sh would prefer its own applets).
    const tools = [['mount', '--version'], ['losetup', '--version'], ['nsenter', '--version'], ['blkid', '--version'], ['mkfs.ext4', '-V'], ['mkfs.xfs', '-V'], ['btrfs', '--version'], ['cp', '--version'], ['du', '-sb', '/opt/polly/bin']];
    const script = `const { spawnSync } = require('node:child_process'); for (const [c, ...a] of ${JSON.stringify(tools)}) { const r = spawnSync(c, a, { encoding: 'utf8' }); console.log(c, r.status, (r.stdout + r.stderr).split('\\n')[0]); } console.log('tools-ok');`;
    const res = await host!.docker(['run', '--rm', '--network', 'none', '--entrypoint', '/usr/local/bin/node', tag, '-e', script]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^mount 0 mount from util-linux 2\.\d+/m);
    expect(res.stdout).toMatch(/^losetup 0 losetup from util-linux/m);
    expect(res.stdout).toMatch(/^mkfs\.ext4 0 mke2fs \d/m);
    expect(res.stdout).toMatch(/^mkfs\.xfs 0 mkfs\.xfs version \d/m);
    expect(res.stdout).toMatch(/^btrfs 0 btrfs-progs v\d/m);
    expect(res.stdout).toMatch(/^cp 0 cp \(GNU coreutils\)/m);
    expect(res.stdout).toMatch(/^du 0 \d+\s+\/opt\/polly\/bin$/m);
    expect(res.stdout.trim().split('\n').at(-1)).toBe('tools-ok');
  });

  it('runs polly server: /readyz answers, the CLI in the container creates a volume, an agent registers its node', async () => {
    const name = `polly-srv-${id}`;
    const started = await host!.docker(['run', '-d', '--network', 'none', '--name', name, tag]);
    expect(started.code, started.stderr).toBe(0);
    const probe = "fetch('http://127.0.0.1:7978/readyz').then(async (r) => console.log(r.status, await r.text())).catch(() => console.log('down'))";
    const ready = await waitFor('readyz', 60_000, async () => {
      const r = await host!.docker(['exec', name, 'node', '-e', probe]);
      return r.stdout.startsWith('200') ? r.stdout : undefined;
    }, 500);
    expect(ready).toMatch(/^200 /);
    // The admin token is in the image's data directory, where the CLI looks by default.
    expect((await host!.docker(['exec', name, 'polly', 'service', 'create', 'demo'])).code).toBe(0);
    const created = await host!.docker(['exec', name, 'polly', 'volume', 'create', 'demo', '--service', 'demo', '--size', '16MiB', '-o', 'json']);
    expect(created.stderr).toBe('');
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'demo', pool: 'local', status: 'available', sizeBytes: 16 * 1024 * 1024 });
    // The node half from the same image: an agent with the service's token registers its node and serves CSI Node.
    const token = (await host!.docker(['exec', name, 'polly', 'service', 'token', 'demo'])).stdout.trim();
    const agent = await host!.docker(['exec', '-d', '-e', `POLLY_TOKEN=${token}`, name, 'polly', 'agent', '--node', 'image-node', '--csi-socket', '/tmp/csi-node.sock', '--state-dir', '/tmp/agent']);
    expect(agent.code, agent.stderr).toBe(0);
    const nodes = await waitFor('the agent\'s node', 60_000, async () => {
      const r = await host!.docker(['exec', name, 'polly', 'node', 'ls', '-o', 'json']);
      const list = r.code === 0 ? (JSON.parse(r.stdout) as Array<{ id: string }>) : [];
      const sock = await host!.docker(['exec', name, 'stat', '-c', '%F', '/tmp/csi-node.sock']);
      return list.some((n) => n.id === 'image-node') && sock.stdout.trim() === 'socket' ? list : undefined;
    }, 500);
    expect(nodes.map((n) => n.id)).toContain('image-node');
    const logs = await host!.docker(['logs', name]);
    expect(logs.stderr).toMatch(/Polly 0\.1\.0 serving http:\/\/\S+:7978 \(store: sqlite \S*polly\.db\)/);
  });
});
