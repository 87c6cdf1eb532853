import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/run.js';
import { PUBLISH_CONTEXT } from '../../src/api/csi/controller-publish.js';
import type * as csi from '../../src/api/csi/proto.js';
import type { AccessMode } from '../../src/core/ports/driver.js';
import { CEPHFS_CONTEXT, CEPHFS_PARAMETERS, type CephfsDriver } from '../../src/drivers/cephfs/cephfs-driver.js';
import { createNodeHalf, DRIVER_PARAMETERS } from '../../src/drivers/registry.js';
import { nodeSecrets, redactParameters, secretParameterKeys } from '../../src/drivers/system/pool-parameters.js';
import { findMount, isMountPoint } from '../../src/drivers/system/mounts.js';
import { CsiClient, mountCap, secrets, startCsi } from '../api/csi/csi-harness.js';
import { newService } from '../helpers/polly.js';
import type { CephCluster } from '../helpers/ceph.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';
import { openCephfsPool } from './harnesses.js';

/** The cephfs driver on a private one-node Ceph with an MDS (started once for this file): what the contract suite does not cover. */

const MiB = 2 ** 20;
const cleanup = new Cleanup();
let ceph: CephCluster;
let parameters: Record<string, string>;
let driver: CephfsDriver;
let work: string;
const connector = (node: string) => ({ node, hostname: `${node}.test`, addresses: ['127.0.0.1'] });

beforeAll(async () => {
  const pool = await openCephfsPool(cleanup, 'cephfs-t');
  ceph = pool.ceph;
  parameters = pool.parameters;
  driver = pool.driver;
  work = await tempDir(cleanup);
  // Bring-up time with the MDS and the file system, for the notes.
  console.log(`ceph fixture (with MDS + CephFS) up in ${ceph.bringUpMs} ms`);
});
afterAll(() => cleanup.run());

/** A node half of its own (as an agent builds it: from redacted parameters), mounting from the controller's context. */
function nodeHalf(name: string) {
  const half = createNodeHalf('cephfs', { poolName: 'cephfs-t', parameters: redactParameters(CEPHFS_PARAMETERS, parameters), dataDir: join(work, name) });
  cleanup.add(async () => {
    for (const r of await half.node.listNodeResources()) await half.node.releaseNodeResources(r.backendId);
  });
  return {
    name,
    async mount(id: string, opts: { accessMode?: AccessMode; readOnly?: boolean } = {}) {
      const readOnly = opts.readOnly === true;
      const publishContext = await driver.attach({ backendId: id, volumeId: id, node: connector(name), accessMode: opts.accessMode ?? 'RWX', readOnly });
      const stagingPath = join(work, name, 'staging', id);
      const targetPath = join(work, name, 'target', id);
      await half.init();
      await half.node.stage({ backendId: id, volumeId: id, stagingPath, volumeMode: 'filesystem', readOnly, publishContext, secrets: nodeSecrets(CEPHFS_PARAMETERS, parameters) });
      await half.node.publish({ backendId: id, volumeId: id, stagingPath, targetPath, volumeMode: 'filesystem', readOnly });
      return {
        stagingPath,
        targetPath,
        async unmount() {
          await half.node.unpublish({ backendId: id, volumeId: id, targetPath });
          await half.node.unstage({ backendId: id, volumeId: id, stagingPath });
        },
      };
    },
    half,
  };
}

