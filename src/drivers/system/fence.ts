import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { deviceNumberOf, parseMountInfo, type MountEntry } from './mounts.js';
import { run } from './exec.js';

/** The mounts of one mount namespace, and a process inside it to enter it by. */
export interface NamespaceMounts {
  /** `mnt:[inode]`, the namespace's identity. */
  namespace: string;
  pid: number;
  entries: MountEntry[];
}

/**
 * The process whose mount namespace is this host's (default 1, the init of the kernel). Two "hosts" on
 * one kernel (test harnesses, nested container engines) are told apart by it: a fence touches that
 * namespace, the agent's own, and the namespaces below them (a namespace is below another when one of its
 * processes has a parent living in that other one: a container's init under its engine's shim), never a
 * sibling host's. On an ordinary host every namespace is below init's, so every one is fenced.
 */
let hostRootPid = 1;

/** Sets the process whose mount namespace is this host's (see {@link hostMountNamespaces}). */
export function setFenceHostPid(pid: number): void {
  if (!Number.isInteger(pid) || pid < 1) throw new Error(`host pid must be a positive integer, not ${pid}`);
  hostRootPid = pid;
}

export function fenceHostPid(): number {
  return hostRootPid;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  namespace: string;
}

async function processes(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const [namespace, stat] = await Promise.all([readlink(`/proc/${pid}/ns/mnt`), readFile(`/proc/${pid}/stat`, 'utf8')]);
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid, ppid, namespace });
    } catch {
      // Gone meanwhile, or a kernel thread without a mount namespace to read.
    }
  }
  return out;
}

/**
 * This host's mount namespaces (`mnt:[inode]`) and the processes in them: the namespace of the host
 * pid ({@link setFenceHostPid}), this process's own, and, to a fixed point, every namespace one of whose
 * processes has a parent in a namespace already included.
 */
export async function hostMountNamespaces(): Promise<{ namespaces: Set<string>; pids: Map<number, string> }> {
  const procs = await processes();
  const nsOf = new Map(procs.map((p) => [p.pid, p.namespace]));
  const self = await readlink('/proc/self/ns/mnt');
  const namespaces = new Set([self]);
  const root = nsOf.get(hostRootPid);
  if (root !== undefined) namespaces.add(root);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (namespaces.has(p.namespace)) continue;
      const parent = nsOf.get(p.ppid);
      if (parent !== undefined && namespaces.has(parent)) {
        namespaces.add(p.namespace);
        grew = true;
      }
    }
  }
  const pids = new Map<number, string>();
  for (const p of procs) if (namespaces.has(p.namespace)) pids.set(p.pid, p.namespace);
  return { namespaces, pids };
}

/**
 * Every mount namespace of this host (containers' included, see {@link hostMountNamespaces}), each once,
 * with its mount table, read from /proc/<pid>/mountinfo. Processes that exit while being read are skipped.
 * `host`: a {@link hostMountNamespaces} answer the caller has already (one scan of /proc, not two).
 */
export async function mountNamespaces(host?: Awaited<ReturnType<typeof hostMountNamespaces>>): Promise<NamespaceMounts[]> {
  const seen = new Map<string, NamespaceMounts>();
  const self = await readlink('/proc/self/ns/mnt');
  host ??= await hostMountNamespaces();
  for (const [pid, ns] of host.pids) {
    if (seen.has(ns)) continue;
    try {
      const entries = parseMountInfo(await readFile(`/proc/${pid}/mountinfo`, 'utf8'));
      seen.set(ns, { namespace: ns, pid: ns === self ? process.pid : pid, entries });
    } catch {
      // Gone meanwhile.
    }
  }
  return [...seen.values()];
}

export interface FencedMount {
  namespace: string;
  mountPoint: string;
  /** What was done: made read-only in place, or detached (lazily, so busy mounts go too). */
  action: 'read-only' | 'unmounted';
}

/**
 * Makes every mount that `matches` unwritable, in every mount namespace: a read-only remount of that
 * mount where the kernel allows it (it refuses while a file is open for writing there), else a lazy
 * unmount, so that nothing can open the volume through that path any more. Runs inside each namespace
 * with nsenter. Deepest mounts first. Answers what it did.
 */
