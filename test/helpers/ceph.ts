import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { createServer, isIPv4 } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../src/drivers/system/exec.js';
import { attachLoop, detachLoop } from '../../src/drivers/system/loop.js';
import { mountsUnder, unmountAll } from '../../src/drivers/system/mounts.js';
import { type Cleanup, teardownTree, tempDir } from './loopfs.js';

/**
 * A private one-node Ceph cluster for tests: one monitor (msgr v2 on 127.0.0.1 or `bindAddress`, a free port), one
 * manager, one OSD (memstore by default, or bluestore on a loop device) and, when asked, one MDS with a
 * CephFS. Nothing in /etc/ceph, no systemd: every file lives in one `polly-test-*` directory and every
 * daemon is found again by its pid file. Start it once per test file; it takes ~15-25 s and ~1 GiB.
 */
export interface CephCluster {
  /** The cluster's ceph.conf (pass as `-c` / the pool's `conf` parameter). */
  conf: string;
  /** The client.admin keyring. */
  keyring: string;
  /** The admin identity, without the `client.` prefix. */
  adminId: 'admin';
  fsid: string;
  /** `<bind address>:<port>` of the monitor (msgr v2; 127.0.0.1 unless `bindAddress` was given). */
  monAddress: string;
  /** An RBD pool created and initialised at start. */
  rbdPool: string;
  /** The CephFS name when started with `mds: true`. */
  fsName?: string | undefined;
  dir: string;
  /** Wall-clock milliseconds from nothing to all PGs active. */
  bringUpMs: number;
  /** Runs the `ceph` CLI as admin and returns stdout. */
  ceph(args: readonly string[]): Promise<string>;
  /** Runs the `rbd` CLI as admin and returns stdout. */
  rbd(args: readonly string[]): Promise<string>;
  /** Creates (or gets) a cephx user with `caps` and returns its id and secret key. */
  createUser(id: string, caps: Record<string, string>): Promise<{ id: string; key: string }>;
  /** Kills every daemon and FUSE client of this cluster, releases its loop device, removes its files. */
  stop(): Promise<void>;
}

export interface CephOptions {
  store?: 'memstore' | 'bluestore-loop' | undefined;
  /** Start an MDS and create a CephFS (only for CephFS tests: it costs time and memory). */
  mds?: boolean | undefined;
  /** Bytes the OSD offers (memstore keeps them in RAM). */
  osdBytes?: number | undefined;
  /**
   * The IPv4 address every daemon listens on (default 127.0.0.1): e.g. a test bridge's address, so that
   * clients in other network namespaces reach the cluster.
   */
  bindAddress?: string | undefined;
}

const GiB = 1024 ** 3;
const READY_TIMEOUT_MS = 120_000;

/** The packages the fixture needs (also provisioned by scripts/pretest.sh). */
export const CEPH_BINARIES = ['ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph', 'rbd', 'rbd-fuse', 'ceph-authtool', 'monmaptool'];

/** True when the Ceph packages are installed (tests skip with a clear message otherwise). */
export async function cephAvailable(): Promise<boolean> {
  try {
    for (const b of CEPH_BINARIES) await run('sh', ['-c', `command -v ${b}`]);
    return true;
  } catch {
    return false;
  }
}

async function freePort(address: string): Promise<number> {
  // The monitor binds the port itself; keep below the ephemeral range so a client socket never takes it.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, address, () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port for the Ceph monitor');
}

