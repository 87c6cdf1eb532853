import { isIPv4, isIPv6 } from 'node:net';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PollyError } from '../../core/errors.js';
import { run, stderrOf } from '../system/exec.js';

/**
 * One Ceph client identity, as the `ceph`/`rbd` CLIs and rbd-fuse use it: a private ceph.conf (mon host,
 * no admin socket, no log file, no pid file) and a keyring readable by root only, in a directory of its
 * own. Nothing is read from or written to /etc/ceph. The key never appears on a command line.
 */
export interface CephIdentity {
  /** `mon host` as ceph.conf takes it (`10.0.0.1:6789,10.0.0.2` or `[v2:127.0.0.1:3300]`). */
  monHost: string;
  /** The cephx user without `client.` (`admin`, `polly`). */
  user: string;
  /** The cephx secret key (base64), or undefined when `keyring` names a keyring file on this host. */
  key?: string | undefined;
  keyring?: string | undefined;
  /** More `[client]` settings (`rbd cache = false`, …), as ceph.conf takes them. */
  clientSettings?: Readonly<Record<string, string>> | undefined;
}

export class CephClient {
  readonly #dir: string;
  readonly #identity: CephIdentity;
  #ready: Promise<void> | undefined;

  constructor(dir: string, identity: CephIdentity) {
    this.#dir = dir;
    this.#identity = identity;
  }

  /**
   * The server's own client of a Ceph pool (`monHost`, `user`, `key`/`keyring` of its parameters), its
   * files in the pool's controller directory under `<dataDir>/<driver>/<pool>/controller`.
   */
  static forController(driver: string, ctx: { poolName: string; dataDir: string; parameters: Record<string, string> }): CephClient {
    return new CephClient(join(ctx.dataDir, driver, ctx.poolName, 'controller'), {
      monHost: ctx.parameters.monHost ?? '',
      user: ctx.parameters.user ?? 'admin',
      key: ctx.parameters.key,
      keyring: ctx.parameters.keyring,
    });
  }

  get conf(): string {
    return join(this.#dir, 'ceph.conf');
  }

  get user(): string {
    return this.#identity.user;
  }

  /** Writes the conf and keyring once (again after `forget`). */
  prepare(): Promise<void> {
    this.#ready ??= writeClientFiles(this.#dir, this.#identity).catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** The CLI arguments that select this identity. */
  args(): string[] {
    return ['-c', this.conf, '--id', this.#identity.user];
  }

  /** Runs `rbd … --format json` and parses the answer. */
  async rbdJson<T>(args: readonly string[]): Promise<T> {
    const out = await this.rbd([...args, '--format', 'json']);
    return (out.trim() === '' ? null : JSON.parse(out)) as T;
  }

  async rbd(args: readonly string[]): Promise<string> {
    await this.prepare();
    return (await run('rbd', [...this.args(), ...args], { timeoutMs: 120_000 })).stdout;
  }

  /** Runs the `ceph` CLI and returns its stdout (for commands that answer no JSON, e.g. `osd blocklist add`). */
  async ceph(args: readonly string[]): Promise<string> {
    await this.prepare();
    return (await run('ceph', [...this.args(), '--connect-timeout', '30', ...args], { timeoutMs: 60_000 })).stdout;
  }

  async cephJson<T>(args: readonly string[]): Promise<T> {
    await this.prepare();
    const { stdout } = await run('ceph', [...this.args(), '--connect-timeout', '30', ...args, '--format', 'json'], { timeoutMs: 60_000 });
    return JSON.parse(stdout) as T;
  }

  /** Removes the client files (the keyring first). */
  async forget(): Promise<void> {
    this.#ready = undefined;
    await rm(join(this.#dir, 'keyring'), { force: true });
    await rm(this.conf, { force: true });
  }
}

async function writeClientFiles(dir: string, id: CephIdentity): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let keyring = id.keyring;
  if (id.key !== undefined) {
    if (!/^[A-Za-z0-9+/=]+$/.test(id.key)) throw new PollyError('INVALID_POOL_PARAMETER', 'the Ceph key is not a base64 cephx secret');
    keyring = join(dir, 'keyring');
    await writeFile(keyring, `[client.${id.user}]\n\tkey = ${id.key}\n`, { mode: 0o600 });
    await chmod(keyring, 0o600);
  }
  if (keyring === undefined) throw new PollyError('INVALID_POOL_PARAMETER', `no key or keyring for Ceph user ${id.user}`);
  const conf = [
    '[global]',
    `mon host = ${id.monHost}`,
    `keyring = ${keyring}`,
    'admin socket =',
    'log to file = false',
    'log to stderr = false',
    'err to stderr = true',
    '[client]',
    'pid file =',
    'admin socket =',
    ...Object.entries(id.clientSettings ?? {}).map(([k, v]) => `${k} = ${v}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'ceph.conf'), conf, { mode: 0o600 });
}

/** Whether a failed CLI call means "no such object" (ENOENT). */
export function isNotFound(err: unknown): boolean {
  return /\(2\) No such file or directory|No such file or directory|does not exist|not found/i.test(stderrOf(err));
}

/**
 * The `ceph osd blocklist add` entry that covers every client instance at a node address (`IP:0/0`,
 * IPv6 in brackets as Ceph writes entity addresses), or undefined for loopback and link-local
 * addresses (and anything that is not an IP address).
 */
export function blocklistEntryFor(address: string): string | undefined {
  const a = address.trim().replace(/%.*$/, '');
  if (isIPv4(a)) return /^127\.|^169\.254\./.test(a) ? undefined : `${a}:0/0`;
  if (isIPv6(a)) {
    const lower = a.toLowerCase();
    if (lower === '::1' || /^fe[89ab][0-9a-f]:/.test(lower)) return undefined;
    return `[${a}]:0/0`;
  }
  return undefined;
}
