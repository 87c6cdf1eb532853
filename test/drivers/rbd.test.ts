import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/run.js';
import { PUBLISH_CONTEXT } from '../../src/api/csi/controller-publish.js';
import type * as csi from '../../src/api/csi/proto.js';
import type { StageRequest } from '../../src/core/ports/driver.js';
import { RBD_CONTEXT, RBD_PARAMETERS, RbdDriver, rbdImageName } from '../../src/drivers/rbd/rbd-driver.js';
import { wholeHostEntry } from '../../src/drivers/rbd/rbd-fence.js';
import { blocklistEntryFor } from '../../src/drivers/rbd/ceph-client.js';
import { createNodeHalf } from '../../src/drivers/registry.js';
import { nodeSecrets, redactParameters } from '../../src/drivers/system/pool-parameters.js';
import { isMountPoint, readMountInfo } from '../../src/drivers/system/mounts.js';
import { killWritersOnDevice } from '../../src/drivers/system/fence.js';
import { type LoopDevice, listLoopDevices, loopDevicesFor } from '../../src/drivers/system/loop.js';
import { type CephCluster, startCephCluster } from '../helpers/ceph.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';
import { ManualClock, newService, startPolly } from '../helpers/polly.js';
import { CsiClient, MOUNT_RWO, secrets, startCsi } from '../api/csi/csi-harness.js';

/** The rbd driver on a private one-node Ceph (started once for this file): what the contract suite does not cover. */

const MiB = 2 ** 20;
const cleanup = new Cleanup();
let ceph: CephCluster;
let parameters: Record<string, string>;
let driver: RbdDriver;
let work: string;
const connector = (node: string) => ({ node, hostname: `${node}.test`, addresses: ['127.0.0.1'] });

beforeAll(async () => {
  ceph = await startCephCluster(cleanup);
  // Bring-up time, for the notes (15-20 s on this machine with memstore).
  console.log(`ceph fixture up in ${ceph.bringUpMs} ms`);
  const adminKey = (await ceph.ceph(['auth', 'print-key', 'client.admin'])).trim();
  const nodeUser = await ceph.createUser('polly-node', { mon: 'profile rbd', osd: `profile rbd pool=${ceph.rbdPool}` });
  parameters = { monHost: `[v2:${ceph.monAddress}]`, pool: ceph.rbdPool, key: adminKey, nodeUser: nodeUser.id, nodeKey: nodeUser.key, mapper: 'rbd-fuse' };
  work = await tempDir(cleanup);
  driver = new RbdDriver({ poolName: 'rbd-t', parameters, dataDir: join(work, 'server') });
  cleanup.add(() => driver.close());
  await driver.init();
});
afterAll(() => cleanup.run());

/** A node half of its own (as an agent builds it: from redacted parameters), staging from the controller's context. */
function nodeHalf(name: string) {
  const half = createNodeHalf('rbd', { poolName: 'rbd-t', parameters: redactParameters(RBD_PARAMETERS, parameters), dataDir: join(work, name) });
  // Whatever a failed test left mapped is released before the scratch dirs go (a FUSE unmount would wait for a hung client).
  cleanup.add(async () => {
    for (const r of await half.node.listNodeResources()) await half.node.releaseNodeResources(r.backendId);
  });
  return {
    async stage(id: string, extra: Partial<StageRequest> = {}) {
      const publishContext = await driver.attach({ backendId: id, volumeId: id, node: connector(name), accessMode: 'RWO', readOnly: false });
      const stagingPath = join(work, name, 'staging', id);
      await half.init();
      await half.node.stage({ backendId: id, volumeId: id, stagingPath, volumeMode: 'filesystem', fsType: 'ext4', publishContext, secrets: nodeSecrets(RBD_PARAMETERS, parameters), ...extra });
      return stagingPath;
    },
    unstage: (id: string, stagingPath: string) => half.node.unstage({ backendId: id, volumeId: id, stagingPath }),
    half,
  };
}

