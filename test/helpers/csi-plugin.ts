import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { POLLY_BIN, REPO_ROOT } from './process.js';

/**
 * A real CSI plugin for the `csi` driver's tests: `polly server` as a separate process, fronting one
 * btrfs pool, serving CSI Identity + Controller on one socket (bound to one service) and, through its
 * embedded agent, CSI Node on another. It can be killed and started again on the same sockets, state
 * and pool (a plugin restart).
 */
export interface PollyCsiPlugin {
  controllerEndpoint: string;
  nodeEndpoint: string;
  /** The node id the plugin's NodeGetInfo answers (ControllerPublish's node_id). */
  nodeId: string;
  /** The token of the service the plugin's controller socket serves (sent in CSI `secrets`). */
  token: string;
  /** The plugin's admin token (its REST API and /metrics). */
  adminToken: string;
  /** The plugin's REST API, to look at its volumes without the driver under test. */
  url(): string;
  rest(method: string, path: string): Promise<{ status: number; body: unknown }>;
  /** SIGKILL (as a crash), then start again on the same configuration. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

const ADMIN = 'csi-plugin-admin-token-0123456789abcdef';
const TOKEN = 'csi-plugin-proxy-token-0123456789abcdef';

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** Starts the plugin in `dir` (its data, config and sockets) over the btrfs directory `poolPath`. */
export async function startPollyCsiPlugin(dir: string, poolPath: string, opts: { nodeId?: string } = {}): Promise<PollyCsiPlugin> {
  const nodeId = opts.nodeId ?? 'csi-plugin-node';
  const controllerEndpoint = `unix://${join(dir, 'controller.sock')}`;
  const nodeEndpoint = `unix://${join(dir, 'node.sock')}`;
  const configFile = join(dir, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      listen: '127.0.0.1:0',
      dataDir: join(dir, 'data'),
      adminToken: ADMIN,
      logLevel: 'warn',
      pools: [{ name: 'btrfs', driver: 'btrfs', path: poolPath }],
      services: [{ name: 'proxy', tokens: [TOKEN] }],
      csi: [{ endpoint: controllerEndpoint, service: 'proxy' }],
      agent: { enabled: true, nodeId, stateDir: join(dir, 'agent'), csiSocket: nodeEndpoint },
    }),
  );
  let out = '';
  const start = async (): Promise<Running> => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('POLLY_')) delete env[key];
    const child = spawn(process.execPath, [POLLY_BIN, 'server', '--config', configFile], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const from = out.length;
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`CSI plugin did not start:\n${out}`)), 60_000);
      const check = (d: Buffer) => {
        out += d.toString();
        const m = /(https?:\/\/[\d.]+:\d+)/.exec(out.slice(from));
        // The node socket listens once the embedded agent started, after the REST address is printed.
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`CSI plugin exited before it started:\n${out}`));
      });
    });
    return { child, url, exited };
  };
  let running: Running | undefined = await start();
  const rest = async (method: string, path: string) => {
    if (!running) throw new Error('CSI plugin is not running');
    const res = await fetch(`${running.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  };
  const kill = async () => {
    if (!running) return;
    const r = running;
    running = undefined;
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exited;
  };
  return {
    controllerEndpoint,
    nodeEndpoint,
    nodeId,
    token: TOKEN,
    adminToken: ADMIN,
    url: () => running?.url ?? '',
    rest,
    async restart() {
      await kill();
      running = await start();
    },
    kill,
    async stop() {
      if (!running) return;
      const r = running;
      running = undefined;
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
      await r.exited;
      clearTimeout(timer);
    },
    output: () => out,
  };
}
