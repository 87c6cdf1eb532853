import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent } from '../../src/agent/run.js';
import type * as csi from '../../src/api/csi/proto.js';
import { isMountPoint } from '../../src/drivers/system/mounts.js';
import { CsiClient, startCsi, type CsiHarness } from '../api/csi/csi-harness.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';

/**
 * Mesos' storage local resource provider driving Polly's real CSI endpoints — the server's controller
 * socket (bound to the Mesos service: Mesos sends no secrets) and the agent's node socket — in the order
 * and with the request fields of apache/mesos src/csi/v1_volume_manager.cpp, with the profile taken from
 * the DiskProfileMapping that the URI disk profile adaptor polls from Polly's REST.
 */
const cleanup = new Cleanup();
const PLUGIN_TYPE = 'io.polly.csi';
const PLUGIN_NAME = 'polly';
const MiB = 2 ** 20;
let h: CsiHarness;
let controller: CsiClient;
let node: CsiClient;
let agent: RunningAgent;
let work: string;
let poolPath: string;
/** `<work_dir>/csi/<type>/<name>/mounts`, as csi::paths::getMountRootDir lays it out. */
let mountRootDir: string;
const nodeName = `mesos-agent-${process.pid}`;

interface ProfileManifest {
  csi_plugin_type_selector: { plugin_type: string };
  volume_capabilities: { mount?: { fs_type: string }; block?: Record<string, never>; access_mode: { mode: csi.AccessModeName } };
  create_parameters: Record<string, string>;
}

/** Mesos' `evolve()` of a csi.v0 capability into csi.v1 (same fields; v1 adds empty mount flags). */
function evolve(cap: ProfileManifest['volume_capabilities']): csi.VolumeCapability {
  return cap.block
    ? { block: {}, access_mode: cap.access_mode }
    : { mount: { fs_type: cap.mount?.fs_type ?? '', mount_flags: [], volume_mount_group: '' }, access_mode: cap.access_mode };
}

beforeAll(async () => {
  const poolDir = await tempDir(cleanup);
  poolPath = join(poolDir, 'pool');
  h = await startCsi({
    pools: [{ name: 'mesospool', driver: 'local', path: poolPath, topology: { shared: true } }],
    profiles: [
      { name: 'fast', description: 'fast disks', minBytes: MiB, maxBytes: 2 ** 30, pools: ['mesospool'], accessModes: ['RWO', 'ROX'] },
      { name: 'private-profile', services: ['someone-else'] },
    ],
    services: [{ name: 'mesos' }],
  });
  cleanup.add(() => h.stop());
  controller = await h.open({ service: 'mesos', name: 'mesos-controller' });
  const cred = await h.polly.call('POST', `/v1/nodes/${nodeName}/credentials`, { body: { description: 'mesos agent' } });
  expect(cred.status).toBe(201);
  work = await tempDir(cleanup);
  mountRootDir = join(work, 'csi', PLUGIN_TYPE, PLUGIN_NAME, 'mounts');
  agent = await runAgent({
    serverUrl: h.polly.url,
    token: cred.body.token,
    nodeId: nodeName,
    hostname: 'mesos-agent.test',
    topology: {},
    stateDir: join(work, 'polly-agent'),
    dataDir: h.polly.dataDir,
    heartbeatSeconds: 3600,
    csiSocket: join(work, 'node.sock'),
    log: pino({ level: 'silent' }),
  });
  cleanup.add(() => agent.stop());
  node = new CsiClient(`unix://${join(work, 'node.sock')}`);
  cleanup.add(async () => node.close());
});

afterAll(async () => {
  await cleanup.run();
});

