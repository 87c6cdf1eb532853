import { mkdir, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageRequest, StorageDriver } from '../../src/core/ports/driver.js';
import { BtrfsDriver } from '../../src/drivers/btrfs/btrfs-driver.js';
import { CINDER_NAME_PREFIX, CINDER_PARAMETERS, CinderDriver } from '../../src/drivers/cinder/cinder-driver.js';
import { FakeDriver } from '../../src/drivers/fake/fake-driver.js';
import { LocalDriver } from '../../src/drivers/local/local-driver.js';
import { LoopblockDriver } from '../../src/drivers/loopblock/loopblock-driver.js';
import { CSI_PARAMETERS, CsiDriver } from '../../src/drivers/csi/csi-driver.js';
import { CsiPluginClient } from '../../src/drivers/csi/csi-client.js';
import { CEPHFS_PARAMETERS, CephfsDriver, cephfsName } from '../../src/drivers/cephfs/cephfs-driver.js';
import { RBD_PARAMETERS, RbdDriver, rbdImageName } from '../../src/drivers/rbd/rbd-driver.js';
import { nodeSecrets } from '../../src/drivers/system/pool-parameters.js';
import { run } from '../../src/drivers/system/exec.js';
import { pathExists } from '../../src/drivers/system/pool-path.js';
import { startCephCluster } from '../helpers/ceph.js';
import { startPollyCsiPlugin } from '../helpers/csi-plugin.js';
import { startCinder, waitForCinderStatus } from '../helpers/cinder.js';
import { type Cleanup, createLoopFs, tempDir } from '../helpers/loopfs.js';

export const MiB = 1024 * 1024;

/** One pool of one driver under test, with the means to look at its backend without the driver. */
export interface PoolUnderTest {
  driver: StorageDriver;
  /** A size that suits the driver's tests (large enough for its filesystem, small enough to fill). */
  volumeSize: number;
  fsType: string | undefined;
  /** The errno a write beyond a volume's size fails with, when the driver enforces sizes. */
  fullErrno: 'EDQUOT' | 'ENOSPC' | undefined;
  /** A fresh directory for staging and target paths. */
  scratch(): Promise<string>;
  /** Writes a file in the volume published at `target`, durably (fsync), as a container would. */
  writeFile(target: string, name: string, data: Buffer): Promise<void>;
  readFile(target: string, name: string): Promise<Buffer>;
  /** Writes raw bytes at offset 0 of the block volume published at `target`. */
  writeBlock(target: string, data: Buffer): Promise<void>;
  readBlock(target: string, length: number): Promise<Buffer>;
  /**
   * Lets the backend's space accounting catch up with fsynced writes before statfs is read: btrfs counts
   * new extents as used only when its transaction commits (every 30 s by default).
   */
  settle(): Promise<void>;
  /**
   * Makes a backend object out of band, as a crash after the backend acted (and before any record) leaves
   * it; answers its backend id when the backend names objects itself.
   */
  plantLeftover(kind: 'volume' | 'snapshot', id: string): Promise<string | void>;
  /** Whether the backend still holds the object, found without asking the driver. */
  onBackend(kind: 'volume' | 'snapshot', id: string): Promise<boolean>;
  /**
   * For networked drivers: what the controller half's `attach` answers for this node, and the node-scoped
   * secrets, merged into every stage request (as the agent does from its attachment).
   */
  stageExtras?(backendId: string): Promise<Pick<StageRequest, 'publishContext' | 'secrets'>>;
  /** The backend names objects itself (a CSI plugin's volume_id): backend ids are not Polly's ids. */
  opaqueBackendIds?: boolean;
  /** The backend cannot tell how much a volume uses (`usage` answers undefined). */
  usageUnknown?: boolean;
}

export interface DriverHarness {
  name: string;
  open(cleanup: Cleanup): Promise<PoolUnderTest>;
}

/** libuv has no name for EDQUOT (122 on Linux) and reports "Unknown system error -122". */
function withErrnoName(err: unknown): unknown {
  if (err instanceof Error && 'errno' in err && err.errno === -122) Object.assign(err, { code: 'EDQUOT' });
  return err;
}

