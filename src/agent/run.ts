import { startDockerPlugin } from '../api/docker/volume-plugin.js';
import { NodeAgent, type AgentOptions } from './agent.js';
import type { RpcTimer } from '../app/telemetry.js';
import type { ControllerProxy } from '../api/csi/controller-proxy.js';

export interface RunAgentOptions extends AgentOptions {
  /** Serve the CSI Node service on this unix socket. */
  csiSocket?: string | undefined;
  /**
   * Also serve CSI Controller on `csiSocket`, each call forwarded to the server's CSI endpoint at this
   * address (Docker Swarm cluster volumes call Controller and Node on one plugin socket).
   */
  csiController?: string | undefined;
  /** Serve the Docker VolumeDriver plugin on this unix socket. */
  dockerSocket?: string | undefined;
  /** Called once the Docker plugin socket listens (before the agent finished starting: calls wait for it). */
  onDockerListening?: ((socket: string) => void) | undefined;
  /** Name volumes by their name (Docker) or by Polly volume id (Cloud Foundry cells). */
  dockerVolumeNames?: 'name' | 'id' | undefined;
  /** The Docker plugin's mount wait (see DockerPluginOptions.mountWaitSeconds). */
  dockerMountWaitSeconds?: number | undefined;
  /** Times the Docker and CSI Node calls (the embedded agent passes the server's histogram). */
  rpc?: RpcTimer | undefined;
  /** Serve this agent's own `GET /metrics` on `HOST:PORT` (when no `rpc` is given). */
  metricsListen?: string | undefined;
  /** Called once the metrics endpoint listens, with its address. */
  onMetricsListening?: ((address: string) => void) | undefined;
}

export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

/** Starts an agent and the frontends it serves on this host. */
export async function runAgent(opts: RunAgentOptions): Promise<RunningAgent> {
  const agent = new NodeAgent(opts);
  const stops: Array<() => Promise<void>> = [];
  // The Docker plugin socket listens first, before the agent even begins to start: dockerd (or Cloud
  // Foundry's volman, or volume_driver_cert, which waits about 1 s for `driver-server.started`) may call as
  // soon as the process is up, and its calls simply wait until the node is registered and reconciled.
  // Loading the drivers and registering the node never delay the socket.
  let opened: ((started: Promise<void>) => void) | undefined;
  let rpc = opts.rpc;
  if (opts.dockerSocket) {
    const ready = new Promise<void>((resolve) => (opened = resolve));
    const docker = await startDockerPlugin(agent, { socket: opts.dockerSocket, volumeNames: opts.dockerVolumeNames, mountWaitSeconds: opts.dockerMountWaitSeconds, log: opts.log, ready, rpc: { startTimer: (labels) => rpc?.startTimer(labels) ?? (() => undefined) } });
    stops.push(() => docker.stop());
    opts.onDockerListening?.(docker.socket);
  }
  try {
    // After the plugin socket (it must listen at once); its calls are timed as soon as this is up.
    if (!rpc && opts.metricsListen) {
      const { startAgentMetrics } = await import('./metrics.js');
      const metrics = await startAgentMetrics(opts.metricsListen, { nodeId: opts.nodeId, log: opts.log });
      stops.push(() => metrics.stop());
      rpc = metrics.rpc;
      opts.onMetricsListening?.(metrics.address);
    }
    const started = agent.start();
    opened?.(started);
    await started;
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
  stops.unshift(() => agent.stop());
  try {
    if (opts.csiSocket) {
      const endpoint = opts.csiSocket.includes('://') ? opts.csiSocket : `unix://${opts.csiSocket}`;
      // gRPC and the CSI protocol load only when a CSI socket is asked for: a Docker-only agent starts faster.
      const { startCsiNodeServer } = await import('../api/csi/node-server.js');
      let controller: ControllerProxy | undefined;
      if (opts.csiController) {
        const { controllerProxy } = await import('../api/csi/controller-proxy.js');
        controller = controllerProxy({ endpoint: opts.csiController, token: opts.token, ca: opts.ca, log: opts.log });
        const proxy = controller;
        stops.push(async () => proxy.close());
      }
      const csi = await startCsiNodeServer(agent, { endpoint, log: opts.log, rpc, controller: controller?.service });
      stops.push(() => csi.stop());
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
  return {
    agent,
    async stop() {
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => opts.log.warn({ err }, 'agent stop step failed'));
    },
  };
}
