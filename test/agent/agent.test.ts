import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAgent } from '../../src/agent/agent.js';
import { isMountPoint } from '../../src/drivers/system/mounts.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const log = pino({ level: 'silent' });
const execFileP = promisify(execFile);

/** The pid of the `sleep` inside `unshare` once it runs in its own mount namespace. */
async function childPid(child: ChildProcess): Promise<number> {
  const self = await readlink('/proc/self/ns/mnt');
  for (let i = 0; i < 200; i++) {
    const ns = await readlink(`/proc/${child.pid}/ns/mnt`).catch(() => self);
    if (ns !== self) return child.pid!;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unshare did not start');
}

/** Whether the volume (anything but a fence's read-only tombstone) is mounted at `path` in that process's namespace. */
async function mountedIn(pid: number, path: string): Promise<boolean> {
  const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path && !l.includes(' - tmpfs polly-fenced '));
}

/** Runs `sh -c script` inside that process's mount namespace; answers the exit code and stderr. */
async function shIn(pid: number, script: string): Promise<{ code: number; stderr: string }> {
  try {
    await execFileP('nsenter', [`--mount=/proc/${pid}/ns/mnt`, '--', 'sh', '-c', script]);
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? '' };
  }
}
const cleanup = new Cleanup();
let polly: TestPolly;
let token: string;
let work: string;
let poolPath: string;

function agentFor(nodeId: string, stateDir: string): NodeAgent {
  return new NodeAgent({
    serverUrl: polly.url,
    token,
    nodeId,
    hostname: `${nodeId}.test`,
    topology: { zone: 'z1' },
    stateDir,
    dataDir: polly.dataDir,
    heartbeatSeconds: 3600,
    log,
  });
}

async function newVolume(name: string): Promise<{ id: string; backendId: string }> {
  const res = await polly.call('POST', '/v1/volumes', { token, body: { name, sizeBytes: 1 << 20 } });
  expect(res.status).toBe(201);
  return { id: res.body.id, backendId: res.body.id };
}

beforeAll(async () => {
  work = await tempDir(cleanup);
  poolPath = join(work, 'pool');
  polly = await startPolly({ pools: [{ name: 'shared', driver: 'local', path: poolPath, topology: { shared: true } }] });
  cleanup.add(() => polly.stop());
  token = await newService(polly, 'agents');
  // Registered after the server: mounts under the agents' directories go first.
  work = await tempDir(cleanup);
});
afterAll(async () => {
  await cleanup.run();
});