function confText(d: string, fsid: string, address: string, port: number, store: string, osdBytes: number): string {
  // The daemons pick their address in the public network: exactly the bind address.
  const publicNetwork = address === '127.0.0.1' ? '127.0.0.0/8' : `${address}/32`;
  return `[global]
fsid = ${fsid}
mon host = [v2:${address}:${port}]
public network = ${publicNetwork}
ms bind msgr1 = false
ms bind msgr2 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = ${d}/run
admin socket = ${d}/run/$cluster-$name.asok
log file = ${d}/log/$cluster-$name.log
log to stderr = false
err to stderr = true
mon data = ${d}/mon/$cluster-$id
osd data = ${d}/osd/$cluster-$id
mgr data = ${d}/mgr/$cluster-$id
mds data = ${d}/mds/$cluster-$id
keyring = ${d}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# Pool statistics (ceph df) follow writes within a few seconds.
mgr stats period = 1
[mon]
pid file = ${d}/run/$cluster-$name.pid
mon data avail warn = 1
mon data avail crit = 0
mon memory target = 268435456
mgr initial modules = iostat
[mgr]
pid file = ${d}/run/$cluster-$name.pid
keyring = ${d}/mgr/$cluster-$id/keyring
[osd]
pid file = ${d}/run/$cluster-$name.pid
keyring = ${d}/osd/$cluster-$id/keyring
osd objectstore = ${store}
osd memory target = 1073741824
osd memory cache min = 134217728
bluestore fsck on mkfs = false
bluestore fsck on mount = false
bluestore block create = false
memstore device bytes = ${osdBytes}
osd op num shards = 2
osd op num threads per shard = 1
osd max object name len = 460
osd max object namespace len = 64
[mds]
pid file = ${d}/run/$cluster-$name.pid
keyring = ${d}/mds/$cluster-$id/keyring
mds cache memory limit = 134217728
[client]
keyring = ${d}/keyring
pid file =
client quota = true
admin socket = ${d}/run/$cluster-$name.$pid.asok
log file = ${d}/log/$cluster-$name.$pid.log
`;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`Ceph fixture: ${what} not ready after ${timeoutMs} ms`);
    await sleep(250);
  }
}

function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => !/^\d+ \(.*\) Z/.test(s),
    () => false,
  );
}

async function killPid(pid: number, graceMs: number): Promise<void> {
  if (!(await alive(pid))) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let waited = 0; waited < graceMs; waited += 100) {
    if (!(await alive(pid))) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
  for (let waited = 0; waited < 5_000 && (await alive(pid)); waited += 50) await sleep(50);
}

/** Processes whose command line names this cluster's conf (its FUSE clients and CLI calls), by pid. */
async function clientsOf(conf: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    if (!argv.includes(conf) && !argv.some((a) => a === `--conf=${conf}`)) continue;
    if (/^(ceph-mon|ceph-mgr|ceph-osd|ceph-mds)$/.test((argv[0] ?? '').split('/').pop() ?? '')) continue;
    pids.push(Number(entry));
  }
  return pids;
}

/**
 * Starts the cluster in a fresh temp dir and registers its complete teardown in `cleanup` (before any
 * daemon starts), so an `afterAll(() => cleanup.run())` leaves nothing behind even after a failed start.
 */
