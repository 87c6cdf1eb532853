import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, killGroup, run, stopGroup, waitFor, type RunResult } from './exec.js';

/**
 * One Docker host: a dockerd in its own network namespace (`netns`) and its own mount namespace with a
 * tmpfs on /run/docker, so `/run/docker/plugins` is its own. Everything else it keeps under `dir`.
 */
export class DockerHost {
  readonly name: string;
  readonly dir: string;
  readonly netns: string;
  readonly socket: string;
  /** When set, the host gets its own UTS namespace with this hostname (Swarm names its nodes by it). */
  readonly hostname: string | undefined;
  #child: ChildProcess | undefined;
  #pid = 0;

  constructor(name: string, dir: string, netns: string, opts: { hostname?: string } = {}) {
    this.name = name;
    this.dir = dir;
    this.netns = netns;
    this.socket = join(dir, 'docker.sock');
    this.hostname = opts.hostname;
  }

  get pid(): number {
    return this.#pid;
  }

  /** dockerd's mount namespace, for processes that must see its /run/docker. */
  get mountNamespace(): string {
    return `/proc/${this.#pid}/ns/mnt`;
  }

  get log(): string {
    return readFileSync(join(this.dir, 'dockerd.log'), 'utf8');
  }

  async start(timeoutMs = 30_000): Promise<void> {
    await mkdir(join(this.dir, 'data'), { recursive: true });
    await mkdir(join(this.dir, 'exec'), { recursive: true });
    const out = openSync(join(this.dir, 'dockerd.log'), 'a');
    const dockerd = [
      'dockerd',
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--data-root', join(this.dir, 'data'),
      '--exec-root', join(this.dir, 'exec'),
      '--pidfile', join(this.dir, 'dockerd.pid'),
      '-H', `unix://${this.socket}`,
    ];
    // The new mount namespace starts as a copy of the root one, including other tests' loop-device
    // mounts under the temp directory: let go of those copies (lazily, privately) so this host never
    // keeps someone else's filesystem or loop device busy. Then unshare and sh exec into nsenter and
    // dockerd: the child's pid is dockerd's.
    const script = [
      ...(this.hostname !== undefined ? ['hostname "$POLLY_E2E_HOSTNAME"'] : []),
      'awk -v t="$POLLY_E2E_TMP/" \'index($2, t) == 1 { print $2 }\' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done',
      'mkdir -p /run/docker',
      'mount -t tmpfs -o mode=0711 polly-e2e-run-docker /run/docker',
      'exec "$@"',
    ].join(' && ');
    this.#child = spawn('unshare', ['-m', ...(this.hostname !== undefined ? ['-u'] : []), '--propagation', 'private', 'sh', '-c', script, 'sh', 'nsenter', `--net=/run/netns/${this.netns}`, ...dockerd], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, POLLY_E2E_TMP: tmpdir(), ...(this.hostname !== undefined ? { POLLY_E2E_HOSTNAME: this.hostname } : {}) },
    });
    closeSync(out);
    this.#pid = this.#child.pid ?? 0;
    const exited = new Promise<void>((resolve) => this.#child?.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor(`dockerd of ${this.name}`, timeoutMs, async () => {
      if (gone) throw new Error(`dockerd of ${this.name} exited:\n${this.log}`);
      if (!existsSync(this.socket)) return undefined;
      const r = await run('docker', ['-H', `unix://${this.socket}`, 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
      return r.code === 0 ? true : undefined;
    });
  }

  /** The docker CLI against this host. */
  docker(args: string[], opts: { timeoutMs?: number; input?: Buffer } = {}): Promise<RunResult> {
    return run('docker', ['-H', `unix://${this.socket}`, ...args], { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input ? { input: opts.input } : {}) });
  }

  /**
   * Stops dockerd (a graceful stop kills its containers), then SIGKILLs whatever of this host is left:
   * its process group, and containerd shims and their containers (found by this host's directory in
   * their command line). The mount namespace goes with its last process.
   */
  async stop(): Promise<void> {
    if (this.#pid > 0) await stopGroup(this.#pid, 20_000);
    for (let round = 0; round < 3; round++) {
      const left = this.#leftovers();
      if (left.length === 0) break;
      for (const pid of left) killGroup(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Processes whose command line names this host's directory, and all their descendants. */
  #leftovers(): number[] {
    const parent = new Map<number, number>();
    const roots: number[] = [];
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parent.set(pid, Number(fields[1]));
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dir)) roots.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    const out = new Set(roots.filter(alive));
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of parent) {
        if (!out.has(pid) && out.has(ppid) && alive(pid)) {
          out.add(pid);
          grew = true;
        }
      }
    }
    return [...out];
  }
}
