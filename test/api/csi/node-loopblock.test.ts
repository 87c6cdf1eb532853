import { status } from '@grpc/grpc-js';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent, type RunAgentOptions } from '../../../src/agent/run.js';
import { PUBLISH_CONTEXT } from '../../../src/api/csi/controller-publish.js';
import type * as csi from '../../../src/api/csi/proto.js';
import { loopDevicesFor } from '../../../src/drivers/system/loop.js';
import { isMountPoint } from '../../../src/drivers/system/mounts.js';
import { Cleanup, createLoopFs, tempDir } from '../../helpers/loopfs.js';
import { newService } from '../../helpers/polly.js';
import { BLOCK_RWO, CsiClient, expectCode, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const MiB = 2 ** 20;
const cleanup = new Cleanup();
let h: CsiHarness;
let token: string;
let work: string;
let poolPath: string;
let agentOpts: RunAgentOptions;

beforeAll(async () => {
  const fs = await createLoopFs(cleanup, { fsType: 'ext4', sizeBytes: 512 * MiB });
  poolPath = join(fs.path, 'pool');
  await mkdir(poolPath);
  h = await startCsi({
    pools: [{ name: 'lb', driver: 'loopblock', path: poolPath }],
    profiles: [{ name: 'default', fsType: 'ext4' }, { name: 'raw', volumeMode: 'block' }],
  });
  cleanup.add(() => h.stop());
  token = await newService(h.polly, 'kube');
  work = await tempDir(cleanup);
  agentOpts = {
    serverUrl: h.polly.url,
    token,
    nodeId: 'lb-node',
    hostname: 'lb-node.test',
    topology: {},
    stateDir: join(work, 'agent'),
    dataDir: h.polly.dataDir,
    heartbeatSeconds: 3600,
    csiSocket: join(work, 'node.sock'),
    log: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
  };
});
afterAll(async () => {
  await cleanup.run();
});

async function withAgent<T>(fn: (agent: RunningAgent, node: CsiClient) => Promise<T>): Promise<T> {
  const running = await runAgent(agentOpts);
  const node = new CsiClient(`unix://${agentOpts.csiSocket!}`);
  try {
    return await fn(running, node);
  } finally {
    node.close();
    await running.stop();
  }
}

async function createAndPublish(name: string, cap: csi.VolumeCapability, profile?: string) {
  const created = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name,
    capacity_range: { required_bytes: 32 * MiB, limit_bytes: 0 },
    volume_capabilities: [cap],
    parameters: profile ? { profile } : {},
    secrets: secrets(token),
  });
  const volumeId = created.volume!.volume_id;
  const pub = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
    volume_id: volumeId, node_id: 'lb-node', volume_capability: cap, readonly: false, secrets: secrets(token), volume_context: {},
  });
  return { volumeId, publishContext: pub.publish_context };
}