export async function startCephCluster(cleanup: Cleanup, opts: CephOptions = {}): Promise<CephCluster> {
  const t0 = Date.now();
  const store = opts.store ?? 'memstore';
  const osdBytes = opts.osdBytes ?? 2 * GiB;
  const dir = await tempDir(cleanup);
  const d = join(dir, 'ceph');
  for (const sub of ['run', 'log', 'mon', 'osd', 'mgr', 'mds']) await mkdir(join(d, sub), { recursive: true });
  const conf = join(d, 'ceph.conf');
  const keyring = join(d, 'keyring');
  const address = opts.bindAddress ?? '127.0.0.1';
  if (!isIPv4(address)) throw new Error(`Ceph fixture: bindAddress ${address} is not an IPv4 address`);
  const port = await freePort(address);
  const fsid = randomUUID();
  await writeFile(conf, confText(d, fsid, address, port, store === 'memstore' ? 'memstore' : 'bluestore', osdBytes));

  let osdLoop: string | undefined;
  const stop = async (): Promise<void> => {
    // 1. Node side first: whatever is mounted under the fixture dir (rbd-fuse, ceph-fuse, ext4 on loop).
    for (const m of await mountsUnder(dir)) await unmountAll(m.mountPoint, { lazyFallback: true });
    // 2. FUSE clients and stray CLI calls of this cluster (they must close their sessions before the daemons go).
    for (const pid of await clientsOf(conf)) await killPid(pid, 3_000);
    // 3. Daemons by pid file, MDS first, monitor last; SIGTERM at once, then wait.
    const pids: number[] = [];
    for (const kind of ['mds', 'mgr', 'osd', 'mon']) {
      for (const f of await readdir(join(d, 'run')).catch(() => [] as string[])) {
        if (!f.startsWith(`ceph-${kind}.`) || !f.endsWith('.pid')) continue;
        const pid = Number((await readFile(join(d, 'run', f), 'utf8').catch(() => '')).trim());
        if (pid > 0) pids.push(pid);
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    for (const pid of pids) await killPid(pid, 5_000);
    if (osdLoop) await detachLoop(osdLoop);
    osdLoop = undefined;
  };
  cleanup.add(stop);

  const base = ['-c', conf];
  const ceph = async (args: readonly string[]): Promise<string> => (await run('ceph', [...base, '--connect-timeout', '30', ...args], { timeoutMs: 60_000 })).stdout;
  const rbd = async (args: readonly string[]): Promise<string> => (await run('rbd', [...base, ...args], { timeoutMs: 60_000 })).stdout;

  await run('ceph-authtool', ['--create-keyring', join(d, 'mon.keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *']);
  await run('ceph-authtool', [join(d, 'mon.keyring'), '--import-keyring', keyring]);
  await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:${address}:${port}]`, join(d, 'monmap')]);
  await run('ceph-mon', [...base, '-i', 'a', '--mkfs', '--monmap', join(d, 'monmap'), '--keyring', join(d, 'mon.keyring')]);
  await run('ceph-mon', [...base, '-i', 'a']);
  await waitFor('monitor', async () => (await ceph(['-s'])).length > 0);

  await mkdir(join(d, 'mgr', 'ceph-x'), { recursive: true });
  await ceph(['auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', join(d, 'mgr', 'ceph-x', 'keyring')]);
  await run('ceph-mgr', [...base, '-i', 'x']);

  const osdUuid = randomUUID();
  const osdId = (await ceph(['osd', 'new', osdUuid])).trim();
  const od = join(d, 'osd', `ceph-${osdId}`);
  await mkdir(od, { recursive: true });
  await ceph(['auth', 'get-or-create', `osd.${osdId}`, 'mon', 'allow profile osd', 'mgr', 'allow profile osd', 'osd', 'allow *', '-o', join(od, 'keyring')]);
  if (store === 'bluestore-loop') {
    const img = join(d, 'osd-block.img');
    await writeFile(img, '');
    await truncate(img, Math.max(osdBytes, 4 * GiB));
    osdLoop = await attachLoop(img, { readOnly: false });
    await run('ln', ['-sf', osdLoop, join(od, 'block')]);
  }
  await run('ceph-osd', [...base, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid], { timeoutMs: 120_000 });
  await run('ceph-osd', [...base, '-i', osdId]);
  await waitFor('OSD', async () => (JSON.parse(await ceph(['osd', 'stat', '-f', 'json'])) as { num_up_osds: number }).num_up_osds >= 1);

  const rbdPool = 'polly-rbd';
  await ceph(['osd', 'pool', 'create', rbdPool, '8', '8']);
  await rbd(['pool', 'init', rbdPool]);

  let fsName: string | undefined;
  if (opts.mds) {
    await mkdir(join(d, 'mds', 'ceph-a'), { recursive: true });
    await ceph(['auth', 'get-or-create', 'mds.a', 'mon', 'allow profile mds', 'osd', 'allow rwx', 'mds', 'allow', 'mgr', 'allow profile mds', '-o', join(d, 'mds', 'ceph-a', 'keyring')]);
    await run('ceph-mds', [...base, '-i', 'a']);
    await ceph(['osd', 'pool', 'create', 'cephfs_meta', '8', '8']);
    await ceph(['osd', 'pool', 'create', 'cephfs_data', '8', '8']);
    fsName = 'cephfs';
    await ceph(['fs', 'new', fsName, 'cephfs_meta', 'cephfs_data']);
    await waitFor('MDS', async () => /up:active/.test(await ceph(['mds', 'stat'])));
  }
  await waitFor('placement groups', async () => {
    const stat = JSON.parse(await ceph(['pg', 'stat', '-f', 'json'])) as { pg_summary?: { num_pg_by_state?: Array<{ name: string; num: number }> } };
    const states = stat.pg_summary?.num_pg_by_state ?? [];
    return states.length > 0 && states.every((s) => s.name === 'active+clean' || s.name.startsWith('active+clean'));
  });

  return {
    conf,
    keyring,
    adminId: 'admin',
    fsid,
    monAddress: `${address}:${port}`,
    rbdPool,
    fsName,
    dir: d,
    bringUpMs: Date.now() - t0,
    ceph,
    rbd,
    async createUser(id, caps) {
      const capArgs = Object.entries(caps).flatMap(([k, v]) => [k, v]);
      await ceph(['auth', 'get-or-create', `client.${id}`, ...capArgs]);
      const key = (await ceph(['auth', 'print-key', `client.${id}`])).trim();
      return { id, key };
    },
    async stop() {
      await stop();
      await teardownTree(dir);
    },
  };
}