describe('node agent on a local pool (real bind mounts)', () => {
  it('registers, attaches, stages and publishes; the data lands in the volume', async () => {
    const agent = agentFor('agent-a', join(work, 'a'));
    await agent.start();
    try {
      const nodes = await polly.call('GET', '/v1/nodes', { token });
      expect(nodes.body.items.map((n: { id: string }) => n.id)).toContain('agent-a');
      const v = await newVolume('data-1');
      const held = await agent.attach(v.id, 'RWO');
      expect(held.fencingToken).toBeGreaterThan(0);
      const target = join(work, 'targets', 'c1');
      await agent.publish(v.id, target, false);
      expect(await isMountPoint(target)).toBe(true);
      await writeFile(join(target, 'hello'), 'hi');
      expect(await readFile(join(poolPath, 'volumes', v.backendId, 'hello'), 'utf8')).toBe('hi');
      // Idempotent.
      await agent.publish(v.id, target, false);
      await agent.unpublish(v.id, target);
      expect(await isMountPoint(target)).toBe(false);
      await agent.detach(v.id);
      expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body.status).toBe('available');
    } finally {
      await agent.stop();
    }
  });

  it('drops the mount once its attachment is fenced (stale token)', async () => {
    const agent = agentFor('agent-f', join(work, 'f'));
    await agent.start();
    try {
      const v = await newVolume('fenced-1');
      const held = await agent.attach(v.id, 'RWO');
      const target = join(work, 'targets', 'fenced');
      await agent.publish(v.id, target, false);
      expect(await isMountPoint(target)).toBe(true);
      // The admin fences the holder; another node then takes the volume.
      expect((await polly.call('DELETE', `/v1/attachments/${held.attachmentId}?force=true`)).status).toBe(204);
      await polly.call('POST', '/v1/nodes', { body: { id: 'other', hostname: 'other.test' } });
      const other = await polly.call('POST', `/v1/volumes/${v.id}/attachments`, { token, body: { node: 'other', accessMode: 'RWO' } });
      expect(other.status).toBe(201);
      expect(other.body.fencingToken).toBeGreaterThan(held.fencingToken);
      await agent.sync();
      expect(await isMountPoint(target)).toBe(false);
      expect(agent.held()).toEqual([]);
      await polly.call('DELETE', `/v1/attachments/${other.body.id}`, { token });
    } finally {
      await agent.stop();
    }
  });

  it('on restart restores justified mounts and releases the ones no attachment justifies', async () => {
    const stateDir = join(work, 'r');
    const first = agentFor('agent-r', stateDir);
    await first.start();
    const kept = await newVolume('kept-1');
    const orphan = await newVolume('orphan-1');
    const keptTarget = join(work, 'targets', 'kept');
    const orphanTarget = join(work, 'targets', 'orphan');
    try {
      await first.attach(kept.id, 'RWO');
      await first.publish(kept.id, keptTarget, false);
      await first.attach(orphan.id, 'RWO');
      await first.publish(orphan.id, orphanTarget, true);
    } finally {
      await first.stop();
    }
    // While the agent is down: the orphan's attachment is ended elsewhere (its mount stays behind), and
    // the kept volume's mount is lost (a reboot).
    const orphanAtt = (await polly.call('GET', `/v1/attachments?volume=${orphan.id}`, { token })).body.items[0];
    expect((await polly.call('DELETE', `/v1/attachments/${orphanAtt.id}?force=true`)).status).toBe(204);
    const { unmountAll } = await import('../../src/drivers/system/mounts.js');
    await unmountAll(keptTarget);
    expect(await isMountPoint(keptTarget)).toBe(false);
    expect(await isMountPoint(orphanTarget)).toBe(true);

    const second = agentFor('agent-r', stateDir);
    await second.start();
    try {
      expect(await isMountPoint(keptTarget)).toBe(true);
      expect(await isMountPoint(orphanTarget)).toBe(false);
      expect(second.held().map((h) => h.volumeId)).toEqual([kept.id]);
      await second.unpublish(kept.id, keptTarget);
      await second.detach(kept.id);
    } finally {
      await second.stop();
    }
  });

  it('self-fences at its own deadline (lease − margin since the last good renewal), in every mount namespace, and reports it', async () => {
    let now = Date.now();
    const agent = new NodeAgent({
      serverUrl: polly.url,
      token,
      nodeId: 'agent-sf',
      hostname: 'agent-sf.test',
      topology: {},
      stateDir: join(work, 'sf'),
      dataDir: polly.dataDir,
      heartbeatSeconds: 3600,
      log,
      now: () => now,
    });
    await agent.start();
    const v = await newVolume('selffence-1');
    const target = join(work, 'targets', 'selffence');
    // A "container": a process in its own mount namespace that inherited the published bind mount.
    let container: ChildProcess | undefined;
    try {
      const held = await agent.attach(v.id, 'RWO');
      await agent.publish(v.id, target, false);
      container = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
      const pid = await childPid(container);
      expect(await mountedIn(pid, target)).toBe(true);
      const client = agent.client as unknown as { call: unknown };
      const realCall = client.call;
      client.call = async () => {
        throw new Error('network down');
      };
      // Lease 30 s, margin 5 s (the test server's defaults): at 24 s nothing happens…
      now += 24_000;
      expect(await agent.checkDeadline()).toBe(false);
      expect(await isMountPoint(target)).toBe(true);
      // …at 25 s the agent fences itself, although no heartbeat failed in between.
      now += 1_000;
      expect(await agent.checkDeadline()).toBe(true);
      expect(await isMountPoint(target)).toBe(false);
      expect(await mountedIn(pid, target)).toBe(false);
      // The container's writes fail (a read-only tombstone sits where the volume was) and never reach it.
      const late = await shIn(pid, `echo late > ${target}/late.txt`);
      expect(late.code).not.toBe(0);
      // EROFS where the tombstone stays; ENOENT where the agent removed the shared mountpoint directory.
      expect(late.stderr).toMatch(/read-only|nonexistent|no such file/i);
      await expect(readFile(join(poolPath, 'volumes', v.backendId, 'late.txt'))).rejects.toThrow();
      expect(agent.held()).toEqual([]);
      // Reachable again: the report goes out first, and the server ends the attachment as self-fenced.
      client.call = realCall;
      await agent.sync();
      const a = await polly.call('GET', `/v1/attachments/${held.attachmentId}`, { token });
      expect(a.body.status).toBe('fenced');
      const events = await polly.call('GET', '/v1/events?type=attachment.fenced', { token });
      const ev = events.body.items.find((e: { objectId: string }) => e.objectId === held.attachmentId);
      expect(ev.data).toMatchObject({ how: 'self-fence', beforeDeadline: true });
    } finally {
      container?.kill('SIGKILL');
      await agent.stop();
    }
  });

  it('lets go of its mounts when heartbeats fail for longer than the lease', async () => {
    let now = Date.now();
    const agent = new NodeAgent({
      serverUrl: polly.url,
      token,
      nodeId: 'agent-l',
      hostname: 'agent-l.test',
      topology: {},
      stateDir: join(work, 'l'),
      dataDir: polly.dataDir,
      heartbeatSeconds: 3600,
      log,
      now: () => now,
    });
    await agent.start();
    const v = await newVolume('lapse-1');
    const target = join(work, 'targets', 'lapse');
    try {
      await agent.attach(v.id, 'RWO');
      await agent.publish(v.id, target, false);
      // The node loses the server: a heartbeat fails but the lease still runs — keep the mount.
      const client = agent.client as unknown as { call: unknown };
      const realCall = client.call;
      client.call = async () => {
        throw new Error('network down');
      };
      now += 10_000;
      await expect(agent.sync()).rejects.toThrow('network down');
      expect(await isMountPoint(target)).toBe(true);
      now += 25_000; // past the 30 s lease since the last good heartbeat
      await expect(agent.sync()).rejects.toThrow('network down');
      expect(await isMountPoint(target)).toBe(false);
      expect(agent.held()).toEqual([]);
      client.call = realCall;
    } finally {
      await agent.stop();
    }
  });

  it('a restarted agent fences what it no longer holds in every mount namespace of the host, containers\' included', async () => {
    const stateDir = join(work, 'rf');
    const first = agentFor('agent-rf', stateDir);
    await first.start();
    const v = await newVolume('restart-fence-1');
    const target = join(work, 'targets', 'restart-fence');
    let container: ChildProcess | undefined;
    try {
      const held = await first.attach(v.id, 'RWO');
      await first.publish(v.id, target, false);
      container = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
      const pid = await childPid(container);
      expect(await mountedIn(pid, target)).toBe(true);
      await first.stop();
      // While the agent is down an operator fences the node's attachment (another node may take it);
      // the agent's own mount is lost (a reboot of the agent's namespace, say) but the container's stays.
      expect((await polly.call('DELETE', `/v1/attachments/${held.attachmentId}?force=true`)).status).toBe(204);
      const { unmountAll } = await import('../../src/drivers/system/mounts.js');
      await unmountAll(target);
      expect(await mountedIn(pid, target)).toBe(true);
      expect((await shIn(pid, `echo early > ${target}/early.txt`)).code).toBe(0);

      const second = agentFor('agent-rf', stateDir);
      await second.start();
      try {
        expect(second.held()).toEqual([]);
        expect(await mountedIn(pid, target)).toBe(false);
        const late = await shIn(pid, `echo late > ${target}/late.txt`);
        expect(late.code).not.toBe(0);
        await expect(readFile(join(poolPath, 'volumes', v.backendId, 'late.txt'))).rejects.toThrow();
        expect(await readFile(join(poolPath, 'volumes', v.backendId, 'early.txt'), 'utf8')).toBe('early\n');
      } finally {
        await second.stop();
      }
    } finally {
      container?.kill('SIGKILL');
    }
  });

  it('a volume whose stage fails is not left attached: the attachment is rolled back', async () => {
    const other = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
    try {
      const tok = await newService(other, 'rollback');
      const agent = new NodeAgent({ serverUrl: other.url, token: tok, nodeId: 'agent-rb', hostname: 'agent-rb.test', topology: {}, stateDir: join(work, 'rb'), dataDir: other.dataDir, heartbeatSeconds: 3600, log });
      await agent.start();
      try {
        const res = await other.call('POST', '/v1/volumes', { token: tok, body: { name: 'no-stage', sizeBytes: 1 << 20 } });
        expect(res.status).toBe(201);
        // The agent's own driver of the pool (built last) fails to stage, as one that cannot see the pool.
        const { fakeDriverFor } = await import('../../src/drivers/fake/fake-driver.js');
        const { PollyError } = await import('../../src/core/errors.js');
        fakeDriverFor('mem')!.failNext('node.stage', new PollyError('UNAVAILABLE', 'pool mem is not usable on node agent-rb'));
        await expect(agent.attach(res.body.id, 'RWO')).rejects.toThrow(/not usable/);
        expect((await other.call('GET', `/v1/attachments?volume=${res.body.id}`, { token: tok })).body.items).toEqual([]);
        expect((await other.call('GET', `/v1/volumes/${res.body.id}`, { token: tok })).body.status).toBe('available');
        expect((await other.call('DELETE', `/v1/volumes/${res.body.id}`, { token: tok })).status).toBe(204);
      } finally {
        await agent.stop();
      }
    } finally {
      await other.stop();
    }
  });

  it('a bind mount of a pool volume left by nobody is released at start', async () => {
    const v = await newVolume('stray-1');
    const stray = join(work, 'targets', 'stray');
    await mkdir(stray, { recursive: true });
    const { bindMount } = await import('../../src/drivers/system/mounts.js');
    await bindMount(join(poolPath, 'volumes', v.backendId), stray, { readOnly: false });
    expect(await isMountPoint(stray)).toBe(true);
    const agent = agentFor('agent-s', join(work, 's'));
    await agent.start();
    await agent.stop();
    expect(await isMountPoint(stray)).toBe(false);
  });
});
