import { Server, ServerCredentials, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { NodeAgent } from '../../agent/agent.js';
import { isPollyError, PollyError } from '../../core/errors.js';
import { unpublishTarget } from '../../drivers/system/publish.js';
import { pathExists } from '../../drivers/system/pool-path.js';
import { VERSION } from '../../version.js';
import { parseCapability } from './capabilities.js';
import { PUBLISH_CONTEXT } from './controller-publish.js';
import { parseEndpoint } from './csi-server.js';
import { CsiError, invalidArgument, unary } from './errors.js';
import { PLUGIN_CAPABILITIES, PLUGIN_NAME } from './identity-server.js';
import { csiService, type CapacityRange, type StringMap, type VolumeCapability } from './proto.js';
import { parseCapacityRange, requireField } from './requests.js';
import { nodeSegments } from './topology.js';
import { timed } from './timed.js';
import type { RpcTimer } from '../../app/telemetry.js';

/** CSI Node messages (csi.proto), as the loader presents them. */
interface NodeStageRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  volume_capability: VolumeCapability | null;
}
interface NodeUnstageRequest {
  volume_id: string;
  staging_target_path: string;
}
interface NodePublishRequest extends NodeStageRequest {
  target_path: string;
  readonly: boolean;
}
interface NodeUnpublishRequest {
  volume_id: string;
  target_path: string;
}
interface NodeStatsRequest {
  volume_id: string;
  volume_path: string;
}
interface NodeExpandRequest {
  volume_id: string;
  volume_path: string;
  capacity_range: CapacityRange | null;
  volume_capability: VolumeCapability | null;
}

const failedPrecondition = (message: string): CsiError => new CsiError(status.FAILED_PRECONDITION, message);
const notFound = (message: string): CsiError => new CsiError(status.NOT_FOUND, message);

/**
 * CSI Node over the node agent: NodeStage stages the volume of this node's live attachment (found from
 * ControllerPublish's publish_context, or asked from the server), NodePublish bind-mounts it at the target,
 * and the agent's fencing applies to both (a stale token unpublishes and unstages).
 */
export function nodeServer(agent: NodeAgent, log: Logger): UntypedServiceImplementation {
  const held = (volumeId: string) => agent.heldVolume(volumeId);

  function checkMode(volumeId: string, cap: VolumeCapability | null, mode: 'filesystem' | 'block'): void {
    if (cap === null) throw invalidArgument('volume_capability is required');
    const wanted = parseCapability(cap, 'volume_capability');
    if (wanted.volumeMode !== mode) {
      throw invalidArgument(`volume ${volumeId} is a ${mode === 'block' ? 'raw block' : 'filesystem'} volume; volume_capability asks for ${wanted.volumeMode}`);
    }
  }

  return {
    NodeStageVolume: unary(log, 'NodeStageVolume', async (req: NodeStageRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      const stagingPath = requireField(req.staging_target_path, 'staging_target_path');
      if (req.volume_capability === null) throw invalidArgument('volume_capability is required');
      parseCapability(req.volume_capability, 'volume_capability');
      let attachmentId = req.publish_context[PUBLISH_CONTEXT.attachment];
      if (!attachmentId) {
        const live = await agent.liveAttachment(volumeId);
        if (!live) {
          await agent.client.call('GET', `/v1/volumes/${encodeURIComponent(volumeId)}`);
          throw failedPrecondition(`volume ${volumeId} is not published to node ${agent.nodeId} (ControllerPublishVolume first)`);
        }
        attachmentId = live.id;
      }
      // The capability is checked against the volume before anything is staged; the volume is staged at
      // the CO's staging_target_path (where NodePublish will look for it).
      const capability = req.volume_capability;
      await agent
        .ensureStaged(attachmentId, volumeId, { stagingPath, check: (volume) => checkMode(volumeId, capability, volume.volumeMode) })
        .catch((err: unknown) => {
          if (isPollyError(err) && err.code === 'INVALID_STATE') throw failedPrecondition(err.message);
          throw err;
        });
      return {};
    }),

    NodeUnstageVolume: unary(log, 'NodeUnstageVolume', async (req: NodeUnstageRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      requireField(req.staging_target_path, 'staging_target_path');
      await agent.unstage(volumeId);
      return {};
    }),

    NodePublishVolume: unary(log, 'NodePublishVolume', async (req: NodePublishRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      requireField(req.staging_target_path, 'staging_target_path');
      const target = requireField(req.target_path, 'target_path');
      if (req.volume_capability === null) throw invalidArgument('volume_capability is required');
      const cap = parseCapability(req.volume_capability, 'volume_capability');
      const h = held(volumeId);
      if (!h) throw failedPrecondition(`volume ${volumeId} is not staged on node ${agent.nodeId} (NodeStageVolume first)`);
      checkMode(volumeId, req.volume_capability, h.volumeMode);
      const readOnly = req.readonly || h.readOnly || cap.csiMode === 'SINGLE_NODE_READER_ONLY' || cap.csiMode === 'MULTI_NODE_READER_ONLY';
      if (h.accessMode === 'RWOP') {
        const others = Object.keys(h.targets).filter((t) => t !== target);
        if (others.length > 0) throw failedPrecondition(`volume ${volumeId} is single-writer (RWOP) and already published at ${others[0]}`);
      }
      await agent.publish(volumeId, target, readOnly).catch((err: unknown) => {
        if (isPollyError(err) && err.code === 'INVALID_STATE') throw new CsiError(status.ALREADY_EXISTS, err.message);
        throw err;
      });
      return {};
    }),

    NodeUnpublishVolume: unary(log, 'NodeUnpublishVolume', async (req: NodeUnpublishRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      const target = requireField(req.target_path, 'target_path');
      if (held(volumeId)) await agent.unpublish(volumeId, target);
      else await unpublishTarget(target);
      return {};
    }),

    NodeGetVolumeStats: unary(log, 'NodeGetVolumeStats', async (req: NodeStatsRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      const path = requireField(req.volume_path, 'volume_path');
      const h = held(volumeId);
      if (!h) throw notFound(`volume ${volumeId} is not staged on node ${agent.nodeId}`);
      if (!(await pathExists(path))) throw notFound(`volume path ${path} does not exist`);
      const stats = await (await agent.driver(h.pool)).node.stats({ backendId: h.backendId, path });
      const usage = [{ total: stats.totalBytes, used: stats.usedBytes, available: stats.availableBytes, unit: 'BYTES' }];
      if (stats.totalInodes !== undefined && stats.usedInodes !== undefined) {
        usage.push({ total: stats.totalInodes, used: stats.usedInodes, available: stats.totalInodes - stats.usedInodes, unit: 'INODES' });
      }
      return { usage, volume_condition: { abnormal: false, message: '' } };
    }),

    NodeExpandVolume: unary(log, 'NodeExpandVolume', async (req: NodeExpandRequest) => {
      const volumeId = requireField(req.volume_id, 'volume_id');
      const path = requireField(req.volume_path, 'volume_path');
      const range = parseCapacityRange(req.capacity_range);
      const h = held(volumeId);
      if (!h) throw notFound(`volume ${volumeId} is not staged on node ${agent.nodeId}`);
      if (!(await pathExists(path))) throw notFound(`volume path ${path} does not exist`);
      const sizeBytes = Math.max(range.requiredBytes, h.sizeBytes);
      if (h.volumeMode === 'filesystem') await (await agent.driver(h.pool)).node.expand({ backendId: h.backendId, stagingPath: h.stagingPath, sizeBytes });
      return { capacity_bytes: sizeBytes };
    }),

    NodeGetCapabilities: unary(log, 'NodeGetCapabilities', async () => ({
      capabilities: (['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME'] as const).map((type) => ({ rpc: { type } })),
    })),

    // Always a topology (the plugin advertises VOLUME_ACCESSIBILITY_CONSTRAINTS): the node's own segment,
    // and its zone when it has one.
    NodeGetInfo: unary(log, 'NodeGetInfo', async () => ({
      node_id: agent.nodeId,
      max_volumes_per_node: 0,
      accessible_topology: { segments: nodeSegments(agent.nodeId, agent.topology.zone) },
    })),
  };
}

