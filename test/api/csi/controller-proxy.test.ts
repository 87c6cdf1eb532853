import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent } from '../../../src/agent/run.js';
import type * as csi from '../../../src/api/csi/proto.js';
import { isMountPoint } from '../../../src/drivers/system/mounts.js';
import { Cleanup, tempDir } from '../../helpers/loopfs.js';
import { newService } from '../../helpers/polly.js';
import { bearer, CsiClient, expectCode, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

/**
 * Docker ≥ 23 Swarm cluster volumes call CSI Controller *and* Node on one managed-plugin socket: the
 * agent's CSI socket forwards Controller to the server's CSI endpoint (`--csi-controller`). One socket
 * here runs a volume's whole life as Swarm's plugin adapter drives it, over real gRPC and a real server.
 */

const cleanup = new Cleanup();
let h: CsiHarness;
let token: string;
let other: string;
let running: RunningAgent;
let plugin: CsiClient;
let work: string;

beforeAll(async () => {
  const poolDir = await tempDir(cleanup);
  h = await startCsi({ pools: [{ name: 'shared', driver: 'local', path: join(poolDir, 'pool'), topology: { shared: true } }] });
  cleanup.add(() => h.stop());
  token = await newService(h.polly, 'swarm');
  other = await newService(h.polly, 'someone-else');
  work = await tempDir(cleanup);
  running = await runAgent({
    serverUrl: h.polly.url,
    token,
    nodeId: 'swarm-1',
    hostname: 'swarm-1.test',
    topology: {},
    stateDir: join(work, 'agent'),
    dataDir: h.polly.dataDir,
    heartbeatSeconds: 3600,
    csiSocket: join(work, 'plugin.sock'),
    csiController: `unix://${h.socket}`,
    log: pino({ level: 'silent' }),
  });
  cleanup.add(() => running.stop());
  plugin = new CsiClient(`unix://${join(work, 'plugin.sock')}`);
  cleanup.add(async () => plugin.close());
});
afterAll(async () => {
  await cleanup.run();
});

describe('CSI Controller forwarded by the agent\'s CSI socket (Docker Swarm cluster volumes)', () => {
  it('create → publish → stage → publish → unpublish → unstage → unpublish → delete on the one socket, as the agent\'s service', async () => {
    const caps = await plugin.controller<{ capabilities: Array<{ rpc: { type: string } }> }>('ControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc.type)).toContain('PUBLISH_UNPUBLISH_VOLUME');
    // No secrets (Swarm sends none unless the volume has --secret): the agent's token makes it the agent's service's.
    const created = await plugin.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'ledger',
      capacity_range: { required_bytes: 1 << 20, limit_bytes: 0 },
      volume_capabilities: [MOUNT_RWO],
    });
    const volumeId = created.volume!.volume_id;
    const listed = await h.polly.call('GET', '/v1/volumes', { token });
    expect((listed.body as { items: Array<{ id: string; name: string }> }).items.map((v) => v.name)).toEqual(['ledger']);
    const node = await plugin.call<{ node_id: string }>('Node', 'NodeGetInfo', {});
    const pub = await plugin.controller<csi.ControllerPublishVolumeResponse>('ControllerPublishVolume', {
      volume_id: volumeId, node_id: node.node_id, volume_capability: MOUNT_RWO, readonly: false, volume_context: {},
    });
    const staging = join(work, 'staging', volumeId);
    const target = join(work, 'published', volumeId);
    await plugin.call('Node', 'NodeStageVolume', { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: staging, volume_capability: MOUNT_RWO });
    await plugin.call('Node', 'NodePublishVolume', { volume_id: volumeId, publish_context: pub.publish_context, staging_target_path: staging, target_path: target, volume_capability: MOUNT_RWO, readonly: false });
    expect(await isMountPoint(target)).toBe(true);
    const attachments = await h.polly.call('GET', `/v1/attachments?volume=${volumeId}`, { token });
    expect((attachments.body as { items: Array<{ node: string }> }).items.map((a) => a.node)).toEqual(['swarm-1']);
    await plugin.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
    await plugin.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });
    await plugin.controller('ControllerUnpublishVolume', { volume_id: volumeId, node_id: node.node_id });
    await plugin.controller('DeleteVolume', { volume_id: volumeId });
    expect((await h.polly.call('GET', '/v1/volumes', { token })).body).toMatchObject({ items: [] });
  });

  it('passes the server\'s gRPC status through, and a token of the caller\'s own wins over the agent\'s', async () => {
    const bad = await expectCode(plugin.controller('CreateVolume', { name: '', volume_capabilities: [MOUNT_RWO] }), status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/name/);
    await expectCode(plugin.controller('DeleteVolume', { volume_id: 'vol-1', secrets: secrets('not-a-token') }), status.UNAUTHENTICATED);
    // Another service's token in secrets: the volume is that service's, the agent's service does not see it.
    const theirs = await plugin.controller<csi.CreateVolumeResponse>('CreateVolume', { name: 'theirs', volume_capabilities: [MOUNT_RWO], secrets: secrets(other) });
    expect((await h.polly.call('GET', '/v1/volumes', { token })).body).toMatchObject({ items: [] });
    const list = await plugin.controller<{ entries: Array<{ volume: { volume_id: string } }> }>('ListVolumes', {}, bearer(other));
    expect(list.entries.map((e) => e.volume.volume_id)).toEqual([theirs.volume!.volume_id]);
    await plugin.controller('DeleteVolume', { volume_id: theirs.volume!.volume_id, secrets: secrets(other) });
  });

  it('a server that cannot be reached is UNAVAILABLE (the CO retries), and a bad endpoint is refused at start', async () => {
    const dir = await tempDir(cleanup);
    const lonely = await runAgent({
      serverUrl: h.polly.url,
      token,
      nodeId: 'swarm-2',
      hostname: 'swarm-2.test',
      topology: {},
      stateDir: join(dir, 'agent'),
      dataDir: h.polly.dataDir,
      heartbeatSeconds: 3600,
      csiSocket: join(dir, 'plugin.sock'),
      csiController: `unix://${join(dir, 'nobody-listens.sock')}`,
      log: pino({ level: 'silent' }),
    });
    const c = new CsiClient(`unix://${join(dir, 'plugin.sock')}`);
    try {
      await expectCode(c.controller('ControllerGetCapabilities'), status.UNAVAILABLE);
    } finally {
      c.close();
      await lonely.stop();
    }
    await expect(
      runAgent({
        serverUrl: h.polly.url, token, nodeId: 'swarm-3', hostname: 'swarm-3.test', topology: {}, stateDir: join(dir, 'agent-3'), dataDir: h.polly.dataDir,
        heartbeatSeconds: 3600, csiSocket: join(dir, 'plugin-3.sock'), csiController: 'http://server:1234', log: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/use unix:\/\/\/path\/csi.sock, tcp:\/\/host:port or tls:\/\/host:port/);
  });
});
