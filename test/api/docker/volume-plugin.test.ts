import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent } from '../../../src/agent/run.js';
import { isMountPoint } from '../../../src/drivers/system/mounts.js';
import { Cleanup, tempDir } from '../../helpers/loopfs.js';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

const cleanup = new Cleanup();
let polly: TestPolly;
let token: string;
let otherToken: string;
let work: string;
let socket: string;
let running: RunningAgent;

/** Raw HTTP on the unix socket, as dockerd sends it: POST, JSON body, no Content-Type. */
function plugin(path: string, body?: unknown, raw?: string): Promise<{ status: number; contentType: string | undefined; body: Record<string, unknown> }> {
  return pluginAt(socket, path, body, raw);
}

function pluginAt(socketPath: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; contentType: string | undefined; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = raw ?? (body === undefined ? '' : JSON.stringify(body));
    const req = httpRequest({ socketPath, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function agentOptions() {
  return {
    serverUrl: polly.url,
    token,
    nodeId: 'docker-1',
    hostname: 'docker-1.test',
    topology: {},
    stateDir: join(work, 'agent'),
    dataDir: polly.dataDir,
    heartbeatSeconds: 3600,
    log: pino({ level: 'silent' }),
  };
}

beforeAll(async () => {
  const poolDir = await tempDir(cleanup);
  await mkdir(join(poolDir, 'blocky'));
  polly = await startPolly({
    pools: [
      { name: 'shared', driver: 'local', path: join(poolDir, 'pool'), topology: { shared: true } },
      // Node-local pools of the two nodes of the Swarm tests (docker-1, swarm-2), and one of a third node.
      { name: 'on-docker-1', driver: 'local', path: join(poolDir, 'on-1'), topology: { nodes: ['docker-1'] } },
      { name: 'on-swarm-2', driver: 'local', path: join(poolDir, 'on-2'), topology: { nodes: ['swarm-2'] } },
      { name: 'on-elsewhere', driver: 'local', path: join(poolDir, 'on-3'), topology: { nodes: ['elsewhere'] } },
      { name: 'blocky', driver: 'loopblock', path: join(poolDir, 'blocky'), topology: { shared: true } },
    ],
    profiles: [
      { name: 'xfs', fsType: 'xfs' },
      { name: 'default', pools: ['shared'] },
      { name: 'node-local', pools: ['on-docker-1', 'on-swarm-2'] },
      { name: 'far-away', pools: ['on-elsewhere'] },
      { name: 'block-backed', pools: ['blocky'] },
    ],
  });
  cleanup.add(() => polly.stop());
  token = await newService(polly, 'swarm');
  otherToken = await newService(polly, 'elsewhere');
  work = await tempDir(cleanup);
  socket = join(work, 'plugins', 'polly.sock');
  running = await runAgent({ ...agentOptions(), dockerSocket: socket });
  cleanup.add(() => running.stop());
});
afterAll(async () => {
  await cleanup.run();
});

describe('Docker VolumeDriver plugin over a unix socket', () => {
  it('Activate and Capabilities (global scope), with an empty body and the plugin content type', async () => {
    const act = await plugin('/Plugin.Activate');
    expect(act.body).toEqual({ Implements: ['VolumeDriver'] });
    expect(act.contentType).toBe('application/vnd.docker.plugins.v1.2+json');
    expect((await plugin('/VolumeDriver.Capabilities', undefined, '{}')).body).toEqual({ Capabilities: { Scope: 'global' } });
  });

  it('Create with size and profile; Get, List and Path; Create again is fine', async () => {
    expect((await plugin('/VolumeDriver.Create', { Name: 'hello', Opts: { size: '64MiB' } })).body).toEqual({ Err: '' });
    expect((await plugin('/VolumeDriver.Create', { Name: 'hello', Opts: { size: '64MiB' } })).body).toEqual({ Err: '' });
    expect((await plugin('/VolumeDriver.Create', { Name: 'hello', Opts: { size: '128MiB' } })).body.Err).toContain('exists');
    const volumes = (await polly.call('GET', '/v1/volumes', { token })).body.items;
    expect(volumes).toEqual([expect.objectContaining({ name: 'hello', sizeBytes: 64 * 2 ** 20, service: 'swarm' })]);
    const got = await plugin('/VolumeDriver.Get', { Name: 'hello' });
    expect(got.body).toMatchObject({ Err: '', Volume: { Name: 'hello', Mountpoint: '' } });
    expect((await plugin('/VolumeDriver.Path', { Name: 'hello' })).body).toEqual({ Mountpoint: '', Err: '' });
    expect((await plugin('/VolumeDriver.List', {})).body).toMatchObject({ Err: '', Volumes: [{ Name: 'hello' }] });
  });

  it('Create refuses bad options with a clear Err', async () => {
    expect((await plugin('/VolumeDriver.Create', { Name: 'bad', Opts: { size: 'lots' } })).body.Err).toContain('size');
    expect((await plugin('/VolumeDriver.Create', { Name: 'bad', Opts: { colour: 'red' } })).body.Err).toContain('colour');
    expect((await plugin('/VolumeDriver.Create', { Name: 'bad', Opts: { fsType: 'btrfs' } })).body.Err).toContain('btrfs');
    expect((await plugin('/VolumeDriver.Create', { Name: 'xfs-one', Opts: { fsType: 'xfs', profile: 'xfs', size: '1MiB' } })).body.Err).toBe('');
    expect((await plugin('/VolumeDriver.Create', { Opts: {} })).body.Err).toContain('Name');
    expect((await plugin('/VolumeDriver.Create', undefined, '{not json')).body.Err).toContain('JSON');
  });

  it('Get of an unknown name answers a null Volume with an Err', async () => {
    const res = await plugin('/VolumeDriver.Get', { Name: 'ghost' });
    expect(res.status).toBe(200);
    expect(res.body.Volume).toBeNull();
    expect(res.body.Err).toContain('ghost');
  });

  it('only the agent service\'s volumes are listed', async () => {
    await polly.call('POST', '/v1/volumes', { token: otherToken, body: { name: 'theirs', sizeBytes: 1000 } });
    const names = ((await plugin('/VolumeDriver.List')).body.Volumes as Array<{ Name: string }>).map((v) => v.Name);
    expect(names).not.toContain('theirs');
    expect((await plugin('/VolumeDriver.Get', { Name: 'theirs' })).body.Volume).toBeNull();
  });

  it('Mount is reference-counted by ID; the last Unmount removes the mountpoint and detaches', async () => {
    const m1 = await plugin('/VolumeDriver.Mount', { Name: 'hello', ID: 'c1' });
    expect(m1.body.Err).toBe('');
    const mountpoint = m1.body.Mountpoint as string;
    expect(await isMountPoint(mountpoint)).toBe(true);
    await writeFile(join(mountpoint, 'hello'), 'hi\n');
    const m2 = await plugin('/VolumeDriver.Mount', { Name: 'hello', ID: 'c2' });
    expect(m2.body.Mountpoint).toBe(mountpoint);
    expect((await plugin('/VolumeDriver.Path', { Name: 'hello' })).body.Mountpoint).toBe(mountpoint);
    expect((await plugin('/VolumeDriver.Get', { Name: 'hello' })).body.Volume).toMatchObject({ Mountpoint: mountpoint });
    const attached = await polly.call('GET', '/v1/attachments?node=docker-1', { token });
    expect(attached.body.items).toHaveLength(1);
    // Removing a mounted volume is refused.
    expect((await plugin('/VolumeDriver.Remove', { Name: 'hello' })).body.Err).toContain('mounted');

    expect((await plugin('/VolumeDriver.Unmount', { Name: 'hello', ID: 'c1' })).body.Err).toBe('');
    expect(await isMountPoint(mountpoint)).toBe(true);
    expect((await plugin('/VolumeDriver.Unmount', { Name: 'hello', ID: 'c2' })).body.Err).toBe('');
    expect(await isMountPoint(mountpoint)).toBe(false);
    expect((await polly.call('GET', '/v1/attachments?node=docker-1', { token })).body.items).toHaveLength(0);
    // The data stays in the volume: mount it again.
    const again = await plugin('/VolumeDriver.Mount', { Name: 'hello', ID: 'c3' });
    expect(await readFile(join(again.body.Mountpoint as string, 'hello'), 'utf8')).toBe('hi\n');
    await plugin('/VolumeDriver.Unmount', { Name: 'hello', ID: 'c3' });
  });

  it('Mount of a volume another node holds fails with Err naming the node', async () => {
    await plugin('/VolumeDriver.Create', { Name: 'busy', Opts: { size: '1MiB' } });
    const v = (await polly.call('GET', '/v1/volumes', { token })).body.items.find((x: { name: string }) => x.name === 'busy');
    await polly.call('POST', '/v1/nodes', { token, body: { id: 'docker-2', hostname: 'docker-2.test' } });
    const held = await polly.call('POST', `/v1/volumes/${v.id}/attachments`, { token, body: { node: 'docker-2', accessMode: 'RWO' } });
    expect(held.status).toBe(201);
    const res = await plugin('/VolumeDriver.Mount', { Name: 'busy', ID: 'c9' });
    expect(res.body.Err).toContain('docker-2');
    expect(res.body.Mountpoint).toBe('');
    await polly.call('DELETE', `/v1/attachments/${held.body.id}`, { token });
  });

  it('a mount survives an agent restart, and the next Unmount releases it', async () => {
    const m = await plugin('/VolumeDriver.Mount', { Name: 'hello', ID: 'r1' });
    const mountpoint = m.body.Mountpoint as string;
    await running.stop();
    running = await runAgent({ ...agentOptions(), dockerSocket: socket });
    expect(await isMountPoint(mountpoint)).toBe(true);
    expect((await plugin('/VolumeDriver.Path', { Name: 'hello' })).body.Mountpoint).toBe(mountpoint);
    expect((await plugin('/VolumeDriver.Unmount', { Name: 'hello', ID: 'r1' })).body.Err).toBe('');
    expect(await isMountPoint(mountpoint)).toBe(false);
    expect((await polly.call('GET', '/v1/attachments?node=docker-1', { token })).body.items).toHaveLength(0);
  });

  it('Remove deletes; Remove of a name that is gone succeeds (another node removed it)', async () => {
    expect((await plugin('/VolumeDriver.Remove', { Name: 'hello' })).body).toEqual({ Err: '' });
    expect((await plugin('/VolumeDriver.Get', { Name: 'hello' })).body.Volume).toBeNull();
    expect((await plugin('/VolumeDriver.Remove', { Name: 'hello' })).body).toEqual({ Err: '' });
    expect((await plugin('/VolumeDriver.Nope', {})).status).toBe(404);
  });
});

describe('Swarm: two nodes\' plugins asked about the same volumes', () => {
  let socket2 = '';
  beforeAll(async () => {
    const dir = await tempDir(cleanup);
    socket2 = join(dir, 'plugins', 'polly.sock');
    const second = await runAgent({ ...agentOptions(), nodeId: 'swarm-2', hostname: 'swarm-2.test', stateDir: join(dir, 'agent'), dataDir: join(dir, 'data'), dockerSocket: socket2 });
    cleanup.add(() => second.stop());
  });

  it('Get and List answer the same Status on every node, naming the node that holds the volume', async () => {
    expect((await plugin('/VolumeDriver.Create', { Name: 'everywhere', Opts: { size: '1MiB' } })).body.Err).toBe('');
    const idle = await Promise.all([socket, socket2].map((s) => pluginAt(s, '/VolumeDriver.Get', { Name: 'everywhere' })));
    expect(idle[0]!.body).toEqual(idle[1]!.body);
    expect(idle[0]!.body.Volume).toMatchObject({ Mountpoint: '', Status: { attachedTo: [] } });
    const mounted = await plugin('/VolumeDriver.Mount', { Name: 'everywhere', ID: 'sw1' });
    expect(mounted.body.Err).toBe('');
    try {
      const [here, there] = await Promise.all([socket, socket2].map((s) => pluginAt(s, '/VolumeDriver.Get', { Name: 'everywhere' })));
      expect((here!.body.Volume as Record<string, unknown>).Status).toEqual((there!.body.Volume as Record<string, unknown>).Status);
      expect((there!.body.Volume as Record<string, unknown>).Status).toMatchObject({ attachedTo: ['docker-1'], sizeBytes: 2 ** 20 });
      // The mountpoint is the one node-local field.
      expect(here!.body.Volume).toMatchObject({ Mountpoint: mounted.body.Mountpoint });
      expect(there!.body.Volume).toMatchObject({ Mountpoint: '' });
      const lists = await Promise.all([socket, socket2].map(async (s) => ((await pluginAt(s, '/VolumeDriver.List')).body.Volumes as Array<{ Name: string; Status: unknown }>).find((v) => v.Name === 'everywhere')?.Status));
      expect(lists[0]).toEqual(lists[1]);
      expect(lists[1]).toMatchObject({ attachedTo: ['docker-1'] });
    } finally {
      expect((await plugin('/VolumeDriver.Unmount', { Name: 'everywhere', ID: 'sw1' })).body.Err).toBe('');
    }
  });

  it('Create of one name on both nodes at once (a global service starting) makes one volume and succeeds on both', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const answers = await Promise.all([socket, socket2].map((s) => pluginAt(s, '/VolumeDriver.Create', { Name: name, Opts: { size: '2MiB' } })));
      expect(answers.map((a) => a.body.Err), name).toEqual(['', '']);
    }
    const volumes = (await polly.call('GET', '/v1/volumes?limit=1000', { token })).body.items as Array<{ name: string }>;
    expect(volumes.filter((v) => v.name.startsWith('race-')).map((v) => v.name).sort()).toEqual(['race-0', 'race-1', 'race-2', 'race-3', 'race-4']);
  });

  it('Create of an existing name with another volume-opt (size or profile) is refused, the same options are fine', async () => {
    expect((await pluginAt(socket2, '/VolumeDriver.Create', { Name: 'race-0', Opts: { size: '2MiB', profile: 'default' } })).body.Err).toBe('');
    expect((await pluginAt(socket2, '/VolumeDriver.Create', { Name: 'race-0', Opts: { size: '2MiB', profile: 'xfs' } })).body.Err).toBe('volume race-0 exists with profile default, not xfs');
    expect((await pluginAt(socket2, '/VolumeDriver.Create', { Name: 'race-0', Opts: { size: '3MiB' } })).body.Err).toContain('exists with 2097152 bytes');
  });

  it('Create places the volume in a pool the creating node reaches (a global service\'s per-node volumes)', async () => {
    for (let round = 0; round < 3; round++) {
      for (const [s, node, pool] of [[socket, 'docker-1', 'on-docker-1'], [socket2, 'swarm-2', 'on-swarm-2']] as const) {
        const name = `data-${node}-${round}`;
        expect((await pluginAt(s, '/VolumeDriver.Create', { Name: name, Opts: { size: '1MiB', profile: 'node-local' } })).body.Err).toBe('');
        const v = ((await polly.call('GET', '/v1/volumes?limit=1000', { token })).body.items as Array<{ name: string; pool: string }>).find((x) => x.name === name);
        expect(v?.pool, name).toBe(pool);
      }
    }
    // A node that reaches none of the profile's pools is told so at Create, not at the task's Mount.
    const far = await pluginAt(socket2, '/VolumeDriver.Create', { Name: 'far', Opts: { profile: 'far-away' } });
    expect(far.body.Err).toBe('0 of 5 pools fit: 3 rejected by profile (not in profile far-away\'s pools), 2 by node-reach (not reachable from node swarm-2)');
  });

  it('with a mount wait, Mount of a volume another node is letting go succeeds once it has (a drained task\'s replacement)', async () => {
    const dir = await tempDir(cleanup);
    const socket3 = join(dir, 'plugins', 'polly.sock');
    const third = await runAgent({ ...agentOptions(), nodeId: 'swarm-3', hostname: 'swarm-3.test', stateDir: join(dir, 'agent'), dataDir: join(dir, 'data'), dockerSocket: socket3, dockerMountWaitSeconds: 8 });
    cleanup.add(() => third.stop());
    expect((await plugin('/VolumeDriver.Create', { Name: 'handover', Opts: { size: '1MiB' } })).body.Err).toBe('');
    expect((await plugin('/VolumeDriver.Mount', { Name: 'handover', ID: 'old-task' })).body.Err).toBe('');
    const t0 = Date.now();
    const replacement = pluginAt(socket3, '/VolumeDriver.Mount', { Name: 'handover', ID: 'new-task' });
    // Meanwhile the plugin answers other calls, and the old task stops on its node.
    await new Promise((r) => setTimeout(r, 700));
    expect((await pluginAt(socket3, '/VolumeDriver.Get', { Name: 'handover' })).body.Volume).toMatchObject({ Status: { attachedTo: ['docker-1'] } });
    expect((await plugin('/VolumeDriver.Unmount', { Name: 'handover', ID: 'old-task' })).body.Err).toBe('');
    const mounted = await replacement;
    expect(mounted.body.Err).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect((await pluginAt(socket3, '/VolumeDriver.Get', { Name: 'handover' })).body.Volume).toMatchObject({ Status: { attachedTo: ['swarm-3'] } });
    // Without a release within the wait, the refusal comes, naming the holder.
    expect((await plugin('/VolumeDriver.Mount', { Name: 'handover', ID: 'intruder' })).body.Err).toContain('swarm-3');
    expect((await pluginAt(socket3, '/VolumeDriver.Unmount', { Name: 'handover', ID: 'new-task' })).body.Err).toBe('');
  });

  it('docker volume rm on every node: the first removes the volume, the others succeed too', async () => {
    const answers = [];
    for (const s of [socket, socket2]) answers.push((await pluginAt(s, '/VolumeDriver.Remove', { Name: 'race-1' })).body);
    expect(answers).toEqual([{ Err: '' }, { Err: '' }]);
    expect((await pluginAt(socket2, '/VolumeDriver.Get', { Name: 'race-1' })).body.Volume).toBeNull();
    // At the same time (the operator's `docker volume rm` on every node at once): all succeed.
    for (const name of ['race-2', 'race-3', 'race-4']) {
      const both = await Promise.all([socket, socket2].map((s) => pluginAt(s, '/VolumeDriver.Remove', { Name: name })));
      expect(both.map((a) => a.body), name).toEqual([{ Err: '' }, { Err: '' }]);
    }
    const left = (await polly.call('GET', '/v1/volumes?limit=1000', { token })).body.items as Array<{ name: string; status: string }>;
    expect(left.filter((v) => v.name.startsWith('race-') && v.status !== 'deleting' && v.status !== 'deleted').map((v) => v.name)).toEqual(['race-0']);
  });
});

describe('lazy unmount (a process still uses the volume when Docker unmounts it)', () => {
  // A block-backed pool (the volume has a filesystem of its own) and a directory pool (the volume is a
  // directory of the host's disk, which processes in other mount namespaces use too).
  it.each(['block-backed', 'default'])('%s: Unmount succeeds at once, but the volume stays attached here until the last user lets go', async (profile) => {
    const name = `lazy-${profile}`;
    expect((await plugin('/VolumeDriver.Create', { Name: name, Opts: { size: '16MiB', profile } })).body.Err).toBe('');
    const mounted = await plugin('/VolumeDriver.Mount', { Name: name, ID: 'c-lazy' });
    expect(mounted.body.Err).toBe('');
    const mountpoint = mounted.body.Mountpoint as string;
    await writeFile(join(mountpoint, 'kept-open'), 'x');
    // Another process keeps its working directory in the volume: a plain unmount is `target is busy`.
    const user = spawn('sleep', ['60'], { cwd: mountpoint, stdio: 'ignore' });
    const gone = new Promise<void>((resolve) => user.once('exit', () => resolve()));
    cleanup.add(async () => {
      if (user.exitCode === null && user.signalCode === null) user.kill('SIGKILL');
      await gone;
    });
    try {
      expect((await plugin('/VolumeDriver.Unmount', { Name: name, ID: 'c-lazy' })).body.Err).toBe('');
      expect(await isMountPoint(mountpoint)).toBe(false);
      // Still held by this node: its attachment is live, so no other node could be given the volume.
      const volumeId = running.agent.held().find((h) => h.name === name)?.volumeId;
      expect(volumeId).toBeDefined();
      const attachments = await polly.call('GET', `/v1/attachments?volume=${volumeId}`);
      expect((attachments.body as { items: unknown[] }).items).toHaveLength(1);
      // Remove waits for the release, then fails while the process still uses the volume.
      const busy = await plugin('/VolumeDriver.Remove', { Name: name });
      expect(busy.body.Err).toContain('still uses it');
      expect(running.agent.held().some((h) => h.name === name)).toBe(true);
    } finally {
      user.kill('SIGKILL');
      await gone;
    }
    // The last user is gone: the volume is detached, and Remove goes through.
    expect((await plugin('/VolumeDriver.Remove', { Name: name })).body.Err).toBe('');
    expect(running.agent.held().some((h) => h.name === name)).toBe(false);
    // Remove waits up to 10 s for the busy release before it answers: half the default timeout when idle,
    // past it on a loaded CI machine.
  }, 60_000);
});


describe('agent metrics (--metrics-listen)', () => {
  it('times every plugin call by method and outcome on the agent\'s own /metrics', async () => {
    const dir = await tempDir(cleanup);
    const sock = join(dir, 'plugins', 'metrics.sock');
    let address = '';
    const agent = await runAgent({ ...agentOptions(), nodeId: 'docker-metrics', stateDir: join(dir, 'agent'), dockerSocket: sock, metricsListen: '127.0.0.1:0', onMetricsListening: (a) => (address = a) });
    cleanup.add(() => agent.stop());
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const call = (path: string, body: unknown) =>
      new Promise<void>((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = httpRequest({ socketPath: sock, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(payload) } }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end(payload);
      });
    await call('/VolumeDriver.Capabilities', {});
    await call('/VolumeDriver.Get', { Name: 'no-such-volume' });
    await call('/VolumeDriver.Get', { Name: 'no-such-volume' });
    await call('/Scanner.Probe', {});
    const res = await fetch(`http://${address}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('polly_rpc_duration_seconds_count{frontend="docker",method="VolumeDriver.Capabilities",code="ok"} 1');
    expect(text).toContain('polly_rpc_duration_seconds_count{frontend="docker",method="VolumeDriver.Get",code="VOLUME_NOT_FOUND"} 2');
    expect(text).toContain('polly_rpc_duration_seconds_count{frontend="docker",method="unknown",code="NOT_FOUND"} 1');
    expect(text).toMatch(/polly_build_info\{version="[^"]+",node="docker-metrics"/);
    expect((await fetch(`http://${address}/other`)).status).toBe(404);
  });
});