/** CSI Identity as the node socket answers it (the kubelet's registrar asks GetPluginInfo here). */
function nodeIdentity(log: Logger): UntypedServiceImplementation {
  return {
    GetPluginInfo: unary(log, 'GetPluginInfo', async () => ({ name: PLUGIN_NAME, vendor_version: VERSION, manifest: {} })),
    // The same set as the controller's Identity: the spec wants every instance of a plugin to answer alike.
    GetPluginCapabilities: unary(log, 'GetPluginCapabilities', async () => ({ capabilities: PLUGIN_CAPABILITIES })),
    Probe: unary(log, 'Probe', async () => ({ ready: { value: true } })),
  };
}

export interface CsiNodeServerHandle {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Serves CSI Identity and Node for an agent on a unix socket (or TCP, for tests), and Controller too when
 * given one (the agent's forwarder to the server, see controller-proxy.ts).
 */
export async function startCsiNodeServer(
  agent: NodeAgent,
  opts: { endpoint: string; log: Logger; rpc?: RpcTimer | undefined; controller?: UntypedServiceImplementation | undefined },
): Promise<CsiNodeServerHandle> {
  const endpoint = parseEndpoint(opts.endpoint);
  const log = opts.log.child({ frontend: 'csi-node', endpoint: opts.endpoint });
  const server = new Server();
  server.addService(csiService('Identity'), timed(nodeIdentity(log), 'csi-node', opts.rpc));
  server.addService(csiService('Node'), timed(nodeServer(agent, log), 'csi-node', opts.rpc));
  if (opts.controller) server.addService(csiService('Controller'), timed(opts.controller, 'csi-controller-proxy', opts.rpc));
  let address: string;
  if (endpoint.kind === 'unix') {
    await mkdir(dirname(endpoint.path), { recursive: true });
    const existing = await lstat(endpoint.path).catch(() => undefined);
    if (existing && !existing.isSocket()) throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${endpoint.path} exists and is not a socket`);
    if (existing) await unlink(endpoint.path);
    address = `unix://${endpoint.path}`;
  } else {
    address = `${endpoint.host}:${endpoint.port}`;
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    endpoint: endpoint.kind === 'unix' ? opts.endpoint : `tcp://${endpoint.host}:${port}`,
    async stop() {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5_000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (endpoint.kind === 'unix') await unlink(endpoint.path).catch(() => undefined);
    },
  };
}