export async function fenceMountsEverywhere(matches: (e: MountEntry) => boolean): Promise<FencedMount[]> {
  const done: FencedMount[] = [];
  const self = await readlink('/proc/self/ns/mnt');
  for (const ns of await mountNamespaces()) {
    const targets = ns.entries.filter(matches).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    const seenPoints = new Set<string>();
    for (const m of targets) {
      if (seenPoints.has(m.mountPoint)) continue;
      seenPoints.add(m.mountPoint);
      // Inside another namespace (a container's) its own binaries may be missing: nsenter keeps this
      // host's root (`--root=/`, opened before entering), and the target is reached through the
      // process's root (`/proc/<pid>/root/<mountpoint>`), which leads into that namespace's mount tree;
      // `-c` keeps mount(8) from canonicalising it back to a path of this host.
      const other = ns.namespace !== self;
      const enter = other ? ['nsenter', `--mount=/proc/${ns.pid}/ns/mnt`, '--root=/', '--'] : [];
      const exec = (args: string[]) => (enter.length === 0 ? run(args[0]!, args.slice(1)) : run(enter[0]!, [...enter.slice(1), ...args]));
      const path = other ? `/proc/${ns.pid}/root${m.mountPoint === '/' ? '' : m.mountPoint}` : m.mountPoint;
      try {
        for (let i = 0; i < 16; i++) {
          await exec(['umount', '-c', '-l', path]);
          const again = parseMountInfo(await readFile(`/proc/${ns.namespace === self ? 'self' : ns.pid}/mountinfo`, 'utf8').catch(() => ''));
          if (!again.some((e) => e.mountPoint === m.mountPoint && matches(e))) break;
        }
        // Another namespace's path (a container's) now leads into that namespace's root filesystem: a
        // read-only empty tmpfs in its place makes a write there fail (EROFS) instead of landing elsewhere.
        if (other) await exec(['mount', '-c', '-t', 'tmpfs', '-o', 'ro,size=4k,mode=0555', 'polly-fenced', path]).catch(() => undefined);
        done.push({ namespace: ns.namespace, mountPoint: m.mountPoint, action: 'unmounted' });
      } catch {
        await exec(['mount', '-c', '-o', 'remount,bind,ro', path]);
        done.push({ namespace: ns.namespace, mountPoint: m.mountPoint, action: 'read-only' });
      }
    }
  }
  return done;
}

/**
 * Kills every process of this host (see {@link hostMountNamespaces}; but this one) that has a file open for writing on the filesystem with device
 * number `dev` (stat's st_dev): an open descriptor keeps writing through a lazily detached or read-only
 * remounted mount, so a fence that must stop every writer has to end those. Answers the pids killed.
 *
 * Descriptors are read from fdinfo first (flags, mount id), so readers are passed over without touching
 * their files. A writer's file is stat'ed only when its mount is not a FUSE mount still in some mount
 * table: a stat through a FUSE mount whose daemon died (a killed rbd-fuse) never returns, and it would
 * hang the fence; for those the mount's own device number answers (FUSE files carry it unchanged).
 */
export async function killWritersOnDevice(dev: number): Promise<number[]> {
  const killed: number[] = [];
  const wanted = deviceNumberOf(dev);
  const fuseMounts = new Map<number, string>();
  // One scan of /proc serves both: the namespaces' mount tables and their processes.
  const host = await hostMountNamespaces();
  for (const ns of await mountNamespaces(host)) {
    for (const m of ns.entries) if (m.fsType === 'fuse' || m.fsType.startsWith('fuse.')) fuseMounts.set(m.mountId, m.device);
  }
  for (const pid of host.pids.keys()) {
    if (pid === process.pid) continue;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
        const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? '0', 8);
        // O_WRONLY = 1, O_RDWR = 2.
        if ((flags & 3) === 0) continue;
        const mountId = Number(/^mnt_id:\s*(\d+)/m.exec(info)?.[1] ?? NaN);
        const fuseDevice = fuseMounts.get(mountId);
        const onDevice = fuseDevice !== undefined ? fuseDevice === wanted : (await stat(`/proc/${pid}/fd/${fd}`)).dev === dev;
        if (!onDevice) continue;
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
        break;
      } catch {
        // The descriptor or the process went away meanwhile.
      }
    }
  }
  return killed;
}