describe('rbd driver on a private Ceph', { timeout: 180_000 }, () => {
  it('answers a publish context without the key; a node without the node-scoped secret cannot map', async () => {
    const id = 'vol-ctx';
    await driver.create({ volumeId: id, sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const ctx = await driver.attach({ backendId: id, volumeId: id, node: connector('n0'), accessMode: 'RWO', readOnly: false });
    expect(ctx).toEqual({
      [RBD_CONTEXT.monHost]: parameters.monHost,
      [RBD_CONTEXT.pool]: ceph.rbdPool,
      [RBD_CONTEXT.image]: rbdImageName('volume', id),
      [RBD_CONTEXT.user]: 'polly-node',
      [RBD_CONTEXT.mapper]: 'rbd-fuse',
    });
    expect(JSON.stringify(ctx)).not.toContain(parameters.nodeKey!);
    const n = nodeHalf('n0');
    await expect(n.stage(id, { secrets: {} })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('no Ceph key') });
  });

  it('grows ext4 offline at the next stage after rbd resize (no online ext4 growth here)', async () => {
    const id = 'vol-ext4';
    await driver.create({ volumeId: id, sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const n = nodeHalf('n1');
    let staging = await n.stage(id);
    const data = randomBytes(4 * MiB);
    await writeFile(join(staging, 'keep.bin'), data);
    const before = await n.half.node.stats({ backendId: id, path: staging });
    await n.unstage(id, staging);
    expect(await driver.expand(id, 128 * MiB)).toEqual({ sizeBytes: 128 * MiB });
    staging = await n.stage(id);
    const after = await n.half.node.stats({ backendId: id, path: staging });
    expect(after.totalBytes).toBeGreaterThan(before.totalBytes + 50 * MiB);
    expect((await readFile(join(staging, 'keep.bin'))).equals(data)).toBe(true);
    await n.unstage(id, staging);
    expect(await n.half.node.listNodeResources()).toEqual([]);
  });

  it('sets the profile QoS as librbd image QoS at create, and changes it online', async () => {
    const id = 'vol-qos';
    await driver.create({ volumeId: id, sizeBytes: 64 * MiB, volumeMode: 'block', qos: { iops: 500, bandwidthBytes: 10 * MiB } });
    expect(await driver.qosOf(id)).toEqual({ rbd_qos_iops_limit: '500', rbd_qos_bps_limit: String(10 * MiB) });
    await driver.setQos(id, { iops: 100 });
    expect(await driver.qosOf(id)).toEqual({ rbd_qos_iops_limit: '100' });
    await driver.setQos(id, {});
    expect(await driver.qosOf(id)).toEqual({});
  });

  it('capacity comes from the pool statistics', async () => {
    const cap = await driver.capacity();
    const df = JSON.parse(await ceph.ceph(['df', '-f', 'json'])) as { pools: Array<{ name: string; stats: { max_avail: number } }> };
    const pool = df.pools.find((p) => p.name === ceph.rbdPool)!;
    expect(cap.freeBytes).toBeGreaterThan(0);
    expect(Math.abs(cap.freeBytes - pool.stats.max_avail)).toBeLessThan(64 * MiB);
    expect(cap.unknown).toBeUndefined();
  });

  it('storage fence: the blocklisted holder can no longer write, the next node maps the image and reads every acknowledged byte', async () => {
    const id = 'vol-fence';
    await driver.create({ volumeId: id, sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const a = nodeHalf('na');
    const stagingA = await a.stage(id);
    const acked = randomBytes(2 * MiB);
    const fh = await open(join(stagingA, 'acked.bin'), 'w');
    await fh.writeFile(acked);
    await fh.sync();
    await fh.close();

    await driver.storageFence.fenceNode({ backendId: id, node: 'na', connector: connector('na') });
    const blocklist = await ceph.ceph(['osd', 'blocklist', 'ls']);
    expect(blocklist).toMatch(/127\.0\.0\.1:0\/\d+/);

    // Node A's further writes fail: its client is cut off at the OSDs.
    const late = await open(join(stagingA, 'late.bin'), 'w').catch((err: unknown) => err);
    let failed = late instanceof Error;
    if (!failed) {
      const f = late as Awaited<ReturnType<typeof open>>;
      failed = await f
        .writeFile(randomBytes(MiB))
        .then(() => f.sync())
        .then(
          () => false,
          () => true,
        );
      await f.close().catch(() => undefined);
    }
    expect(failed).toBe(true);

    // Node B maps the image at once and sees every byte A acknowledged.
    const b = nodeHalf('nb');
    const stagingB = await b.stage(id);
    expect((await readFile(join(stagingB, 'acked.bin'))).equals(acked)).toBe(true);
    await writeFile(join(stagingB, 'b.txt'), 'B writes');
    await b.unstage(id, stagingB);
    // A's dead mapping is released (lazily: its client is gone).
    await a.half.node.releaseNodeResources(id);
    expect(await a.half.node.listNodeResources()).toEqual([]);
  });
});

describe('a hung rbd-fuse (a blocklisted client: alive, never answering)', () => {
  it('listing loop devices and killing writers still answer: no ioctl on the stuck device, no stat through its FUSE mount', async () => {
    const id = 'vol-hung';
    await driver.create({ volumeId: id, sizeBytes: 64 * MiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const h = nodeHalf('nh');
    const staging = await h.stage(id);
    const stagingDev = (await stat(staging)).dev;
    const fuseMount = (await readMountInfo()).find((m) => m.fsType === 'fuse.rbd-fuse' && m.mountPoint.startsWith(join(work, 'nh')));
    expect(fuseMount).toBeDefined();
    const imageFile = (await listLoopDevices()).find((d) => d.backingFile.startsWith(`${fuseMount!.mountPoint}/`))!.backingFile;
    const fusePid = (await processesNamed('rbd-fuse')).find((p) => p.argv.includes(fuseMount!.mountPoint))!.pid;
    // A process holding the image file open for writing through the FUSE mount.
    const writer = spawn('sh', ['-c', 'exec 3<>"$0"; echo ready; exec sleep 600', imageFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const writerGone = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    await new Promise<void>((resolve) => {
      writer.stdout.once('data', () => resolve());
    });
    process.kill(fusePid, 'SIGSTOP');
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      writer.kill('SIGKILL');
      process.kill(fusePid, 'SIGKILL');
      await writerGone;
    };
    cleanup.add(release);
    try {
      const withinSeconds = <T>(p: Promise<T>) => Promise.race([p, sleep(15_000).then(() => 'hung' as const)]);
      // The FUSE daemon answers nothing now: a stat of the image file would wait forever.
      const loops = await withinSeconds(listLoopDevices());
      expect(loops).not.toBe('hung');
      expect((loops as LoopDevice[]).some((d) => d.backingFile === imageFile)).toBe(true);
      expect(await withinSeconds(loopDevicesFor(join(work, 'no-such-image')))).toEqual([]);
      // Not the staging filesystem's writer: passed over without a stat (its mount is the FUSE one).
      expect(await withinSeconds(killWritersOnDevice(stagingDev))).toEqual([]);
      expect(writer.exitCode).toBeNull();
      // The FUSE mount's own writer is found by the mount's device number, and killed.
      const [major, minor] = fuseMount!.device.split(':').map(Number) as [number, number];
      const fuseDev = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
      expect(await withinSeconds(killWritersOnDevice(fuseDev))).toEqual([writer.pid]);
    } finally {
      await release();
    }
    // With the daemon gone its mapping is released.
    await h.half.node.releaseNodeResources(id);
    expect(await h.half.node.listNodeResources()).toEqual([]);
  }, 90_000);
});

async function processesNamed(name: string): Promise<Array<{ pid: number; argv: string[] }>> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if ((argv[0] ?? '').endsWith(name)) out.push({ pid: Number(entry), argv });
  }
  return out;
}

describe('storage fence: which node addresses are blocklisted', () => {
  it.each([
    ['10.20.30.40', '10.20.30.40:0/0'],
    ['2001:db8::7', '[2001:db8::7]:0/0'],
    ['fd00:1::2', '[fd00:1::2]:0/0'],
    ['127.0.0.1', undefined],
    ['::1', undefined],
    ['169.254.1.2', undefined],
    ['fe80::1c3f:9aff:fe01:2', undefined],
    ['FE80::1%eth0', undefined],
    ['febf::1', undefined],
    ['fe8::1', '[fe8::1]:0/0'],
    ['not-an-address', undefined],
  ])('%s → %s', (address, entry) => {
    expect(blocklistEntryFor(address)).toBe(entry);
  });

  it.each([
    ['10.20.30.40:0/3158', '10.20.30.40:0/0'],
    ['[2001:db8::7]:6800/12', '[2001:db8::7]:0/0'],
    ['10.20.30.40:0/0', '10.20.30.40:0/0'],
  ])('client instance %s is covered by the node entry %s (it needs no entry of its own)', (instance, entry) => {
    expect(wholeHostEntry(instance)).toBe(entry);
  });

  it('blocklists IPv4 and bracketed IPv6 node addresses at the real cluster, skips link-local ones, in one pass', async () => {
    const id = 'vol-fence-addrs';
    await driver.create({ volumeId: id, sizeBytes: 16 * MiB, volumeMode: 'block' });
    const addresses = ['127.0.0.1', '10.99.1.2', '2001:db8:99::2', 'fe80::99:1', '10.99.1.3'];
    const t0 = Date.now();
    await driver.storageFence.fenceNode({ backendId: id, node: 'nx', connector: { node: 'nx', hostname: 'nx.test', addresses } });
    console.log(`fence of ${addresses.length} addresses took ${Date.now() - t0} ms`);
    const listed = await ceph.ceph(['osd', 'blocklist', 'ls']);
    expect(listed).toContain('10.99.1.2:0/0');
    expect(listed).toContain('10.99.1.3:0/0');
    expect(listed).toContain('[2001:db8:99::2]:0/0');
    expect(listed).not.toMatch(/fe80/i);
    expect(listed).not.toMatch(/127\.0\.0\.1:0\/0\b/);
    for (const e of ['10.99.1.2:0/0', '10.99.1.3:0/0', '[2001:db8:99::2]:0/0']) await ceph.ceph(['osd', 'blocklist', 'rm', e]);
    await driver.delete(id);
  });
});

describe('CSI over rbd: ControllerPublish → NodeStage with publish_context', () => {
  it('carries the controller half\'s context to the node, which maps the image with the node-scoped key only', async () => {
    const h = await startCsi({
      pools: [{ name: 'ceph', driver: 'rbd', parameters }],
      profiles: [{ name: 'default', fsType: 'ext4' }],
    });
    cleanup.add(() => h.stop());
    // No API shows the secrets.
    const pool = await h.polly.call('GET', '/v1/pools/ceph');
    expect(pool.body.parameters).toMatchObject({ key: '(secret)', nodeKey: '(secret)', pool: ceph.rbdPool });
    expect(JSON.stringify((await h.polly.call('GET', '/v1/pools')).body)).not.toContain(parameters.key!);
    const token = await newService(h.polly, 'kube');
    const dir = await tempDir(cleanup);
    const running = await runAgent({
      serverUrl: h.polly.url,
      token,
      nodeId: 'rbd-node',
      hostname: 'rbd-node.test',
      topology: {},
      stateDir: join(dir, 'agent'),
      dataDir: join(dir, 'agent-data'),
      heartbeatSeconds: 3600,
      csiSocket: join(dir, 'node.sock'),
      log: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
    });
    const node = new CsiClient(`unix://${join(dir, 'node.sock')}`);
    try {
      const created = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
        name: 'pg-data',
        capacity_range: { required_bytes: 64 * MiB, limit_bytes: 0 },
        volume_capabilities: [MOUNT_RWO],
        parameters: {},
        secrets: secrets(token),
      });
      const volumeId = created.volume!.volume_id;
      const pub = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
        volume_id: volumeId, node_id: 'rbd-node', volume_capability: MOUNT_RWO, readonly: false, secrets: secrets(token), volume_context: {},
      });
      expect(pub.publish_context).toMatchObject({ [RBD_CONTEXT.pool]: ceph.rbdPool, [RBD_CONTEXT.user]: 'polly-node', [PUBLISH_CONTEXT.attachment]: expect.any(String) });
      expect(JSON.stringify(pub.publish_context)).not.toContain(parameters.nodeKey!);
      // The attachment row carries the context too (a service sees its own).
      const atts = await h.polly.call('GET', `/v1/attachments?volume=${volumeId}`, { token });
      expect(atts.body.items[0].publishContext).toMatchObject({ [RBD_CONTEXT.image]: expect.stringContaining(volumeId) });

      const stagingPath = join(dir, 'staging');
      await node.call('Node', 'NodeStageVolume', { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: stagingPath, volume_capability: MOUNT_RWO });
      expect(await isMountPoint(stagingPath)).toBe(true);
      const target = join(dir, 'pods', 'p1', 'data');
      await node.call('Node', 'NodePublishVolume', { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: stagingPath, target_path: target, volume_capability: MOUNT_RWO, readonly: false });
      await writeFile(join(target, 'hello.txt'), 'over rbd');
      // Nothing secret was left on the node.
      const leftover = await readFile(join(dir, 'agent', 'agent-state.json'), 'utf8').catch(() => '');
      expect(leftover).not.toContain(parameters.nodeKey!);
      await node.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
      await node.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: stagingPath });
      expect(await isMountPoint(stagingPath)).toBe(false);
      await h.client.controller('ControllerUnpublishVolume', { volume_id: volumeId, node_id: 'rbd-node', secrets: secrets(token) });
      await h.client.controller('DeleteVolume', { volume_id: volumeId, secrets: secrets(token) });
      expect((await driver.list()).map((o) => o.backendId)).not.toContain(volumeId);
    } finally {
      node.close();
      await running.stop();
    }
  });
});

