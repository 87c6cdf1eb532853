import { status } from '@grpc/grpc-js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent } from '../../../src/agent/run.js';
import { PUBLISH_CONTEXT } from '../../../src/api/csi/controller-publish.js';
import type * as csi from '../../../src/api/csi/proto.js';
import { isMountPoint } from '../../../src/drivers/system/mounts.js';
import { Cleanup, tempDir } from '../../helpers/loopfs.js';
import { newService } from '../../helpers/polly.js';
import { CsiClient, expectCode, mountCap, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const cleanup = new Cleanup();
let h: CsiHarness;
let token: string;
let running: RunningAgent;
let node: CsiClient;
let work: string;

beforeAll(async () => {
  const poolDir = await tempDir(cleanup);
  h = await startCsi({ pools: [{ name: 'shared', driver: 'local', path: join(poolDir, 'pool'), topology: { zone: 'z1', shared: true } }] });
  cleanup.add(() => h.stop());
  token = await newService(h.polly, 'kube');
  work = await tempDir(cleanup);
  running = await runAgent({
    serverUrl: h.polly.url,
    token,
    nodeId: 'worker-1',
    hostname: 'worker-1.test',
    topology: { zone: 'z1' },
    stateDir: join(work, 'agent'),
    dataDir: h.polly.dataDir,
    heartbeatSeconds: 3600,
    csiSocket: join(work, 'node.sock'),
    log: pino({ level: 'silent' }),
  });
  cleanup.add(() => running.stop());
  node = new CsiClient(`unix://${join(work, 'node.sock')}`);
  cleanup.add(async () => node.close());
  await h.polly.call('POST', '/v1/nodes', { token, body: { id: 'worker-2', hostname: 'worker-2.test', topology: { zone: 'z1' } } });
});
afterAll(async () => {
  await cleanup.run();
});

const nodeCall = <T>(method: string, req: object = {}) => node.call<T>('Node', method, req);

async function createVolume(name: string): Promise<string> {
  const res = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name,
    capacity_range: { required_bytes: 1 << 20, limit_bytes: 0 },
    volume_capabilities: [MOUNT_RWO],
    secrets: secrets(token),
  });
  return res.volume!.volume_id;
}

