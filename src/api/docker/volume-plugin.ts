import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { NodeAgent } from '../../agent/agent.js';
import { detachedReferences } from '../../agent/lazy-release.js';
import { isPollyError, PollyError } from '../../core/errors.js';
import type { AccessMode } from '../../core/ports/driver.js';
import type { Page, Profile, Volume } from '../../core/types.js';
import { parseSize } from '../../cli/sizes.js';
import type { RpcTimer } from '../../app/telemetry.js';

export const DEFAULT_DOCKER_SOCKET = '/run/docker/plugins/polly.sock';
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
const DEFAULT_SIZE = 2 ** 30;

type Body = Record<string, unknown>;

const KNOWN_CALLS = new Set(
  ['Plugin.Activate', 'VolumeDriver.Capabilities', 'VolumeDriver.Create', 'VolumeDriver.Remove', 'VolumeDriver.Mount', 'VolumeDriver.Unmount', 'VolumeDriver.Path', 'VolumeDriver.Get', 'VolumeDriver.List'].map((c) => `/${c}`),
);

export interface DockerPluginOptions {
  /** Unix socket path (default {@link DEFAULT_DOCKER_SOCKET}). */
  socket?: string | undefined;
  /**
   * How volumes are named: by their name in the agent's service (Docker), or by Polly volume id (Cloud
   * Foundry's volman passes the binding's `volume_id`; an agent with a node credential serves several
   * services, whose names may clash).
   */
  volumeNames?: 'name' | 'id' | undefined;
  log: Logger;
  /** Calls wait for this (the agent's start: node registered, volumes reconciled) before they run. */
  ready?: Promise<void> | undefined;
  /** Times every call into `polly_rpc_duration_seconds{frontend="docker",method,code}` (code: ok or the error code). */
  rpc?: RpcTimer | undefined;
  /**
   * How long a Mount of a volume another node holds keeps retrying (default 0: refused at once). Under
   * Swarm a drained node's task and its replacement overlap: the new task's Mount comes while the old one
   * is still stopping, and a refused task waits out Swarm's restart delay (5 s by default).
   */
  mountWaitSeconds?: number | undefined;
}

/** Polly volume ids, as the binding's `device.volume_id` carries them. */
const VOLUME_ID_RE = /^vol-[0-9a-f]{28}$/;

/** What CF volman passes in Create's Opts: the binding's `mount_config` (nothing secret). */
interface MountConfig {
  accessMode: AccessMode;
  readOnly: boolean;
}

export interface DockerPluginHandle {
  socket: string;
  stop(): Promise<void>;
}

/**
 * Docker's legacy VolumeDriver plugin protocol over the node agent. Volumes are the agent's service's,
 * addressed by name; Mount attaches (RWO) + stages + publishes the volume on this node under the agent's
 * mount directory, reference-counted by the caller's mount ID; the last Unmount unpublishes, unstages and
 * detaches, so another host can have it. Errors go in `Err`.
 */
export class DockerVolumePlugin {
  readonly #agent: NodeAgent;
  readonly #log: Logger;
  /** Volume name → mount IDs holding it on this node (volman sends none: each such Mount counts once). */
  readonly #mounts = new Map<string, Set<string>>();
  /** Volume id → its release, waiting for a lazily unmounted target to be let go (see lazy-release.ts). */
  readonly #releasing = new Map<string, Promise<void>>();
  #stopped = false;
  /** Volume id → the mount_config volman declared with Create (id naming only). */
  readonly #configs = new Map<string, MountConfig>();
  readonly #names: 'name' | 'id';
  #anonymous = 0;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #mountWaitMs: number;

  constructor(agent: NodeAgent, log: Logger, ready: Promise<void>, names: 'name' | 'id' = 'name', opts: { mountWaitSeconds?: number | undefined } = {}) {
    this.#agent = agent;
    this.#log = log;
    this.#names = names;
    this.#queue = ready.catch(() => undefined);
    this.#mountWaitMs = Math.max(0, (opts.mountWaitSeconds ?? 0) * 1000);
  }

