import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { checkUrls, readCa, resolveToken, timeoutMs } from '../context.js';
import { UsageError } from '../errors.js';
import { note, print } from '../output.js';

function parseTopology(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--topology: ${JSON.stringify(pair)} is not key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Run the node agent for this host: registers the node, heartbeats, holds its volumes\' mounts')
    .addOption(new Option('--node <id>', 'node id').env('POLLY_NODE_ID').default(hostname()))
    .addOption(new Option('--zone <zone>', 'topology zone of this node').env('POLLY_NODE_ZONE'))
    .addOption(new Option('--topology <key=value...>', 'more topology labels').default([]))
    .addOption(new Option('--state-dir <dir>', 'the agent\'s own directory (state, staging, mounts)').env('POLLY_AGENT_STATE_DIR').default('/var/lib/polly/agent'))
    .addOption(new Option('--data-dir <dir>', 'Polly data directory for drivers\' private state').env('POLLY_DATA_DIR').default('./data'))
    .addOption(new Option('--csi-socket <path>', 'serve the CSI Node service on this unix socket').env('POLLY_CSI_NODE_SOCKET'))
    .addOption(
      new Option('--csi-controller <endpoint>', 'also serve CSI Controller on the CSI socket, forwarded to the server\'s CSI endpoint (unix:///…, tcp://host:port, tls://host:port; Docker Swarm cluster volumes)')
        .env('POLLY_CSI_CONTROLLER'),
    )
    .addOption(new Option('--metrics-listen <host:port>', 'serve this agent\'s Prometheus metrics (GET /metrics: Docker and CSI Node call timings)').env('POLLY_AGENT_METRICS_LISTEN'))
    .addOption(new Option('--docker-socket <path>', 'serve the Docker VolumeDriver plugin on this unix socket').env('POLLY_DOCKER_SOCKET'))
    .addOption(
      new Option('--volume-names <kind>', 'Docker plugin volume names: name (Docker) or id (Cloud Foundry volman, node credentials)')
        .choices(['name', 'id'])
        .env('POLLY_DOCKER_VOLUME_NAMES')
        .default('name'),
    )
    .addOption(
      new Option('--mount-wait <seconds>', 'Docker plugin: a Mount of a volume another node holds retries this long (Swarm: a drained task and its replacement overlap)')
        .env('POLLY_DOCKER_MOUNT_WAIT')
        .argParser((v) => Number(v)),
    )
    .addOption(new Option('--heartbeat <seconds>', 'seconds between heartbeats (default: a third of the lease)').argParser((v) => Number(v)))
    .addOption(
      new Option('--host-pid <pid>', 'a process whose mount namespace is this host\'s: self-fences touch it and the namespaces below it only (default 1)')
        .env('POLLY_HOST_PID')
        .argParser((v) => Number(v)),
    )
    .addOption(new Option('--no-fence-guard', 'do not start the fence guard (it fences this host\'s volumes at the deadline when the agent died)'))
    .action(
      async (
        opts: {
          node: string;
          zone?: string;
          topology: string[];
          stateDir: string;
          dataDir: string;
          csiSocket?: string;
          csiController?: string;
          dockerSocket?: string;
          metricsListen?: string;
          volumeNames: 'name' | 'id';
          mountWait?: number;
          heartbeat?: number;
          hostPid?: number;
          fenceGuard: boolean;
        },
        cmd: Command,
      ) => {
        const globals = cmd.optsWithGlobals<{ url?: string; token?: string; ca?: string; timeout?: number }>();
        const serverUrls = checkUrls(globals.url);
        const token = resolveToken(globals.token);
        if (!token) throw new UsageError('the agent needs a token (--token or POLLY_TOKEN)');
        if (opts.mountWait !== undefined && !(Number.isFinite(opts.mountWait) && opts.mountWait >= 0 && opts.mountWait <= 600)) {
          throw new UsageError('--mount-wait must be a number of seconds from 0 to 600');
        }
        if (opts.csiController !== undefined && opts.csiSocket === undefined) throw new UsageError('--csi-controller forwards calls on the CSI socket: give --csi-socket too');
        const topology = parseTopology(opts.topology);
        if (opts.zone) topology.zone = opts.zone;
        const { pino } = await import('pino');
        const { runAgent } = await import('../../agent/run.js');
        const log = pino({ level: process.env.POLLY_LOG_LEVEL ?? 'info', base: { app: 'polly-agent' }, redact: ['secrets', '*.secrets'] });
        const running = await runAgent({
          serverUrl: serverUrls,
          ca: readCa(globals.ca),
          serverTimeoutMs: timeoutMs(globals.timeout),
          token,
          nodeId: opts.node,
          hostname: hostname(),
          topology,
          stateDir: resolve(opts.stateDir),
          dataDir: resolve(opts.dataDir),
          heartbeatSeconds: opts.heartbeat,
          hostPid: opts.hostPid,
          // The same program, run again as `polly agent-fence-guard` (see agent/fence-guard.ts).
          fenceGuard: opts.fenceGuard
            ? {
                command: process.execPath,
                args: [...process.execArgv, process.argv[1] ?? '', 'agent-fence-guard', '--data-dir', resolve(opts.dataDir), ...(opts.hostPid !== undefined ? ['--host-pid', String(opts.hostPid)] : [])],
              }
            : undefined,
          csiSocket: opts.csiSocket,
          csiController: opts.csiController,
          dockerSocket: opts.dockerSocket,
          // Printed once the plugin socket really listens: Cloud Foundry's volume driver tooling (and
          // volume_driver_cert) waits for `driver-server.started` on stdout before it calls the driver.
          onDockerListening: (socket) => print(`Docker volume plugin listening on ${socket} (driver-server.started)`),
          dockerVolumeNames: opts.volumeNames,
          dockerMountWaitSeconds: opts.mountWait,
          metricsListen: opts.metricsListen,
          onMetricsListening: (address) => print(`Agent metrics on http://${address}/metrics`),
          log,
        });
        print(`Polly agent for node ${opts.node} connected to ${serverUrls.replaceAll(',', ', ')}`);
        if (opts.csiSocket) print(`CSI ${opts.csiController ? 'Node and Controller (forwarded to ' + opts.csiController + ') services' : 'Node service'} listening on ${opts.csiSocket}`);
        // The agent's own timers do not hold the process open (they are unref'd): without a plugin or CSI
        // socket nothing else would, and an agent that exits leaves its volumes to the fence guard.
        const keepAlive = setInterval(() => undefined, 2 ** 30);
        const shutdown = () => {
          clearInterval(keepAlive);
          running.stop().then(
            () => process.exit(0),
            (err: unknown) => {
              note(`polly agent: stop failed: ${(err as Error).message}`);
              process.exit(1);
            },
          );
        };
        process.on('SIGINT', shutdown);
        process.on('SIGTERM', shutdown);
      },
    );

  program
    .command('agent-fence-guard', { hidden: true })
    .description('Fence this host\'s volumes at the self-fence deadline when the agent died (started by polly agent)')
    .requiredOption('--state-dir <dir>', 'the agent\'s state directory')
    .requiredOption('--agent-pid <pid>', 'the agent it guards', (v) => Number(v))
    .option('--data-dir <dir>', 'Polly data directory for drivers\' private state', './data')
    .option('--host-pid <pid>', 'a process whose mount namespace is this host\'s', (v) => Number(v))
    .action(async (opts: { stateDir: string; agentPid: number; dataDir: string; hostPid?: number }) => {
      const { pino } = await import('pino');
      const { runFenceGuard } = await import('../../agent/fence-guard.js');
      const log = pino({ level: process.env.POLLY_LOG_LEVEL ?? 'info', base: { app: 'polly-fence-guard' } });
      process.on('SIGTERM', () => process.exit(0));
      await runFenceGuard({ stateDir: resolve(opts.stateDir), dataDir: resolve(opts.dataDir), agentPid: opts.agentPid, hostPid: opts.hostPid, log });
      process.exit(0);
    });
}
