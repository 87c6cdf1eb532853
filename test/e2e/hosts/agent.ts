import { spawn, type ChildProcess } from 'node:child_process';
import { POLLY_BIN, REPO_ROOT } from '../../helpers/process.js';
import type { DockerHost } from './dockerd.js';
import { killGroup, stopGroup, waitFor } from './exec.js';

export const DOCKER_PLUGIN_SOCKET = '/run/docker/plugins/polly.sock';

/** A real `polly agent` inside a Docker host's mount and network namespaces, serving the plugin to that dockerd only. */
export class AgentProcess {
  readonly #child: ChildProcess;
  #out = '';
  readonly #exited: Promise<void>;
  #gone = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout?.on('data', (d: Buffer) => (this.#out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.#out += d.toString()));
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.#gone = true;
        resolve();
      }),
    );
  }

  static async start(
    host: DockerHost,
    opts: { serverUrl: string; token: string; nodeId: string; stateDir: string; dataDir: string; extraArgs?: string[] },
    timeoutMs = 30_000,
  ): Promise<AgentProcess> {
    // nsenter execs node (no pid namespace, so no fork): the child's pid is the agent's.
    const child = spawn(
      'nsenter',
      [
        `--mount=${host.mountNamespace}`,
        `--net=/run/netns/${host.netns}`,
        process.execPath,
        POLLY_BIN,
        'agent',
        '--node', opts.nodeId,
        '--state-dir', opts.stateDir,
        '--data-dir', opts.dataDir,
        '--docker-socket', DOCKER_PLUGIN_SOCKET,
        // Two hosts share one kernel: a self-fence must touch this host's mount namespaces only.
        '--host-pid', String(host.pid),
        ...(opts.extraArgs ?? []),
      ],
      {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, POLLY_URL: opts.serverUrl, POLLY_TOKEN: opts.token, POLLY_LOG_LEVEL: 'info' },
      },
    );
    const agent = new AgentProcess(child);
    try {
      await waitFor(`agent ${opts.nodeId}`, timeoutMs, () => {
        if (agent.#gone) throw new Error(`agent ${opts.nodeId} exited before it was ready:\n${agent.#out}`);
        return agent.#out.includes(`Polly agent for node ${opts.nodeId} connected`) ? true : undefined;
      }, 50);
    } catch (err) {
      await agent.kill9();
      throw err;
    }
    return agent;
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  output(): string {
    return this.#out;
  }

  /** SIGKILL (the agent gets no chance to clean up), and wait until it is gone. */
  async kill9(): Promise<void> {
    if (!this.#gone && this.pid > 0) killGroup(this.pid, 'SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (!this.#gone && this.pid > 0) await stopGroup(this.pid, 10_000);
    await this.#exited;
  }
}