describe('CSI Node on a loopblock pool (loop devices, ext4, raw block)', () => {
  it('raw block: stage attaches a loop device, publish binds it to a file target', async () => {
    await withAgent(async (_agent, node) => {
      const { volumeId, publishContext } = await createAndPublish('raw-1', BLOCK_RWO, 'raw');
      const stageReq = { volume_id: volumeId, publish_context: publishContext, staging_target_path: join(work, 'st-raw'), volume_capability: BLOCK_RWO };
      // A mount capability for a block volume is refused.
      await expectCode(node.call('Node', 'NodeStageVolume', { ...stageReq, volume_capability: MOUNT_RWO }), status.INVALID_ARGUMENT);
      await node.call('Node', 'NodeStageVolume', stageReq);
      const target = join(work, 'pods', 'raw', 'dev');
      await node.call('Node', 'NodePublishVolume', { ...stageReq, target_path: target, readonly: false });
      expect((await stat(target)).isBlockDevice()).toBe(true);
      const fh = await open(target, 'r+');
      try {
        await fh.write(Buffer.from('block-bytes'), 0, 11, 4096);
        await fh.sync();
        const buf = Buffer.alloc(11);
        await fh.read(buf, 0, 11, 4096);
        expect(buf.toString()).toBe('block-bytes');
      } finally {
        await fh.close();
      }
      await node.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
      await node.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: stageReq.staging_target_path });
      expect(await loopDevicesFor(join(poolPath, 'volumes', `${volumeId}.img`))).toEqual([]);
      await h.client.controller('ControllerUnpublishVolume', { volume_id: volumeId, node_id: 'lb-node', secrets: secrets(token) });
    });
  });

  it('NodeStage checks the capability before it touches anything, and stages at staging_target_path', async () => {
    await withAgent(async (agent, node) => {
      // Published after the agent started, so that only NodeStage can stage it.
      const raw = await createAndPublish('raw-check', BLOCK_RWO, 'raw');
      const rawImage = join(poolPath, 'volumes', `${raw.volumeId}.img`);
      const rawReq = { volume_id: raw.volumeId, publish_context: raw.publishContext, staging_target_path: join(work, 'st-raw-check'), volume_capability: MOUNT_RWO };
      await expectCode(node.call('Node', 'NodeStageVolume', rawReq), status.INVALID_ARGUMENT);
      expect(await loopDevicesFor(rawImage)).toEqual([]);
      expect(agent.agent.heldVolume(raw.volumeId)).toBeUndefined();

      const fs = await createAndPublish('fs-at-path', MOUNT_RWO);
      const stagingPath = join(work, 'st-fs-at-path');
      await mkdir(stagingPath, { recursive: true });
      const fsReq = { volume_id: fs.volumeId, publish_context: fs.publishContext, staging_target_path: stagingPath, volume_capability: MOUNT_RWO };
      await node.call('Node', 'NodeStageVolume', fsReq);
      expect(await isMountPoint(stagingPath)).toBe(true);
      expect(agent.agent.heldVolume(fs.volumeId)?.stagingPath).toBe(stagingPath);
      await node.call('Node', 'NodeStageVolume', fsReq);
      await node.call('Node', 'NodeUnstageVolume', { volume_id: fs.volumeId, staging_target_path: stagingPath });
      expect(await isMountPoint(stagingPath)).toBe(false);
      for (const v of [raw, fs]) await h.client.controller('ControllerUnpublishVolume', { volume_id: v.volumeId, node_id: 'lb-node', secrets: secrets(token) });
    });
  });

  it('an agent restarted after its attachment was fenced releases the loop device and mount; a justified one is restored', async () => {
    const fenced = await createAndPublish('fs-fenced', MOUNT_RWO);
    const kept = await createAndPublish('fs-kept', MOUNT_RWO);
    const targets = { fenced: join(work, 'pods', 'f', 'mount'), kept: join(work, 'pods', 'k', 'mount') };
    await withAgent(async (_agent, node) => {
      for (const [key, v] of [['fenced', fenced], ['kept', kept]] as const) {
        const req = { volume_id: v.volumeId, publish_context: v.publishContext, staging_target_path: join(work, `st-${key}`), volume_capability: MOUNT_RWO };
        await node.call('Node', 'NodeStageVolume', req);
        await node.call('Node', 'NodePublishVolume', { ...req, target_path: targets[key], readonly: false });
        await writeFile(join(targets[key], 'data'), key);
      }
    });
    // The agent is down; its mounts and loop devices stay. Meanwhile the admin fences one attachment.
    const fencedImage = join(poolPath, 'volumes', `${fenced.volumeId}.img`);
    expect(await loopDevicesFor(fencedImage)).toHaveLength(1);
    expect(await isMountPoint(targets.fenced)).toBe(true);
    const att = fenced.publishContext[PUBLISH_CONTEXT.attachment]!;
    expect((await h.polly.call('DELETE', `/v1/attachments/${att}?force=true`)).status).toBe(204);

    await withAgent(async (agent) => {
      expect(await isMountPoint(targets.fenced)).toBe(false);
      expect(await loopDevicesFor(fencedImage)).toEqual([]);
      expect(await isMountPoint(targets.kept)).toBe(true);
      expect(await readFile(join(targets.kept, 'data'), 'utf8')).toBe('kept');
      expect(agent.agent.held().map((x) => x.volumeId)).toEqual([kept.volumeId]);
      await agent.agent.unpublish(kept.volumeId, targets.kept);
      await agent.agent.detach(kept.volumeId);
      expect(await loopDevicesFor(join(poolPath, 'volumes', `${kept.volumeId}.img`))).toEqual([]);
    });
  });
});