  #nameOf(v: Volume): string {
    return this.#names === 'id' ? v.id : v.name;
  }

  /** One request at a time: Mount/Unmount reference counts and attach/detach must not interleave. */
  handle(path: string, body: Body): Promise<Body> {
    if (path === '/VolumeDriver.Mount' && this.#mountWaitMs > 0) return this.#mountWaiting(body);
    return this.#enqueue(path, body);
  }

  #enqueue(path: string, body: Body): Promise<Body> {
    const run = this.#queue.then(() => this.#dispatch(path, body));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Mount, retried while another node holds the volume, up to the mount wait. Each try queues anew, so
   * the calls of other volumes (and this node's Unmounts) go on meanwhile.
   */
  async #mountWaiting(body: Body): Promise<Body> {
    const deadline = Date.now() + this.#mountWaitMs;
    for (let tries = 1; ; tries++) {
      try {
        const answer = await this.#enqueue('/VolumeDriver.Mount', body);
        if (tries > 1) this.#log.info({ name: body.Name, tries }, 'mounted once the other node let go');
        return answer;
      } catch (err) {
        const holder = isPollyError(err) && err.code === 'VOLUME_BUSY' ? err.details?.node : undefined;
        if (typeof holder !== 'string' || holder === this.#agent.nodeId || Date.now() >= deadline) throw err;
        await sleep(200);
      }
    }
  }

  async #dispatch(path: string, body: Body): Promise<Body> {
    const name = typeof body.Name === 'string' ? body.Name : '';
    switch (path) {
      case '/Plugin.Activate':
        return { Implements: ['VolumeDriver'] };
      case '/VolumeDriver.Capabilities':
        return { Capabilities: { Scope: 'global' } };
      case '/VolumeDriver.Create':
        if (this.#names === 'id') await this.#declare(requireName(name), (body.Opts ?? {}) as Record<string, unknown>);
        else await this.#create(requireName(name), (body.Opts ?? {}) as Record<string, string>);
        return { Err: '' };
      case '/VolumeDriver.Remove': {
        // Under Swarm every node that ran a task with the volume knows it and may be asked to remove it:
        // the first removal deletes it, the others find it gone (or going), which is what they were asked
        // for. A deletion in progress is the server's intent: it finishes it, or the volume shows `error`.
        const v = await this.#find(requireName(name));
        if (!v || v.status === 'deleting') return { Err: '' };
        if (this.#mounts.has(name)) throw new PollyError('VOLUME_BUSY', `volume ${name} (${v.id}) is mounted on this node`);
        await this.#released(v);
        // Under id naming the volumes belong to the broker's instances: Remove forgets the declaration only.
        if (this.#names === 'id') this.#configs.delete(v.id);
        else await this.#agent.client.call('DELETE', `/v1/volumes/${encodeURIComponent(v.id)}`).catch((err: unknown) => {
          const goneMeanwhile = isPollyError(err) && (err.code === 'VOLUME_NOT_FOUND' || (err.code === 'INVALID_STATE' && err.details?.status === 'deleting'));
          if (!goneMeanwhile) throw err;
        });
        return { Err: '' };
      }
      case '/VolumeDriver.Mount':
        return { Mountpoint: await this.#mount(requireName(name), typeof body.ID === 'string' ? body.ID : ''), Err: '' };
      case '/VolumeDriver.Unmount':
        await this.#unmount(requireName(name), typeof body.ID === 'string' ? body.ID : '');
        return { Err: '' };
      case '/VolumeDriver.Path': {
        const v = await this.#require(requireName(name));
        return { Mountpoint: this.#mountpoint(v), Err: '' };
      }
      case '/VolumeDriver.Get': {
        const v = await this.#require(requireName(name));
        return { Volume: this.#view(v, await this.#holders(v.id)), Err: '' };
      }
      case '/VolumeDriver.List': {
        const [volumes, holders] = await Promise.all([this.#all(), this.#holders()]);
        return { Volumes: volumes.map((v) => this.#view(v, holders)), Err: '' };
      }
      default:
        throw new PollyError('NOT_FOUND', `unknown plugin call ${path}`);
    }
  }

  /** Mounted here: by a Mount this process saw, or (after an agent restart) a target the agent restored. */
  #mountpoint(v: Volume): string {
    const target = join(this.#agent.mountRoot, v.id);
    return this.#mounts.has(this.#nameOf(v)) || this.#agent.heldVolume(v.id)?.targets[target] !== undefined ? target : '';
  }

  /**
   * Docker's view of a volume. `Status` is the server's and the same on every node (global scope: Swarm
   * and `docker volume inspect` on any node see where the volume is held); `Mountpoint` is the one
   * node-local field, set on the node that has it mounted.
   */
  #view(v: Volume, holders: ReadonlyMap<string, string[]>): Body {
    const status = { id: v.id, pool: v.pool, profile: v.profile, sizeBytes: v.sizeBytes, status: v.status, attachedTo: holders.get(v.id) ?? [] };
    return { Name: this.#nameOf(v), Mountpoint: this.#mountpoint(v), Status: status };
  }

  /** Volume id → the nodes holding it (live attachments), sorted; one volume's, or all the caller sees. */
  async #holders(volumeId?: string): Promise<Map<string, string[]>> {
    const q = volumeId === undefined ? '' : `?volume=${encodeURIComponent(volumeId)}`;
    const { items } = await this.#agent.client.call<{ items: Array<{ volumeId: string; node: string }> }>('GET', `/v1/attachments${q}`);
    const out = new Map<string, string[]>();
    for (const a of items) out.set(a.volumeId, [...(out.get(a.volumeId) ?? []), a.node].sort());
    return out;
  }

  async #all(): Promise<Volume[]> {
    const out: Volume[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/volumes?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: Page<Volume> = await this.#agent.client.call<Page<Volume>>('GET', q);
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  async #find(name: string): Promise<Volume | undefined> {
    if (this.#names === 'id') {
      if (!VOLUME_ID_RE.test(name)) return undefined;
      try {
        return await this.#agent.client.call<Volume>('GET', `/v1/volumes/${encodeURIComponent(name)}`);
      } catch (err) {
        if (err instanceof PollyError && err.code === 'VOLUME_NOT_FOUND') return undefined;
        throw err;
      }
    }
    return (await this.#all()).find((v) => v.name === name);
  }

  /**
   * CF volman's Create: the volume exists (the broker provisioned it); Create declares the binding's
   * mount_config for the Mount that follows. Known keys only: a typo must not silently mount read-write.
   */
  async #declare(id: string, opts: Record<string, unknown>): Promise<void> {
    const known = new Set(['access_mode', 'readonly', 'instance_id', 'binding_id']);
    const unknown = Object.keys(opts).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new PollyError('VALIDATION_FAILED', `unknown mount_config key(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
    const mode = opts.access_mode ?? 'RWO';
    if (mode !== 'RWO' && mode !== 'RWX' && mode !== 'ROX' && mode !== 'RWOP') throw new PollyError('VALIDATION_FAILED', `mount_config.access_mode ${JSON.stringify(mode)} is not RWO, RWOP, ROX or RWX`);
    const readOnly = opts.readonly === true || opts.readonly === 'true' || mode === 'ROX';
    const v = await this.#require(id);
    this.#configs.set(v.id, { accessMode: mode, readOnly });
  }

  /**
   * How a Docker volume is attached: Docker has no access modes, so the volume's profile says, by the
   * mode it lists first (the default profile and most profiles: RWO; a profile `accessModes: [RWX]` on a
   * shared file system: RWX, mounted on several hosts at once; ROX: read-only).
   */
  async #profileMode(v: Volume): Promise<MountConfig> {
    const { items } = await this.#agent.client.call<{ items: Profile[] }>('GET', '/v1/profiles');
    const mode = items.find((p) => p.name === v.profile)?.accessModes[0] ?? 'RWO';
    return { accessMode: mode, readOnly: mode === 'ROX' };
  }

  async #require(name: string): Promise<Volume> {
    const v = await this.#find(name);
    if (!v) throw new PollyError('VOLUME_NOT_FOUND', `no such volume: ${name}`);
    return v;
  }

  async #create(name: string, opts: Record<string, string>): Promise<void> {
    const known = new Set(['size', 'profile', 'fsType']);
    const unknown = Object.keys(opts).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new PollyError('VALIDATION_FAILED', `unknown option(s) ${unknown.join(', ')} (known: size, profile, fsType)`);
    let sizeBytes = DEFAULT_SIZE;
    if (opts.size !== undefined) {
      try {
        sizeBytes = parseSize(opts.size);
      } catch (err) {
        throw new PollyError('VALIDATION_FAILED', `size: ${(err as Error).message}`);
      }
    }
    const profileName = opts.profile ?? 'default';
    if (opts.fsType !== undefined) {
      const { items } = await this.#agent.client.call<{ items: Profile[] }>('GET', '/v1/profiles');
      const profile = items.find((p) => p.name === profileName);
      if (!profile) throw new PollyError('PROFILE_NOT_FOUND', `profile ${profileName} not found`);
      if (profile.volumeMode !== 'filesystem' || profile.fsType !== opts.fsType) {
        throw new PollyError('VALIDATION_FAILED', `profile ${profileName} makes ${profile.volumeMode === 'block' ? 'raw block volumes' : `${profile.fsType} volumes`}, not ${opts.fsType}; choose a profile with fsType ${opts.fsType}`);
      }
    }
    const existing = await this.#find(name);
    if (existing) return sameVolume(existing, opts, sizeBytes);
    try {
      // Made for this node: Docker (and Swarm, wherever the task landed) mounts it here next, so only a
      // pool this node reaches will do.
      await this.#agent.client.call('POST', '/v1/volumes', { name, sizeBytes, node: this.#agent.nodeId, ...(opts.profile !== undefined ? { profile: opts.profile } : {}) });
    } catch (err) {
      // Swarm starts a global service's tasks (or a rescheduled task races a `docker volume create`)
      // on several nodes at once, each Create with the same name and options: one node makes the
      // volume, the others find it made, which is what they asked for.
      if (!(err instanceof PollyError && err.code === 'VOLUME_NAME_TAKEN')) throw err;
      const made = await this.#find(name);
      if (!made) throw err;
      sameVolume(made, opts, sizeBytes);
    }
  }

  async #mount(name: string, callerId: string): Promise<string> {
    const v = await this.#require(name);
    await this.#released(v);
    // volman sends no ID: each of its Mounts is one more holder, released by one Unmount.
    const id = callerId === '' ? `\0volman-${++this.#anonymous}` : callerId;
    const target = join(this.#agent.mountRoot, v.id);
    const ids = this.#mounts.get(name);
    if (ids) {
      ids.add(id);
      return target;
    }
    if (this.#mountpoint(v) !== '') {
      this.#mounts.set(name, new Set([id]));
      return target;
    }
    const config = this.#configs.get(v.id) ?? (await this.#profileMode(v));
    await this.#agent.attach(v.id, config.accessMode, config.readOnly || undefined);
    try {
      await this.#agent.publish(v.id, target, config.readOnly);
    } catch (err) {
      await this.#agent.detach(v.id).catch((e: unknown) => this.#log.warn({ err: e }, 'detach after a failed mount failed'));
      throw err;
    }
    this.#mounts.set(name, new Set([id]));
    return target;
  }

  async #unmount(name: string, id: string): Promise<void> {
    const ids = this.#mounts.get(name);
    if (ids) {
      if (id === '') {
        const anonymous = [...ids].find((x) => x.startsWith('\0volman-'));
        if (anonymous !== undefined) ids.delete(anonymous);
      } else ids.delete(id);
      if (ids.size > 0) return;
      this.#mounts.delete(name);
    }
    const v = await this.#require(name);
    // Without a count (the agent restarted), a mount the agent restored is released by the first Unmount.
    if (!ids && this.#mountpoint(v) === '') return;
    const { lazy, device, root } = await this.#agent.unpublishLazily(v.id, join(this.#agent.mountRoot, v.id));
    if (!lazy || device === undefined) {
      await this.#agent.detach(v.id);
      return;
    }
    // Docker (and Cloud Foundry's volume drivers) expect Unmount to succeed while a process still has a
    // file open: the mount is gone from every mount table now, but the volume is still being used through
    // it. It stays held by this node (attachment live, heartbeats go on) until the kernel has let it go;
    // only then is it detached, so another node can never write to it at the same time.
    const release = this.#detachWhenUnused(v, device, root)
      .catch((err: unknown) => this.#log.error({ err, volumeId: v.id, name: v.name }, 'detach after a lazy unmount failed; the volume stays attached to this node'))
      .finally(() => this.#releasing.delete(v.id));
    this.#releasing.set(v.id, release);
  }

  async #detachWhenUnused(v: Volume, device: number, root: string): Promise<void> {
    for (let round = 0; !this.#stopped; round++) {
      const refs = await detachedReferences(device, root);
      if (refs.length === 0) {
        await this.#agent.detach(v.id);
        this.#log.info({ volumeId: v.id, name: v.name }, 'lazily unmounted volume let go: detached');
        return;
      }
      if (round % 40 === 0) this.#log.info({ volumeId: v.id, name: v.name, references: refs.slice(0, 5) }, 'lazily unmounted volume still in use; it stays attached to this node');
      await sleep(250);
    }
  }

  /** Waits (10 s at most) for a lazy unmount of the volume to be let go; VOLUME_BUSY if it is not. */
  async #released(v: Volume): Promise<void> {
    const pending = this.#releasing.get(v.id);
    if (!pending) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)));
    const outcome = await Promise.race([pending.then(() => 'released' as const), timeout]).finally(() => clearTimeout(timer));
    if (outcome === 'timeout') {
      throw new PollyError('VOLUME_BUSY', `volume ${v.name} (${v.id}) was unmounted lazily and a process on this node still uses it`);
    }
  }

  /** Stops waiting for lazy releases; the volumes stay held by the agent (its state file restores them). */
  stop(): void {
    this.#stopped = true;
  }
}

/**
 * Create of a name that exists is fine when the options asked agree with the volume (every node of a
 * Swarm service sends the service's `volume-opt`s); an option that disagrees is VOLUME_NAME_TAKEN.
 */
function sameVolume(existing: Volume, opts: Record<string, string>, sizeBytes: number): void {
  if (opts.size !== undefined && existing.sizeBytes !== sizeBytes) {
    throw new PollyError('VOLUME_NAME_TAKEN', `volume ${existing.name} exists with ${existing.sizeBytes} bytes, not ${sizeBytes}`);
  }
  if (opts.profile !== undefined && existing.profile !== opts.profile) {
    throw new PollyError('VOLUME_NAME_TAKEN', `volume ${existing.name} exists with profile ${existing.profile}, not ${opts.profile}`);
  }
}

function requireName(name: string): string {
  if (name === '') throw new PollyError('VALIDATION_FAILED', 'Name is required');
  return name;
}

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const parsed: unknown = JSON.parse(text);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Body) : {};
}

/** Serves the plugin on a unix socket; dockerd discovers `/run/docker/plugins/<name>.sock` by itself. */
export async function startDockerPlugin(agent: NodeAgent, opts: DockerPluginOptions): Promise<DockerPluginHandle> {
  const socket = opts.socket ?? DEFAULT_DOCKER_SOCKET;
  const log = opts.log.child({ frontend: 'docker', socket });
  const plugin = new DockerVolumePlugin(agent, log, opts.ready ?? Promise.resolve(), opts.volumeNames, { mountWaitSeconds: opts.mountWaitSeconds });
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: Body) => {
      res.writeHead(status, { 'content-type': CONTENT_TYPE });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      let body: Body;
      try {
        body = await readBody(req);
      } catch {
        return send(400, { Err: 'request body is not valid JSON' });
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      // Unknown paths share one label, so a scanner cannot grow the metric without bound.
      const end = opts.rpc?.startTimer({ frontend: 'docker', method: KNOWN_CALLS.has(path) ? path.slice(1) : 'unknown' });
      try {
        send(200, await plugin.handle(path, body));
        end?.({ code: 'ok' });
      } catch (err) {
        end?.({ code: isPollyError(err) ? err.code : 'INTERNAL' });
        const message = isPollyError(err) ? err.message : `internal error: ${(err as Error).message}`;
        if (!isPollyError(err)) log.error({ err, path }, 'docker plugin call failed');
        const reply: Body = { Err: message };
        if (path === '/VolumeDriver.Get') reply.Volume = null;
        if (path === '/VolumeDriver.Mount' || path === '/VolumeDriver.Path') reply.Mountpoint = '';
        // Docker reads `Err` from any answer; an unknown call is a 404 like any HTTP server's.
        send(KNOWN_CALLS.has(path) ? 200 : 404, reply);
      }
    })();
  });
  await mkdir(dirname(socket), { recursive: true });
  const existing = await lstat(socket).catch(() => undefined);
  if (existing && !existing.isSocket()) throw new PollyError('VALIDATION_FAILED', `docker plugin socket ${socket} exists and is not a socket`);
  if (existing) await unlink(socket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  log.info('docker volume plugin listening');
  return {
    socket,
    async stop() {
      plugin.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(socket).catch(() => undefined);
    },
  };
}