describe('CSI Node on the agent, with ControllerPublish mapped to attachments', () => {
  it('Identity, NodeGetInfo (with the zone) and NodeGetCapabilities', async () => {
    const info = await node.call<csi.GetPluginInfoResponse>('Identity', 'GetPluginInfo', {});
    expect(info.name).toBe('polly.csi.dev');
    // Every instance of the plugin answers the same capabilities (CSI spec): the node's as the controller's.
    const nodeCaps = await node.call<csi.GetPluginCapabilitiesResponse>('Identity', 'GetPluginCapabilities', {});
    const controllerCaps = await h.client.call<csi.GetPluginCapabilitiesResponse>('Identity', 'GetPluginCapabilities', {});
    expect(nodeCaps.capabilities).toEqual(controllerCaps.capabilities);
    expect(nodeCaps.capabilities.map((c) => c.service?.type)).toContain('CONTROLLER_SERVICE');
    const ni = await nodeCall<{ node_id: string; accessible_topology: { segments: Record<string, string> } }>('NodeGetInfo');
    expect(ni.node_id).toBe('worker-1');
    expect(ni.accessible_topology.segments).toEqual({ 'topology.polly.csi.dev/zone': 'z1', 'topology.polly.csi.dev/node': 'worker-1' });
    const caps = await nodeCall<{ capabilities: Array<{ rpc: { type: string } }> }>('NodeGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc.type).sort()).toEqual(['EXPAND_VOLUME', 'GET_VOLUME_STATS', 'STAGE_UNSTAGE_VOLUME']);
  });

  it('publish → stage → publish → stats → expand → unpublish → unstage → unpublish, each idempotent', async () => {
    const volumeId = await createVolume('pvc-1');
    const pubReq = { volume_id: volumeId, node_id: 'worker-1', volume_capability: MOUNT_RWO, readonly: false, secrets: secrets(token), volume_context: {} };
    const pub = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', pubReq);
    expect(pub.publish_context[PUBLISH_CONTEXT.attachment]).toMatch(/^att/);
    const again = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', pubReq);
    expect(again.publish_context).toEqual(pub.publish_context);
    // RWO on another node: FAILED_PRECONDITION; incompatible on the same node: ALREADY_EXISTS.
    await expectCode(h.client.controller('ControllerPublishVolume', { ...pubReq, node_id: 'worker-2' }), status.FAILED_PRECONDITION);
    await expectCode(h.client.controller('ControllerPublishVolume', { ...pubReq, readonly: true }), status.ALREADY_EXISTS);
    await expectCode(h.client.controller('ControllerPublishVolume', { ...pubReq, node_id: 'nowhere' }), status.NOT_FOUND);
    await expectCode(h.client.controller('ControllerPublishVolume', { ...pubReq, volume_id: 'vol-nope' }), status.NOT_FOUND);

    const staging = join(work, 'kubelet', 'staging', 'pvc-1');
    const target = join(work, 'kubelet', 'pods', 'p1', 'mount');
    const stageReq = { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: staging, volume_capability: MOUNT_RWO };
    // Publish before stage is refused.
    await expectCode(
      nodeCall('NodePublishVolume', { ...stageReq, target_path: target, readonly: false }),
      status.FAILED_PRECONDITION,
    );
    await nodeCall('NodeStageVolume', stageReq);
    await nodeCall('NodeStageVolume', stageReq);
    await nodeCall('NodePublishVolume', { ...stageReq, target_path: target, readonly: false });
    await nodeCall('NodePublishVolume', { ...stageReq, target_path: target, readonly: false });
    expect(await isMountPoint(target)).toBe(true);
    await writeFile(join(target, 'data'), 'persisted');
    // The same target read-only is a conflicting repeat.
    await expectCode(nodeCall('NodePublishVolume', { ...stageReq, target_path: target, readonly: true }), status.ALREADY_EXISTS);
    // A second, read-only target of the same volume.
    const roTarget = join(work, 'kubelet', 'pods', 'p2', 'mount');
    await nodeCall('NodePublishVolume', { ...stageReq, target_path: roTarget, readonly: true });
    expect(await readFile(join(roTarget, 'data'), 'utf8')).toBe('persisted');
    await expect(writeFile(join(roTarget, 'nope'), 'x')).rejects.toThrow(/EROFS|read-only/);

    const stats = await nodeCall<{ usage: Array<{ unit: string; total: number; used: number }> }>('NodeGetVolumeStats', { volume_id: volumeId, volume_path: target });
    expect(stats.usage.find((u) => u.unit === 'BYTES')!.total).toBeGreaterThan(0);
    await expectCode(nodeCall('NodeGetVolumeStats', { volume_id: volumeId, volume_path: join(work, 'missing') }), status.NOT_FOUND);
    await expectCode(nodeCall('NodeGetVolumeStats', { volume_id: 'vol-nope', volume_path: target }), status.NOT_FOUND);
    const grown = await nodeCall<{ capacity_bytes: number }>('NodeExpandVolume', { volume_id: volumeId, volume_path: target, capacity_range: { required_bytes: 2 << 20, limit_bytes: 0 } });
    expect(grown.capacity_bytes).toBe(2 << 20);

    for (const t of [target, roTarget]) {
      await nodeCall('NodeUnpublishVolume', { volume_id: volumeId, target_path: t });
      await nodeCall('NodeUnpublishVolume', { volume_id: volumeId, target_path: t });
      expect(await isMountPoint(t)).toBe(false);
    }
    await nodeCall('NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });
    await nodeCall('NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });
    // The agent does not stage it again while the attachment stays live.
    await running.agent.sync();
    expect(running.agent.heldVolume(volumeId)).toBeUndefined();
    const unpub = { volume_id: volumeId, node_id: 'worker-1', secrets: secrets(token) };
    await h.client.controller('ControllerUnpublishVolume', unpub);
    await h.client.controller('ControllerUnpublishVolume', unpub);
    await h.client.controller('ControllerUnpublishVolume', { ...unpub, volume_id: 'vol-nope' });
    expect((await h.polly.call('GET', `/v1/volumes/${volumeId}`, { token })).body.status).toBe('available');
    // Now another node can have it.
    const other = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', { ...pubReq, node_id: 'worker-2' });
    expect(Number(other.publish_context[PUBLISH_CONTEXT.fencingToken])).toBeGreaterThan(Number(pub.publish_context[PUBLISH_CONTEXT.fencingToken]));
    await h.client.controller('ControllerUnpublishVolume', { ...unpub, node_id: '' });
  });

  it('a published volume whose attachment is fenced is unmounted by the agent', async () => {
    const volumeId = await createVolume('pvc-fence');
    const pub = await h.client.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
      volume_id: volumeId, node_id: 'worker-1', volume_capability: mountCap('SINGLE_NODE_WRITER'), readonly: false, secrets: secrets(token), volume_context: {},
    });
    const stageReq = { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: join(work, 'st-f'), volume_capability: MOUNT_RWO };
    const target = join(work, 'kubelet', 'pods', 'pf', 'mount');
    await nodeCall('NodeStageVolume', stageReq);
    await nodeCall('NodePublishVolume', { ...stageReq, target_path: target, readonly: false });
    expect(await isMountPoint(target)).toBe(true);
    const att = pub.publish_context[PUBLISH_CONTEXT.attachment]!;
    expect((await h.polly.call('DELETE', `/v1/attachments/${att}?force=true`)).status).toBe(204);
    await running.agent.sync();
    expect(await isMountPoint(target)).toBe(false);
  });

  it('argument checks answer INVALID_ARGUMENT', async () => {
    await expectCode(nodeCall('NodeStageVolume', { volume_id: '', staging_target_path: '/x', volume_capability: MOUNT_RWO }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeStageVolume', { volume_id: 'v', staging_target_path: '', volume_capability: MOUNT_RWO }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeStageVolume', { volume_id: 'v', staging_target_path: '/x' }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodePublishVolume', { volume_id: 'v', staging_target_path: '/x', target_path: '', volume_capability: MOUNT_RWO }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeUnpublishVolume', { volume_id: 'v', target_path: '' }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeUnstageVolume', { volume_id: '', staging_target_path: '/x' }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeGetVolumeStats', { volume_id: 'v', volume_path: '' }), status.INVALID_ARGUMENT);
    await expectCode(nodeCall('NodeExpandVolume', { volume_id: '', volume_path: '/x' }), status.INVALID_ARGUMENT);
    await expectCode(h.client.controller('ControllerPublishVolume', { volume_id: 'v', node_id: '', volume_capability: MOUNT_RWO, secrets: secrets(token) }), status.INVALID_ARGUMENT);
    await expectCode(h.client.controller('ControllerPublishVolume', { volume_id: 'v', node_id: 'worker-1', secrets: secrets(token) }), status.INVALID_ARGUMENT);
    await expectCode(h.client.controller('ControllerUnpublishVolume', { volume_id: '', node_id: 'worker-1', secrets: secrets(token) }), status.INVALID_ARGUMENT);
    // Staging a volume that is not published here.
    const volumeId = await createVolume('pvc-unpublished');
    await expectCode(nodeCall('NodeStageVolume', { volume_id: volumeId, staging_target_path: '/x', volume_capability: MOUNT_RWO, publish_context: {} }), status.FAILED_PRECONDITION);
    await expectCode(nodeCall('NodeStageVolume', { volume_id: 'vol-nope', staging_target_path: '/x', volume_capability: MOUNT_RWO, publish_context: {} }), status.NOT_FOUND);
  });
});
