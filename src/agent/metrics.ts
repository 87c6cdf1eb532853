import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { PollyError } from '../core/errors.js';
import type { RpcTimer } from '../app/telemetry.js';
import { VERSION } from '../version.js';

export interface AgentMetrics {
  /** The address really listened on (`host:port`; port 0 resolved). */
  address: string;
  rpc: RpcTimer;
  stop(): Promise<void>;
}

/**
 * An agent's own Prometheus endpoint (`polly agent --metrics-listen HOST:PORT`, `GET /metrics`): the Docker
 * plugin's and the CSI Node service's calls (`polly_rpc_duration_seconds{frontend="docker"|"csi-node"}`),
 * the process's default metrics and `polly_build_info{node}`. The server's /metrics cannot see these calls:
 * they are served on the node. prom-client loads only here, so an agent without metrics starts faster.
 */
export async function startAgentMetrics(listen: string, opts: { nodeId: string; log: Logger }): Promise<AgentMetrics> {
  const m = /^(.+):(\d+)$/.exec(listen);
  if (!m) throw new PollyError('VALIDATION_FAILED', `metrics address ${listen} is not HOST:PORT`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[2]);
  const { Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client');
  const { RPC_HELP, SECONDS } = await import('../app/telemetry.js');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'polly_agent_' });
  const rpc = new Histogram({ name: 'polly_rpc_duration_seconds', help: RPC_HELP, labelNames: ['frontend', 'method', 'code'] as const, buckets: SECONDS, registers: [registry] });
  new Gauge({ name: 'polly_build_info', help: 'Always 1; the labels say which build runs where', labelNames: ['version', 'node', 'host', 'nodejs'] as const, registers: [registry] }).set(
    { version: VERSION, node: opts.nodeId, host: hostname(), nodejs: process.version },
    1,
  );
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'the agent serves only GET /metrics' } }));
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      (err: unknown) => {
        opts.log.warn({ err }, 'agent metrics collection failed');
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'metrics collection failed' } }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const address = addr && typeof addr === 'object' ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : listen;
  opts.log.info({ address }, 'agent metrics listening');
  return {
    address,
    rpc,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