const realIo = {
  async writeFile(target: string, name: string, data: Buffer): Promise<void> {
    try {
      const fh = await open(join(target, name), 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw withErrnoName(err);
    }
  },
  readFile: (target: string, name: string) => readFile(join(target, name)),
  async writeBlock(target: string, data: Buffer): Promise<void> {
    const fh = await open(target, 'r+');
    try {
      await fh.write(data, 0, data.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async readBlock(target: string, length: number): Promise<Buffer> {
    const fh = await open(target, 'r');
    try {
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, 0);
      return buf;
    } finally {
      await fh.close();
    }
  },
};

async function scratchFactory(cleanup: Cleanup): Promise<() => Promise<string>> {
  const root = await tempDir(cleanup);
  let n = 0;
  return async () => {
    const dir = join(root, `t${++n}`);
    await mkdir(dir);
    return dir;
  };
}

const local: DriverHarness = {
  name: 'local',
  async open(cleanup) {
    // ext4: no reflinks, so the plain-copy path of snapshots is what runs.
    const fs = await createLoopFs(cleanup, { fsType: 'ext4', sizeBytes: 512 * MiB });
    const path = join(fs.path, 'pool');
    const driver = new LocalDriver({ poolName: 'local-test', parameters: { path }, dataDir: '/nonexistent' });
    await driver.init();
    return {
      driver,
      volumeSize: 64 * MiB,
      fsType: undefined,
      fullErrno: undefined,
      scratch: await scratchFactory(cleanup),
      ...realIo,
      settle: async () => undefined,
      async plantLeftover(kind, id) {
        await mkdir(join(path, `${kind}s`, id));
        await writeFile(join(path, `${kind}s`, id, 'left.txt'), 'left behind');
      },
      onBackend: (kind, id) => pathExists(join(path, `${kind}s`, id)),
    };
  },
};

const btrfs: DriverHarness = {
  name: 'btrfs',
  async open(cleanup) {
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 512 * MiB });
    const path = join(fs.path, 'pool');
    await mkdir(path);
    const driver = new BtrfsDriver({ poolName: 'btrfs-test', parameters: { path }, dataDir: '/nonexistent' });
    await driver.init();
    return {
      driver,
      volumeSize: 64 * MiB,
      fsType: undefined,
      fullErrno: 'EDQUOT',
      scratch: await scratchFactory(cleanup),
      ...realIo,
      settle: async () => void (await run('btrfs', ['filesystem', 'sync', fs.path])),
      async plantLeftover(kind, id) {
        await run('btrfs', ['subvolume', 'create', join(path, `${kind}s`, id)]);
      },
      async onBackend(kind, id) {
        const { stdout } = await run('btrfs', ['subvolume', 'list', fs.path]);
        const listed = stdout.split('\n').some((l) => l.endsWith(`/${kind}s/${id}`));
        return listed || (await pathExists(join(path, `${kind}s`, id)));
      },
    };
  },
};

const loopblock: DriverHarness = {
  name: 'loopblock',
  async open(cleanup) {
    // On xfs, so that snapshots and clones are reflinks and statfs follows writes at once. Volumes get xfs
    // too: it grows online without CAP_SYS_RESOURCE (ext4 needs it; loopblock.test.ts covers ext4).
    const fs = await createLoopFs(cleanup, { fsType: 'xfs', sizeBytes: 2048 * MiB });
    const path = join(fs.path, 'pool');
    await mkdir(path);
    const driver = new LoopblockDriver({ poolName: 'loopblock-test', parameters: { path }, dataDir: '/nonexistent' });
    await driver.init();
    return {
      driver,
      volumeSize: 300 * MiB,
      fsType: 'xfs',
      fullErrno: 'ENOSPC',
      scratch: await scratchFactory(cleanup),
      ...realIo,
      settle: async () => undefined,
      async plantLeftover(kind, id) {
        const image = join(path, `${kind}s`, `${id}.img`);
        await writeFile(image, '');
        await truncate(image, 16 * MiB);
      },
      onBackend: (kind, id) => pathExists(join(path, `${kind}s`, `${id}.img`)),
    };
  },
};

/** A private one-node Ceph cluster (started once for the suite), an RBD pool, and a node user of its own. */
const rbd: DriverHarness = {
  name: 'rbd',
  async open(cleanup) {
    const ceph = await startCephCluster(cleanup, { osdBytes: 4096 * MiB });
    const adminKey = (await ceph.ceph(['auth', 'print-key', 'client.admin'])).trim();
    const nodeUser = await ceph.createUser('polly-node', { mon: 'profile rbd', osd: `profile rbd pool=${ceph.rbdPool}` });
    const dataDir = await tempDir(cleanup);
    const parameters = { monHost: `[v2:${ceph.monAddress}]`, pool: ceph.rbdPool, user: 'admin', key: adminKey, nodeUser: nodeUser.id, nodeKey: nodeUser.key, mapper: 'rbd-fuse' };
    const driver = new RbdDriver({ poolName: 'rbd-test', parameters, dataDir });
    cleanup.add(() => driver.close());
    await driver.init();
    const connector = { node: 'contract-node', hostname: 'contract-node', addresses: ['127.0.0.1'] };
    const exists = async (kind: 'volume' | 'snapshot', id: string) =>
      ceph.rbd(['info', `${ceph.rbdPool}/${rbdImageName(kind, id)}`]).then(
        () => true,
        () => false,
      );
    return {
      driver,
      // xfs grows mounted (ext4 would need CAP_SYS_RESOURCE; rbd.test.ts covers ext4's offline growth).
      volumeSize: 300 * MiB,
      fsType: 'xfs',
      fullErrno: 'ENOSPC',
      scratch: await scratchFactory(cleanup),
      ...realIo,
      // The monitor's pool statistics follow the OSD's reports (every second here) a tick later.
      settle: () => new Promise((r) => setTimeout(r, 4_000)),
      async plantLeftover(kind, id) {
        await ceph.rbd(['create', '--size', '16M', `${ceph.rbdPool}/${rbdImageName(kind, id)}`]);
      },
      onBackend: exists,
      async stageExtras(backendId) {
        const publishContext = await driver.attach({ backendId, volumeId: backendId, node: connector, accessMode: 'RWO', readOnly: false });
        return { publishContext, secrets: nodeSecrets(RBD_PARAMETERS, parameters) };
      },
    };
  },
};

/**
 * `csi` over a real CSI plugin: another Polly, started as its own process, fronting a btrfs pool (its
 * controller socket bound to one service, its embedded agent serving CSI Node on this host).
 */
const csi: DriverHarness = {
  name: 'csi',
  async open(cleanup) {
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 1024 * MiB });
    const poolPath = join(fs.path, 'pool');
    await mkdir(poolPath);
    const work = await tempDir(cleanup);
    const plugin = await startPollyCsiPlugin(work, poolPath);
    cleanup.add(() => plugin.stop());
    const dataDir = await tempDir(cleanup);
    const parameters = {
      endpoint: plugin.controllerEndpoint,
      nodeEndpoint: plugin.nodeEndpoint,
      controllerSecrets: JSON.stringify({ pollyToken: plugin.token }),
      nodeSecrets: JSON.stringify({ unused: 'node-secret' }),
      sizeEnforced: 'true',
      accessModes: 'RWO',
      capacityBytes: String(1024 * MiB),
    };
    const driver = new CsiDriver({ poolName: 'csi-test', parameters, dataDir });
    cleanup.add(() => driver.close());
    await driver.init();
    const direct = new CsiPluginClient(plugin.controllerEndpoint, 'direct', { timeoutMs: 30_000, retries: 0, backoffMs: 0 });
    cleanup.add(async () => direct.close());
    const secrets = { pollyToken: plugin.token };
    const mount = { mount: { fs_type: '', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const plantVolume = async (name: string) => {
      const res = await direct.call<{ volume: { volume_id: string } }>('Controller', 'CreateVolume', {
        name,
        capacity_range: { required_bytes: 16 * MiB },
        volume_capabilities: [mount],
        secrets,
      });
      return res.volume.volume_id;
    };
    const connector = { node: plugin.nodeId, hostname: plugin.nodeId, addresses: ['127.0.0.1'] };
    return {
      driver,
      volumeSize: 64 * MiB,
      fsType: undefined,
      fullErrno: 'EDQUOT',
      scratch: await scratchFactory(cleanup),
      ...realIo,
      // The plugin's pool is btrfs: space shows once its transaction commits, and Polly's capacity follows.
      settle: async () => {
        await run('btrfs', ['filesystem', 'sync', fs.path]);
        await new Promise((r) => setTimeout(r, 1_500));
      },
      async plantLeftover(kind, id) {
        if (kind === 'volume') return plantVolume(id);
        const source = await plantVolume(`${id}-source`);
        const res = await direct.call<{ snapshot: { snapshot_id: string } }>('Controller', 'CreateSnapshot', { source_volume_id: source, name: id, secrets });
        return res.snapshot.snapshot_id;
      },
      async onBackend(kind, id) {
        const res = await plugin.rest('GET', `/v1/${kind}s/${encodeURIComponent(id)}`);
        return res.status === 200 && (res.body as { status?: string }).status !== 'deleted';
      },
      async stageExtras(backendId) {
        const publishContext = await driver.attach({ backendId, volumeId: backendId, node: connector, accessMode: 'RWO', readOnly: false });
        return { publishContext, secrets: nodeSecrets(CSI_PARAMETERS, parameters) };
      },
      opaqueBackendIds: true,
      usageUnknown: true,
    };
  },
};

/**
 * A private OpenStack Cinder (api, scheduler, volume; RBD backend on a private Ceph, RabbitMQ, its
 * database on the test PostgreSQL), started once for the suite; Polly talks to it with noauth. Volumes
 * are 1 GiB: Cinder sizes volumes in whole GiB.
 */
const cinder: DriverHarness = {
  name: 'cinder',
  async open(cleanup) {
    const c = await startCinder(cleanup);
    console.log(`cinder fixture up in ${c.timings.totalMs} ms (${JSON.stringify(c.timings)})`);
    const dataDir = await tempDir(cleanup);
    const parameters = {
      auth: 'noauth',
      endpoint: c.endpoint.slice(0, -(c.projectId.length + 1)),
      projectId: c.projectId,
      volumeType: c.volumeTypes.ceph,
      nodeKey: c.rbdKey,
      mapper: 'rbd-fuse',
      timeoutSeconds: '180',
    };
    const driver = new CinderDriver({ poolName: 'cinder-test', parameters, dataDir });
    cleanup.add(() => driver.close());
    await driver.init();
    const connector = { node: 'contract-node', hostname: 'contract-node', addresses: ['127.0.0.1'] };
    const named = async (kind: 'volume' | 'snapshot', id: string) => {
      const name = `${CINDER_NAME_PREFIX[kind]}${id}`;
      const list = await c.api<Record<string, Array<{ id: string; name: string }>>>('GET', `/${kind}s/detail?name=${name}`);
      return (list[`${kind}s`] ?? []).filter((o) => o.name === name);
    };
    return {
      driver,
      volumeSize: 1024 * MiB,
      fsType: 'xfs',
      fullErrno: 'ENOSPC',
      usageUnknown: true,
      scratch: await scratchFactory(cleanup),
      ...realIo,
      // Cinder's RBD backend reports its pool statistics every 3 s, from Ceph's (which lag a second).
      settle: () => new Promise((r) => setTimeout(r, 8_000)),
      async plantLeftover(kind, id) {
        if (kind === 'volume') {
          const made = await c.api<{ volume: { id: string } }>('POST', '/volumes', { volume: { size: 1, name: `${CINDER_NAME_PREFIX.volume}${id}`, volume_type: c.volumeTypes.ceph } });
          await waitForCinderStatus(c, 'volume', made.volume.id, 'available');
          return;
        }
        const base = await c.api<{ volume: { id: string } }>('POST', '/volumes', { volume: { size: 1, name: `leftover-base-${id}`, volume_type: c.volumeTypes.ceph } });
        await waitForCinderStatus(c, 'volume', base.volume.id, 'available');
        const snap = await c.api<{ snapshot: { id: string } }>('POST', '/snapshots', { snapshot: { volume_id: base.volume.id, name: `${CINDER_NAME_PREFIX.snapshot}${id}` } });
        await waitForCinderStatus(c, 'snapshot', snap.snapshot.id, 'available');
      },
      onBackend: async (kind, id) => (await named(kind, id)).length > 0,
      async stageExtras(backendId) {
        const publishContext = await driver.attach({ backendId, volumeId: backendId, node: connector, accessMode: 'RWO', readOnly: false });
        return { publishContext, secrets: nodeSecrets(CINDER_PARAMETERS, parameters) };
      },
    };
  },
};

function fake(name: string, parameters: Record<string, string>): DriverHarness {
  return {
    name,
    async open(cleanup) {
      const driver = new FakeDriver({ poolName: `${name}-test`, parameters: { capacityBytes: String(512 * MiB), ...parameters }, dataDir: '/nonexistent' });
      cleanup.add(() => driver.close());
      await driver.init();
      let n = 0;
      return {
        driver,
        volumeSize: 64 * MiB,
        fsType: 'ext4',
        fullErrno: 'EDQUOT',
        // Paths are only names to the fake.
        scratch: async () => `/fake/${name}/t${++n}`,
        writeFile: (target, file, data) => driver.node.writeFile(target, file, data),
        readFile: (target, file) => driver.node.readFile(target, file),
        writeBlock: (target, data) => driver.node.writeFile(target, '@block', data),
        readBlock: async (target, length) => (await driver.node.readFile(target, '@block')).subarray(0, length),
        settle: async () => undefined,
        async plantLeftover(kind, id) {
          driver.addBackendObject({ backendId: id, kind, sizeBytes: 16 * MiB });
        },
        onBackend: async (kind, id) => (await driver.list()).some((o) => o.kind === kind && o.backendId === id),
      };
    },
  };
}

/**
 * A private one-node Ceph cluster with an MDS and a CephFS (started once for the suite), the `polly`
 * subvolume group, and a node user authorised for that group only (`ceph fs authorize`).
 */
export async function openCephfsPool(cleanup: Cleanup, poolName = 'cephfs-test') {
  const ceph = await startCephCluster(cleanup, { mds: true, osdBytes: 4096 * MiB });
  const fsName = ceph.fsName ?? 'cephfs';
  const adminKey = (await ceph.ceph(['auth', 'print-key', 'client.admin'])).trim();
  await ceph.ceph(['fs', 'authorize', fsName, 'client.polly-fs-node', '/volumes/polly', 'rw']);
  const nodeKey = (await ceph.ceph(['auth', 'print-key', 'client.polly-fs-node'])).trim();
  const dataDir = await tempDir(cleanup);
  const parameters = { monHost: `[v2:${ceph.monAddress}]`, fsName, user: 'admin', key: adminKey, nodeUser: 'polly-fs-node', nodeKey, mounter: 'ceph-fuse' };
  const driver = new CephfsDriver({ poolName, parameters, dataDir });
  cleanup.add(() => driver.close());
  await driver.init();
  const sv = (verb: string, ...args: string[]) => ceph.ceph(['fs', 'subvolume', ...verb.split(' '), fsName, ...args, '--group_name', 'polly', '--format', 'json']);
  const subvolumes = async () => (JSON.parse(await sv('ls')) as Array<{ name: string }>).map((x) => x.name);
  const snapshotsOf = async (subvolume: string) => (JSON.parse(await sv('snapshot ls', subvolume).catch(() => '[]')) as Array<{ name: string }>).map((x) => x.name);
  return { ceph, fsName, parameters, driver, dataDir, sv, subvolumes, snapshotsOf };
}

const cephfs: DriverHarness = {
  name: 'cephfs',
  async open(cleanup) {
    const { driver, parameters, sv, subvolumes, snapshotsOf } = await openCephfsPool(cleanup);
    const connector = { node: 'contract-node', hostname: 'contract-node', addresses: ['127.0.0.1'] };
    return {
      driver,
      volumeSize: 64 * MiB,
      fsType: undefined,
      fullErrno: 'EDQUOT',
      scratch: await scratchFactory(cleanup),
      ...realIo,
      // The monitor's pool statistics follow the OSD's reports (every second here) a tick later.
      settle: () => new Promise((r) => setTimeout(r, 4_000)),
      async plantLeftover(kind, id) {
        if (kind === 'volume') {
          await sv('create', cephfsName('volume', id), '--size', String(16 * MiB));
        } else {
          // A snapshot needs a subvolume to belong to: one that is not Polly's.
          await sv('create', 'leftover-holder').catch(() => '');
          await sv('snapshot create', 'leftover-holder', cephfsName('snapshot', id));
        }
      },
      async onBackend(kind, id) {
        if (kind === 'volume') {
          const info = await sv('info', cephfsName('volume', id)).catch(() => undefined);
          return info !== undefined && (JSON.parse(info) as { state: string }).state === 'complete';
        }
        for (const s of await subvolumes()) if ((await snapshotsOf(s)).includes(cephfsName('snapshot', id))) return true;
        return false;
      },
      async stageExtras(backendId) {
        const publishContext = await driver.attach({ backendId, volumeId: backendId, node: connector, accessMode: 'RWX', readOnly: false });
        return { publishContext, secrets: nodeSecrets(CEPHFS_PARAMETERS, parameters) };
      },
    };
  },
};

/** Every driver the contract suite runs over; the second fake declares (and refuses) what it cannot do. */
export const DRIVERS: DriverHarness[] = [
  local,
  btrfs,
  loopblock,
  fake('fake', {}),
  fake('fake-minimal', { disable: 'snapshots,clones,restore,block,expand' }),
  rbd,
  csi,
  cinder,
  cephfs,
];