async function writeSynced(path: string, data: Buffer | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The errno name of a failed write (libuv has no name for EDQUOT, 122). */
async function writeError(path: string, data: Buffer | string): Promise<string | undefined> {
  try {
    await writeSynced(path, data);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.errno === -122 ? 'EDQUOT' : e.code;
  }
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Ceph's mgr volumes module is slow under load (a snapshot case took 60 s on a busy machine, 31 s quiet).
describe('cephfs driver on a private Ceph', { timeout: 180_000 }, () => {
  it('declares RWX and its keys secret; answers a publish context without a key; a node without the secret cannot mount', async () => {
    expect(driver.capabilities.accessModes).toContain('RWX');
    expect(driver.capabilities.block).toBe(false);
    expect(Object.fromEntries(secretParameterKeys(DRIVER_PARAMETERS.cephfs!))).toEqual({ key: 'server', nodeKey: 'node' });
    expect(redactParameters(CEPHFS_PARAMETERS, parameters)).toMatchObject({ key: '(secret)', nodeKey: '(secret)' });
    const id = 'vol-ctx';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const ctx = await driver.attach({ backendId: id, volumeId: id, node: connector('n0'), accessMode: 'RWX', readOnly: false });
    expect(ctx).toMatchObject({
      [CEPHFS_CONTEXT.fsName]: 'cephfs',
      [CEPHFS_CONTEXT.user]: 'polly-fs-node',
      [CEPHFS_CONTEXT.node]: 'n0',
      [CEPHFS_CONTEXT.path]: expect.stringMatching(/^\/volumes\/polly\/polly-volume-vol-ctx\//),
    });
    expect(JSON.stringify(ctx)).not.toContain(parameters.nodeKey!);
    expect(JSON.stringify(ctx)).not.toContain(parameters.key!);
    const half = createNodeHalf('cephfs', { poolName: 'cephfs-t', parameters: redactParameters(CEPHFS_PARAMETERS, parameters), dataDir: join(work, 'n0') });
    await half.init();
    await expect(
      half.node.stage({ backendId: id, volumeId: id, stagingPath: join(work, 'n0', 's'), volumeMode: 'filesystem', publishContext: ctx, secrets: {} }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('no Ceph key') });
    await driver.delete(id);
  });

  it('enforces the quota: a write past the size fails with EDQUOT, and after expansion the room is there', async () => {
    const id = 'vol-quota';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const n = nodeHalf('nq');
    const m = await n.mount(id);
    try {
      expect((await n.half.node.stats({ backendId: id, path: m.targetPath })).totalBytes).toBe(32 * MiB);
      // No key is left on the node once the client runs.
      const left = await readdir(join(work, 'nq', 'cephfs', 'cephfs-t', 'node', id), { recursive: true }).catch(() => []);
      expect(left.filter((f) => /keyring|secret/.test(String(f)))).toEqual([]);
      expect(await writeError(join(m.targetPath, 'fits.bin'), Buffer.alloc(24 * MiB, 1))).toBeUndefined();
      expect(await writeError(join(m.targetPath, 'over.bin'), Buffer.alloc(16 * MiB, 2))).toBe('EDQUOT');
      const grown = await driver.expand(id, 64 * MiB);
      expect(grown.sizeBytes).toBe(64 * MiB);
      await n.half.node.expand({ backendId: id, stagingPath: m.stagingPath, sizeBytes: grown.sizeBytes });
      expect((await n.half.node.stats({ backendId: id, path: m.targetPath })).totalBytes).toBe(64 * MiB);
      expect(await writeError(join(m.targetPath, 'over.bin'), Buffer.alloc(16 * MiB, 2))).toBeUndefined();
      expect(await writeError(join(m.targetPath, 'past-again.bin'), Buffer.alloc(40 * MiB, 3))).toBe('EDQUOT');
      // A mounted volume is not deleted under its clients.
      await expect(driver.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('nq') });
    } finally {
      await m.unmount();
    }
    await driver.delete(id);
    expect((await driver.list()).map((o) => o.backendId)).not.toContain(id);
  });

  it('snapshots are point in time, outlive their volume, and restore byte for byte', async () => {
    const id = 'vol-snap';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const n = nodeHalf('ns');
    const before = randomBytes(MiB);
    let m = await n.mount(id);
    await writeSynced(join(m.targetPath, 'a.bin'), before);
    const snap = await driver.snapshot(id, 'snap-one');
    expect(snap).toEqual({ backendId: 'snap-one', sizeBytes: 32 * MiB });
    await writeSynced(join(m.targetPath, 'a.bin'), randomBytes(MiB));
    await writeSynced(join(m.targetPath, 'b.bin'), 'after the snapshot');
    await m.unmount();
    // The volume goes; its snapshot stays, listed, and restores.
    await driver.delete(id);
    const listed = await driver.list();
    expect(listed).toContainEqual({ backendId: 'snap-one', kind: 'snapshot', sizeBytes: 32 * MiB });
    expect(listed.map((o) => o.backendId)).not.toContain(id);
    await expect(driver.create({ volumeId: 'vol-small', sizeBytes: 16 * MiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: 'snap-one' } })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    const restored = await driver.create({ volumeId: 'vol-restored', sizeBytes: 48 * MiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: 'snap-one' } });
    expect(restored.sizeBytes).toBe(48 * MiB);
    m = await n.mount('vol-restored');
    try {
      expect((await readFile(join(m.targetPath, 'a.bin'))).equals(before)).toBe(true);
      expect(await readdir(m.targetPath)).toEqual(['a.bin']);
      expect((await n.half.node.stats({ backendId: 'vol-restored', path: m.targetPath })).totalBytes).toBe(48 * MiB);
    } finally {
      await m.unmount();
    }
    await driver.deleteSnapshot('snap-one');
    await driver.deleteSnapshot('snap-one');
    expect((await driver.list()).map((o) => o.backendId)).not.toContain('snap-one');
    await driver.delete('vol-restored');
  });

  it('RWX: two node halves mount one volume at once; what one writes the other reads, both ways', async () => {
    const id = 'vol-rwx';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const a = nodeHalf('host-a');
    const b = nodeHalf('host-b');
    const ma = await a.mount(id);
    const mb = await b.mount(id);
    try {
      // Two clients, two mounts.
      expect((await findMount(ma.stagingPath))?.device).not.toBe((await findMount(mb.stagingPath))?.device);
      const data = randomBytes(2 * MiB);
      await writeSynced(join(ma.targetPath, 'from-a.bin'), data);
      expect((await readFile(join(mb.targetPath, 'from-a.bin'))).equals(data)).toBe(true);
      await writeSynced(join(mb.targetPath, 'from-b.txt'), 'hello from b');
      expect(await readFile(join(ma.targetPath, 'from-b.txt'), 'utf8')).toBe('hello from b');
      // Appends from both, interleaved, all seen by each.
      for (let i = 0; i < 3; i++) {
        for (const [who, target] of [['a', ma.targetPath], ['b', mb.targetPath]] as const) {
          const fh = await open(join(target, 'log'), 'a');
          await fh.appendFile(`${who}${i}\n`);
          await fh.sync();
          await fh.close();
        }
      }
      const log = await eventually(() => readFile(join(ma.targetPath, 'log'), 'utf8'), (s) => s.split('\n').length === 7);
      expect(log.split('\n').filter(Boolean).sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
      expect((await a.half.node.listNodeResources()).map((r) => r.backendId)).toEqual([id]);
    } finally {
      await ma.unmount();
      await mb.unmount();
    }
    await driver.delete(id);
  });

  it('a storage-side fence cuts one node off the volume; the other node keeps writing', async () => {
    const id = 'vol-fence';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const a = nodeHalf('fence-a');
    const b = nodeHalf('fence-b');
    const ma = await a.mount(id);
    const mb = await b.mount(id);
    try {
      await writeSynced(join(ma.targetPath, 'before.txt'), 'acknowledged');
      // The node's registered addresses: loopback and link-local ones name no client; IPv6 goes in brackets.
      const addresses = ['127.0.0.1', '::1', 'fe80::1%eth0', '192.0.2.7', '2001:db8::7'];
      await driver.storageFence.fenceNode({ backendId: id, node: 'fence-a', connector: { ...connector('fence-a'), addresses } });
      const blocklist = await ceph.ceph(['osd', 'blocklist', 'ls']);
      expect(blocklist).toMatch(/127\.0\.0\.1:0\/\d+/);
      expect(blocklist).toContain('192.0.2.7:0/0');
      expect(blocklist).toContain('[2001:db8::7]:0/0');
      expect(blocklist).not.toMatch(/fe80/i);
      expect(await writeError(join(ma.targetPath, 'after.txt'), 'must not land')).toBeDefined();
      await writeSynced(join(mb.targetPath, 'b-after.txt'), 'b still writes');
      expect((await readdir(mb.targetPath)).sort()).toEqual(['b-after.txt', 'before.txt']);
      expect(await readFile(join(mb.targetPath, 'before.txt'), 'utf8')).toBe('acknowledged');
    } finally {
      // The fenced node's client cannot flush: its release kills it.
      await a.half.node.releaseNodeResources(id);
      await mb.unmount();
    }
    expect(await a.half.node.listNodeResources()).toEqual([]);
    await driver.delete(id);
  });

  it('self-fence stops every writer of the volume on its node; a restarted node half finds what is left and releases it', async () => {
    const id = 'vol-self';
    await driver.create({ volumeId: id, sizeBytes: 32 * MiB, volumeMode: 'filesystem' });
    const a = nodeHalf('self-a');
    const b = nodeHalf('self-b');
    const ma = await a.mount(id);
    const mb = await b.mount(id);
    try {
      await writeSynced(join(ma.targetPath, 'kept.txt'), 'before the fence');
      // A writer that keeps its file open: the self-fence must stop it too, by killing the client. The caps
      // a killed client held stall the other clients until the MDS times its session out (session_timeout,
      // 60 s by default, 30 s at least; 30 s here).
      await ceph.ceph(['fs', 'set', 'cephfs', 'session_timeout', '30']);
      const open1 = await open(join(ma.targetPath, 'held-open.txt'), 'w');
      await open1.write('first line\n');
      await open1.sync();
      const fencedAt = Date.now();
      await a.half.node.selfFence({ backendId: id, volumeId: id, stagingPath: ma.stagingPath, targetPaths: [ma.targetPath], storageReadOnly: false });
      expect(await findMount(ma.targetPath)).toBeUndefined();
      expect(await findMount(ma.stagingPath)).toBeUndefined();
      expect(await a.half.node.listNodeResources()).toEqual([]);
      console.log(`cephfs self-fence took ${Date.now() - fencedAt} ms`);
      await expect(open1.write('after the fence\n').then(() => open1.sync())).rejects.toThrow();
      await open1.close().catch(() => undefined);
      const readAt = Date.now();
      expect(await readFile(join(mb.targetPath, 'kept.txt'), 'utf8')).toBe('before the fence');
      expect(await readFile(join(mb.targetPath, 'held-open.txt'), 'utf8')).toBe('first line\n');
      console.log(`cephfs: the other node read the killed client's files after ${Date.now() - readAt} ms`);
      // Node b is not touched.
      await writeSynced(join(mb.targetPath, 'b.txt'), 'still here');
      // A node half built afresh (an agent restarted) finds b's mount by its client, and releases it.
      const again = createNodeHalf('cephfs', { poolName: 'cephfs-t', parameters: redactParameters(CEPHFS_PARAMETERS, parameters), dataDir: join(work, 'self-b') });
      expect((await again.node.listNodeResources()).map((r) => r.backendId)).toEqual([id]);
      await again.node.releaseNodeResources(id);
      expect(await findMount(mb.targetPath)).toBeUndefined();
      expect(await findMount(mb.stagingPath)).toBeUndefined();
      expect(await again.node.listNodeResources()).toEqual([]);
    } finally {
      await a.half.node.releaseNodeResources(id);
      await b.half.node.releaseNodeResources(id);
    }
    await driver.delete(id);
  }, 120_000);

  it('through the server: two CSI nodes ControllerPublish one MULTI_NODE_MULTI_WRITER volume and stage it at once; one writes, the other reads', async () => {
    const h = await startCsi({ pools: [{ name: 'shared-fs', driver: 'cephfs', parameters }], profiles: [{ name: 'default' }] });
    cleanup.add(() => h.stop());
    const pool = await h.polly.call('GET', '/v1/pools/shared-fs');
    expect(pool.body.parameters).toMatchObject({ key: '(secret)', nodeKey: '(secret)', fsName: 'cephfs' });
    expect(pool.body.capabilities.accessModes).toContain('RWX');
    expect(JSON.stringify((await h.polly.call('GET', '/v1/pools')).body)).not.toContain(parameters.nodeKey!);
    const token = await newService(h.polly, 'kube');
    const dir = await tempDir(cleanup);
    const rwx = mountCap('MULTI_NODE_MULTI_WRITER');
    const nodes = ['fs-node-a', 'fs-node-b'];
    const agents = await Promise.all(
      nodes.map((nodeId) =>
        runAgent({
          serverUrl: h.polly.url,
          token,
          nodeId,
          hostname: `${nodeId}.test`,
          topology: {},
          stateDir: join(dir, nodeId, 'agent'),
          dataDir: join(dir, nodeId, 'agent-data'),
          heartbeatSeconds: 3600,
          csiSocket: join(dir, nodeId, 'node.sock'),
          log: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
        }),
      ),
    );
    const clients = nodes.map((n) => new CsiClient(`unix://${join(dir, n, 'node.sock')}`));
    try {
      const created = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
        name: 'shared-data',
        capacity_range: { required_bytes: 32 * MiB, limit_bytes: 0 },
        volume_capabilities: [rwx],
        parameters: {},
        secrets: secrets(token),
      });
      const volumeId = created.volume!.volume_id;
      const targets: string[] = [];
      for (const [i, nodeId] of nodes.entries()) {
        const pub = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
          volume_id: volumeId, node_id: nodeId, volume_capability: rwx, readonly: false, secrets: secrets(token), volume_context: {},
        });
        expect(pub.publish_context).toMatchObject({ [CEPHFS_CONTEXT.node]: nodeId, [CEPHFS_CONTEXT.user]: 'polly-fs-node', [PUBLISH_CONTEXT.attachment]: expect.any(String) });
        expect(JSON.stringify(pub.publish_context)).not.toContain(parameters.nodeKey!);
        const stagingPath = join(dir, nodeId, 'staging');
        const target = join(dir, nodeId, 'pods', 'p1', 'data');
        await clients[i]!.call('Node', 'NodeStageVolume', { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: stagingPath, volume_capability: rwx });
        await clients[i]!.call('Node', 'NodePublishVolume', {
          volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: stagingPath, target_path: target, volume_capability: rwx, readonly: false,
        });
        targets.push(target);
      }
      const atts = await h.polly.call('GET', `/v1/attachments?volume=${volumeId}`, { token });
      expect(atts.body.items.map((a: { node: string }) => a.node).sort()).toEqual(nodes);
      await writeFile(join(targets[0]!, 'from-a.txt'), 'written on node a');
      expect(await readFile(join(targets[1]!, 'from-a.txt'), 'utf8')).toBe('written on node a');
      await writeFile(join(targets[1]!, 'from-b.txt'), 'written on node b');
      expect(await readFile(join(targets[0]!, 'from-b.txt'), 'utf8')).toBe('written on node b');
      for (const [i, nodeId] of nodes.entries()) {
        await clients[i]!.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: targets[i] });
        await clients[i]!.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: join(dir, nodeId, 'staging') });
        expect(await isMountPoint(join(dir, nodeId, 'staging'))).toBe(false);
        await h.client.controller('ControllerUnpublishVolume', { volume_id: volumeId, node_id: nodeId, secrets: secrets(token) });
      }
      await h.client.controller('DeleteVolume', { volume_id: volumeId, secrets: secrets(token) });
      expect((await driver.list()).map((o) => o.backendId)).not.toContain(volumeId);
    } finally {
      for (const c of clients) c.close();
      for (const a of agents) await a.stop();
    }
  });
});