describe('Mesos URI disk profile adaptor', () => {
  it('polls Polly profiles as a DiskProfileMapping without credentials', async () => {
    const res = await h.polly.call('GET', '/mesos/disk-profiles', { token: null });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.profile_matrix).sort()).toEqual(['default', 'fast']);
    expect(res.body.profile_matrix.fast).toEqual({
      csi_plugin_type_selector: { plugin_type: PLUGIN_TYPE },
      volume_capabilities: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
      create_parameters: { profile: 'fast' },
    });
    const other = await h.polly.call('GET', '/mesos/disk-profiles?plugin_type=org.example.polly', { token: null });
    expect(other.body.profile_matrix.fast.csi_plugin_type_selector.plugin_type).toBe('org.example.polly');
    // With a token, the profiles that token's service may use; a bad token is refused.
    expect((await h.polly.call('GET', '/mesos/disk-profiles')).body.profile_matrix).toHaveProperty('private-profile');
    expect((await h.polly.call('GET', '/mesos/disk-profiles', { token: 'not-a-valid-token-at-all' })).status).toBe(401);
    expect((await h.polly.call('GET', '/mesos/disk-profiles?colour=red', { token: null })).status).toBe(400);
  });
});

describe('Mesos v1 volume manager call sequence', () => {
  it('prepareServices → GetCapacity/ListVolumes → CreateVolume → Validate → publish → write → unpublish → DeleteVolume', async () => {
    const mapping = (await h.polly.call('GET', '/mesos/disk-profiles', { token: null })).body.profile_matrix as Record<string, ProfileManifest>;
    const profile = mapping.fast!;
    const capability = evolve(profile.volume_capabilities);
    const parameters = profile.create_parameters;

    // prepareServices(): plugin capabilities from the first service (CONTROLLER_SERVICE), plugin info from each.
    const pluginCaps = await controller.call<csi.GetPluginCapabilitiesResponse>('Identity', 'GetPluginCapabilities', {});
    expect(pluginCaps.capabilities.map((c) => c.service?.type)).toContain('CONTROLLER_SERVICE');
    const infos = await Promise.all([controller, node].map((c) => c.call<csi.GetPluginInfoResponse>('Identity', 'GetPluginInfo', {})));
    expect(infos[0]!.name).toBe(infos[1]!.name);
    expect(infos[0]!.vendor_version).toBe(infos[1]!.vendor_version);
    const ctrlCaps = await controller.controller<{ capabilities: Array<{ rpc: { type: string } }> }>('ControllerGetCapabilities', {});
    const ctrl = ctrlCaps.capabilities.map((c) => c.rpc.type);
    expect(ctrl).toEqual(expect.arrayContaining(['CREATE_DELETE_VOLUME', 'PUBLISH_UNPUBLISH_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY']));
    const nodeCaps = await node.call<{ capabilities: Array<{ rpc: { type: string } }> }>('Node', 'NodeGetCapabilities', {});
    expect(nodeCaps.capabilities.map((c) => c.rpc.type)).toContain('STAGE_UNSTAGE_VOLUME');
    // publishUnpublishVolume is supported, so Mesos asks the node for its id.
    const nodeInfo = await node.call<{ node_id: string }>('Node', 'NodeGetInfo', {});
    expect(nodeInfo.node_id).toBe(nodeName);

    // The SLRP's resource reconciliation: capacity per profile, then the volumes that exist.
    const capacity = await controller.controller<{ available_capacity: string | number }>('GetCapacity', { volume_capabilities: [capability], parameters });
    expect(Number(capacity.available_capacity)).toBeGreaterThan(0);
    const before = await controller.controller<csi.ListVolumesResponse>('ListVolumes', {});
    expect(before.entries).toHaveLength(0);

    // CREATE_DISK: required = limit = the disk's bytes; retried with the same name (MESOS-9517).
    const name = randomUUID();
    const bytes = 8 * MiB;
    const createReq = { name, capacity_range: { required_bytes: bytes, limit_bytes: bytes }, volume_capabilities: [capability], parameters };
    const created = await controller.controller<csi.CreateVolumeResponse>('CreateVolume', createReq);
    const volumeId = created.volume!.volume_id;
    expect(Number(created.volume!.capacity_bytes)).toBe(bytes);
    expect((await controller.controller<csi.CreateVolumeResponse>('CreateVolume', createReq)).volume!.volume_id).toBe(volumeId);
    const volumeContext = created.volume!.volume_context;
    const vol = await h.polly.call('GET', `/v1/volumes/${volumeId}`);
    expect(vol.body).toMatchObject({ service: 'mesos', profile: 'fast', sizeBytes: bytes });

    // validateVolume() after an agent restart: same capability and parameters.
    const valid = await controller.controller<{ confirmed: { volume_capabilities: unknown[] } | null; message: string }>('ValidateVolumeCapabilities', {
      volume_id: volumeId,
      volume_context: volumeContext,
      volume_capabilities: [capability],
      parameters,
    });
    expect(valid.confirmed?.volume_capabilities).toHaveLength(1);
    const listed = await controller.controller<csi.ListVolumesResponse>('ListVolumes', {});
    expect(listed.entries.map((e) => [e.volume!.volume_id, Number(e.volume!.capacity_bytes)])).toEqual([[volumeId, bytes]]);

    // publishVolume(): ControllerPublish → mkdir staging → NodeStage → mkdir parent → NodePublish.
    const published = await controller.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
      volume_id: volumeId,
      node_id: nodeInfo.node_id,
      volume_capability: capability,
      readonly: false,
      volume_context: volumeContext,
    });
    const mountPath = join(mountRootDir, encodeURIComponent(volumeId));
    const stagingPath = join(mountPath, 'staging');
    const targetPath = join(mountPath, 'target');
    await mkdir(stagingPath, { recursive: true });
    await node.call('Node', 'NodeStageVolume', {
      volume_id: volumeId,
      publish_context: published.publish_context,
      staging_target_path: stagingPath,
      volume_capability: capability,
      volume_context: volumeContext,
    });
    // target_path_exists is false by default: Mesos creates only the parent; the plugin makes the target.
    await mkdir(dirname(targetPath), { recursive: true });
    await node.call('Node', 'NodePublishVolume', {
      volume_id: volumeId,
      publish_context: published.publish_context,
      staging_target_path: stagingPath,
      target_path: targetPath,
      volume_capability: capability,
      readonly: false,
      volume_context: volumeContext,
    });
    expect(await isMountPoint(targetPath)).toBe(true);
    await writeFile(join(targetPath, 'task.out'), 'written by a mesos task\n');
    expect(await readFile(join(poolPath, 'volumes', volumeId, 'task.out'), 'utf8')).toBe('written by a mesos task\n');
    const atts = await h.polly.call('GET', `/v1/attachments?volume=${volumeId}`);
    expect(atts.body.items).toMatchObject([{ node: nodeName, service: 'mesos', accessMode: 'RWO' }]);

    // unpublishVolume(): NodeUnpublish → rmdir target → NodeUnstage → ControllerUnpublish.
    await node.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: targetPath });
    expect(await isMountPoint(targetPath)).toBe(false);
    await rmdir(targetPath).catch(() => undefined);
    await node.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: stagingPath });
    await controller.controller('ControllerUnpublishVolume', { volume_id: volumeId, node_id: nodeInfo.node_id });
    expect((await h.polly.call('GET', `/v1/attachments?volume=${volumeId}`)).body.items).toHaveLength(0);

    // DESTROY_DISK: DeleteVolume, retried harmlessly.
    await controller.controller('DeleteVolume', { volume_id: volumeId });
    await controller.controller('DeleteVolume', { volume_id: volumeId });
    expect((await h.polly.call('GET', `/v1/volumes/${volumeId}`)).status).toBe(404);
    expect((await controller.controller<csi.ListVolumesResponse>('ListVolumes', {})).entries).toHaveLength(0);
  });
});
