import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PollyConfig } from '../config/config.js';
import { runAgent, type RunningAgent } from './run.js';
import type { RpcTimer } from '../app/telemetry.js';

/**
 * The agent `polly server` runs for its own host when `agent.enabled` is set, so that one machine works
 * alone. It talks to this server over REST like any agent, with `agent.token` or the admin token.
 */
export async function startEmbeddedAgent(
  config: PollyConfig,
  server: { url: string; adminTokenFile: string | undefined; log: Logger; app: { ctx: { telemetry: { rpc: RpcTimer } } } },
): Promise<RunningAgent | undefined> {
  const a = config.agent;
  if (!a.enabled) return undefined;
  let token = a.token ?? config.adminToken;
  if (token === undefined && server.adminTokenFile !== undefined) token = readFileSync(server.adminTokenFile, 'utf8').trim();
  if (token === undefined) {
    server.log.warn('embedded agent not started: set agent.token (or an admin token the server can read)');
    return undefined;
  }
  return runAgent({
    serverUrl: server.url,
    token,
    nodeId: a.nodeId ?? hostname(),
    hostname: hostname(),
    topology: a.topology ?? {},
    stateDir: a.stateDir ?? join(config.dataDir, 'agent'),
    dataDir: config.dataDir,
    csiSocket: a.csiSocket,
    dockerSocket: a.dockerSocket,
    // Its Docker and CSI Node calls show on the server's own /metrics.
    rpc: server.app.ctx.telemetry.rpc,
    log: server.log.child({ component: 'agent' }),
  });
}
