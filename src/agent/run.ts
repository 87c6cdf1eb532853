import { startDockerPlugin } from '../api/docker/volume-plugin.js';
import { NodeAgent, type AgentOptions } from './agent.js';

export interface RunAgentOptions extends AgentOptions {
  /** Serve the CSI Node service on this unix socket. */
  csiSocket?: string | undefined;
  /** Serve the Docker VolumeDriver plugin on this unix socket. */
  dockerSocket?: string | undefined;
  /** Called once the Docker plugin socket listens (before the agent finished starting: calls wait for it). */
  onDockerListening?: ((socket: string) => void) | undefined;
  /** Name volumes by their name (Docker) or by Polly volume id (Cloud Foundry cells). */
  dockerVolumeNames?: 'name' | 'id' | undefined;
}

export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

/** Starts an agent and the frontends it serves on this host. */
export async function runAgent(opts: RunAgentOptions): Promise<RunningAgent> {
  const agent = new NodeAgent(opts);
  const stops: Array<() => Promise<void>> = [];
  // The Docker plugin socket listens first: dockerd (or Cloud Foundry's volman) may call as soon as the
  // agent process is up, and its calls simply wait until the node is registered and reconciled.
  const started = agent.start();
  started.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
  if (opts.dockerSocket) {
    const docker = await startDockerPlugin(agent, { socket: opts.dockerSocket, volumeNames: opts.dockerVolumeNames, log: opts.log, ready: started });
    stops.push(() => docker.stop());
    opts.onDockerListening?.(docker.socket);
  }
  try {
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
      const csi = await startCsiNodeServer(agent, { endpoint, log: opts.log });
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