describe('failover storage-fence over rbd (the server re-grants at once after blocklisting the silent holder)', () => {
  it('node A holds and writes, goes silent; node B is granted right at lease end (no clock-skew wait), reads every acknowledged byte; A cannot write', async () => {
    const clock = new ManualClock();
    const polly = await startPolly(
      {
        pools: [{ name: 'ceph', driver: 'rbd', parameters }],
        profiles: [{ name: 'ceph-rwo', fsType: 'ext4', accessModes: ['RWO'], pools: ['ceph'], failover: 'storage-fence' }],
      },
      { clock },
    );
    cleanup.add(() => polly.stop());
    await polly.call('POST', '/v1/services', { body: { name: 'db' } });
    for (const n of ['host-a', 'host-b']) {
      expect((await polly.call('POST', '/v1/nodes', { body: { id: n, hostname: n, connector: { addresses: ['127.0.0.1'] } } })).status).toBe(200);
    }
    const v = await polly.call('POST', '/v1/volumes', { body: { name: 'pg', sizeBytes: 64 * MiB, service: 'db', profile: 'ceph-rwo' } });
    expect(v.status).toBe(201);
    const id = v.body.id as string;
    const backendId = (await polly.server.app.ctx.store.db.selectFrom('volumes').select('backend_id').where('id', '=', id).executeTakeFirstOrThrow()).backend_id;

    // Node A stages from its attachment's publish context and the heartbeat's node-scoped secret.
    const a = await polly.call('POST', `/v1/volumes/${id}/attachments`, { body: { node: 'host-a', accessMode: 'RWO' } });
    expect(a.status).toBe(201);
    const hbA = await polly.call('POST', '/v1/nodes/host-a/heartbeat');
    const heldA = hbA.body.attachments.find((x: { id: string }) => x.id === a.body.id);
    expect(heldA.secrets).toEqual({ nodeKey: parameters.nodeKey });
    const halfA = createNodeHalf('rbd', { poolName: 'ceph', parameters: redactParameters(RBD_PARAMETERS, parameters), dataDir: join(work, 'host-a') });
    cleanup.add(async () => {
      for (const r of await halfA.node.listNodeResources()) await halfA.node.releaseNodeResources(r.backendId);
    });
    await halfA.init();
    const stagingA = join(work, 'host-a', 'staging');
    await halfA.node.stage({ backendId, volumeId: id, stagingPath: stagingA, volumeMode: 'filesystem', fsType: 'ext4', publishContext: heldA.publishContext, secrets: heldA.secrets });
    const acked = randomBytes(MiB);
    const fh = await open(join(stagingA, 'wal.bin'), 'w');
    await fh.writeFile(acked);
    await fh.sync();
    await fh.close();

    // A goes silent (no heartbeats). Before lease end (30 s) B waits; at lease end, B is granted.
    clock.advance(20);
    expect((await polly.call('POST', `/v1/volumes/${id}/attachments`, { body: { node: 'host-b', accessMode: 'RWO' } })).status).toBe(409);
    clock.advance(10);
    const started = Date.now();
    const b = await polly.call('POST', `/v1/volumes/${id}/attachments`, { body: { node: 'host-b', accessMode: 'RWO' } });
    expect(b.status).toBe(201);
    const takeoverMs = Date.now() - started;
    console.log(`storage-fenced re-grant took ${takeoverMs} ms`);
    expect(takeoverMs).toBeLessThan(5_000);
    const ev = (await polly.call('GET', '/v1/events?type=attachment.fenced')).body.items.find((e: { objectId: string }) => e.objectId === a.body.id);
    expect(ev.data).toMatchObject({ how: 'storage-fence', by: 'host-b' });

    // A's writes fail at the OSDs now.
    const late = await open(join(stagingA, 'late.bin'), 'w').then(
      async (f) => {
        const failed = await f.writeFile(randomBytes(MiB)).then(() => f.sync()).then(() => false, () => true);
        await f.close().catch(() => undefined);
        return failed;
      },
      () => true,
    );
    expect(late).toBe(true);

    // B maps the image and reads every byte A acknowledged.
    const hbB = await polly.call('POST', '/v1/nodes/host-b/heartbeat');
    const heldB = hbB.body.attachments.find((x: { id: string }) => x.id === b.body.id);
    const halfB = createNodeHalf('rbd', { poolName: 'ceph', parameters: redactParameters(RBD_PARAMETERS, parameters), dataDir: join(work, 'host-b') });
    await halfB.init();
    const stagingB = join(work, 'host-b', 'staging');
    await halfB.node.stage({ backendId, volumeId: id, stagingPath: stagingB, volumeMode: 'filesystem', fsType: 'ext4', publishContext: heldB.publishContext, secrets: heldB.secrets });
    expect((await readFile(join(stagingB, 'wal.bin'))).equals(acked)).toBe(true);
    await halfB.node.unstage({ backendId, volumeId: id, stagingPath: stagingB });
    await halfA.node.releaseNodeResources(backendId);
  });
});
