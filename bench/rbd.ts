/**
 * R3 Ceph RBD, on a private one-node Ceph (test/helpers/ceph.ts: monitor, manager, one memstore OSD):
 *
 * - data path: sequential write (+fsync) and cold read of 256 MiB (quick: 64 MiB) in a volume the rbd
 *   driver created, staged (rbd-fuse + a direct-I/O loop device + ext4) and published, ÷ the same
 *   mapping made by hand in the same run (`rbd create`, `rbd-fuse`, `losetup --direct-io=on`,
 *   `mkfs.ext4`, `mount`); sides alternate, the ratio is the median of per-repetition ratios. Goal ≥ 0.95.
 * - create → mounted p50 on RBD: as P5 (REST create, attach + stage + publish by an in-process agent,
 *   target in /proc/self/mountinfo) with an `rbd` pool; 10 volumes (quick: 3).
 * - fenced takeover: a real `polly agent` process (no fence guard) holds a staged RWO volume under
 *   `failover: storage-fence` (lease 3 s, margin 1 s, skew 1 s, which storage-fence does not wait for); it
 *   is killed with SIGKILL and another node attaches every 50 ms; measured from the kill to the first 201
 *   (which includes the blocklist).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runAgent } from '../src/agent/run.js';
import { ServerClient } from '../src/agent/server-client.js';
import { PollyError } from '../src/core/errors.js';
import { newId } from '../src/core/ids.js';
import { RBD_PARAMETERS, RbdDriver } from '../src/drivers/rbd/rbd-driver.js';
import { RBD_FUSE_CLIENT_SETTINGS } from '../src/drivers/rbd/rbd-node.js';
import { createNodeHalf } from '../src/drivers/registry.js';
import { redactParameters } from '../src/drivers/system/pool-parameters.js';
import { run } from '../src/drivers/system/exec.js';
import { attachLoop, detachLoop } from '../src/drivers/system/loop.js';
import { findMount, unmountAll } from '../src/drivers/system/mounts.js';
import { cephAvailable, type CephCluster, startCephCluster } from '../test/helpers/ceph.js';
import { Cleanup, tempDir } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, median, MiB, msSince, quantile, REPO_ROOT, skippedRow, sleep } from './harness.js';
import { dropCaches, loopBlocker, timedRead, timedWrite } from './loop-env.js';
import { BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

const DATA_GOAL = 0.95;
const MOUNT_GOAL_MS = 1500;
const LEASE = 3;
const MARGIN = 1;
const SKEW = 1;

interface Side {
  write: number[];
  read: number[];
}

function poolParameters(ceph: CephCluster, adminKey: string, node: { id: string; key: string }): Record<string, string> {
  return { monHost: `[v2:${ceph.monAddress}]`, pool: ceph.rbdPool, key: adminKey, nodeUser: node.id, nodeKey: node.key, mapper: 'rbd-fuse' };
}

/** The reference: the mapping the rbd node half makes, done by hand with the CLI tools. */
async function handMapped(cleanup: Cleanup, ceph: CephCluster, volumeBytes: number): Promise<string> {
  const image = `bench-hand-${process.pid}`;
  await ceph.rbd(['create', '--size', `${volumeBytes / MiB}M`, `${ceph.rbdPool}/${image}`]);
  cleanup.add(async () => void (await ceph.rbd(['rm', `${ceph.rbdPool}/${image}`, '--no-progress'])));
  const dir = await tempDir(cleanup);
  const fuse = join(dir, 'fuse');
  const mnt = join(dir, 'mnt');
  await mkdir(fuse);
  await mkdir(mnt);
  // The node half's librbd settings (no cache: see RBD_FUSE_CLIENT_SETTINGS), so both sides map alike.
  const conf = join(dir, 'ceph.conf');
  await writeFile(conf, `${await readFile(ceph.conf, 'utf8')}\n[client.${ceph.adminId}]\n${Object.entries(RBD_FUSE_CLIENT_SETTINGS).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
  await run('rbd-fuse', ['-c', conf, '--id', ceph.adminId, '-p', ceph.rbdPool, '-r', image, fuse]);
  cleanup.add(() => unmountAll(fuse, { lazyFallback: true }));
  const loop = await attachLoop(join(fuse, image), { readOnly: false, directIo: true });
  cleanup.add(() => detachLoop(loop));
  await run('mkfs.ext4', ['-q', '-F', loop]);
  await run('mount', ['-t', 'ext4', loop, mnt]);
  cleanup.add(() => unmountAll(mnt, { lazyFallback: true }));
  return mnt;
}

/** Polly's side: a volume the driver created, staged and published. */
async function pollyMapped(cleanup: Cleanup, parameters: Record<string, string>, volumeBytes: number): Promise<string> {
  const scratch = await tempDir(cleanup);
  const driver = new RbdDriver({ poolName: 'bench-rbd', parameters, dataDir: join(scratch, 'data') });
  cleanup.add(() => driver.close());
  await driver.init();
  const volumeId = newId('vol');
  cleanup.add(() => driver.delete(volumeId));
  const created = await driver.create({ volumeId, sizeBytes: volumeBytes, volumeMode: 'filesystem', fsType: 'ext4' });
  const publishContext = await driver.attach({ backendId: created.backendId, volumeId, node: { node: 'bench', hostname: 'bench', addresses: [] }, accessMode: 'RWO', readOnly: false });
  const stagingPath = join(scratch, 'staging');
  const targetPath = join(scratch, 'target');
  cleanup.add(() => driver.node.releaseNodeResources(created.backendId));
  cleanup.add(() => driver.node.unstage({ backendId: created.backendId, volumeId, stagingPath }));
  await driver.node.stage({ backendId: created.backendId, volumeId, stagingPath, volumeMode: 'filesystem', fsType: 'ext4', publishContext, secrets: driver.nodeSecrets() });
  cleanup.add(() => driver.node.unpublish({ backendId: created.backendId, volumeId, targetPath }));
  await driver.node.publish({ backendId: created.backendId, volumeId, stagingPath, targetPath, volumeMode: 'filesystem', readOnly: false });
  return targetPath;
}

async function dataPathRows(ctx: BenchContext, ceph: CephCluster, parameters: Record<string, string>, bytes: number, repetitions: number): Promise<BenchRow[]> {
  const cleanup = new Cleanup();
  try {
    const volumeBytes = Math.ceil((bytes * 1.2 + 64 * MiB) / MiB) * MiB;
    const volumeDir = await pollyMapped(cleanup, parameters, volumeBytes);
    const handDir = await handMapped(cleanup, ceph, volumeBytes);
    const polly: Side = { write: [], read: [] };
    const hand: Side = { write: [], read: [] };
    for (let r = 0; r < repetitions; r++) {
      const order: Array<[string, Side]> = r % 2 === 0 ? [[handDir, hand], [volumeDir, polly]] : [[volumeDir, polly], [handDir, hand]];
      for (const [dir, side] of order) {
        const file = join(dir, 'bench.dat');
        dropCaches();
        side.write.push(timedWrite(file, bytes));
        dropCaches();
        side.read.push(timedRead(file));
        unlinkSync(file);
      }
      ctx.progress(
        `data path ${r + 1}/${repetitions}: Polly write ${polly.write.at(-1)!.toFixed(0)} read ${polly.read.at(-1)!.toFixed(0)} MiB/s; ` +
          `by hand write ${hand.write.at(-1)!.toFixed(0)} read ${hand.read.at(-1)!.toFixed(0)} MiB/s`,
      );
    }
    const row = (what: 'write' | 'read'): BenchRow => {
      const ratios = polly[what].map((p, i) => p / hand[what][i]!);
      const ratio = median(ratios);
      return {
        name: `R3 rbd sequential ${what}${what === 'write' ? '+fsync' : ' (cold)'} ${bytes / MiB} MiB`,
        polly: median(polly[what]),
        reference: median(hand[what]),
        ratio,
        goal: `ratio ≥ ${DATA_GOAL}`,
        unit: 'MiB/s',
        pass: ratio >= DATA_GOAL,
        params: {
          sizeMiB: bytes / MiB,
          repetitions,
          cluster: 'one memstore OSD, size 1',
          polly: 'rbd driver create + node stage (rbd-fuse, losetup --direct-io=on, mkfs.ext4, mount) + publish (bind mount)',
          reference: 'rbd create, rbd-fuse, losetup --direct-io=on, mkfs.ext4, mount, by hand',
          ratios,
          ratioMin: Math.min(...ratios),
          ratioMax: Math.max(...ratios),
          samples: { polly, hand },
        },
      };
    };
    return [row('write'), row('read')];
  } finally {
    await cleanup.run();
  }
}

async function mountTimeRow(ctx: BenchContext, parameters: Record<string, string>, volumes: number): Promise<BenchRow> {
  const cleanup = new Cleanup();
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-'));
    cleanup.add(async () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startPollyProcess({ dataDir, config: { pools: [{ name: 'ceph', driver: 'rbd', parameters, topology: { shared: true } }], profiles: [{ name: 'default', fsType: 'ext4' }] } });
    cleanup.add(() => server.stop());
    const agentDir = await tempDir(cleanup);
    const running = await runAgent({ serverUrl: server.url, token: BENCH_SERVICE_TOKEN, nodeId: 'bench-node', hostname: 'bench-node.local', topology: {}, stateDir: join(agentDir, 'state'), dataDir: join(agentDir, 'data'), log: pino({ level: 'error' }) });
    cleanup.add(() => running.stop());
    const agent = running.agent;
    const rest = new ServerClient(server.url, BENCH_SERVICE_TOKEN);
    cleanup.add(() => rest.close());
    const samples: number[] = [];
    for (let i = -1; i < volumes; i++) {
      const t0 = process.hrtime.bigint();
      const v = await rest.call<{ id: string }>('POST', '/v1/volumes', { name: `r3-${process.pid}-${i + 1}`, sizeBytes: 64 * MiB });
      const target = join(agent.mountRoot, v.id);
      await agent.attach(v.id, 'RWO');
      await agent.publish(v.id, target, false);
      if ((await findMount(target)) === undefined) throw new Error(`volume ${v.id}: ${target} is not mounted after publish`);
      const ms = msSince(t0);
      // The first one is a warm-up (program loading, the first Ceph session).
      if (i >= 0) samples.push(ms);
      ctx.progress(`create→mounted ${i + 1}/${volumes}${i < 0 ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms`);
      await agent.unpublish(v.id, target);
      await agent.detach(v.id);
      await rest.call('DELETE', `/v1/volumes/${encodeURIComponent(v.id)}`);
    }
    const p50 = quantile(samples, 0.5);
    return {
      name: `R3 rbd create→attach→mounted p50 (${volumes} volumes)`,
      polly: p50,
      reference: null,
      ratio: null,
      goal: `p50 < ${MOUNT_GOAL_MS} ms`,
      unit: 'ms',
      pass: p50 < MOUNT_GOAL_MS,
      params: { volumes, volumeMiB: 64, mapper: 'rbd-fuse + loop, ext4 made on first stage', measured: 'as P5, with an rbd pool', samplesMs: samples.map((s) => Math.round(s)), p99: quantile(samples, 0.99) },
    };
  } finally {
    await cleanup.run();
  }
}

async function takeoverRow(ctx: BenchContext, parameters: Record<string, string>, samplesWanted: number): Promise<BenchRow> {
  const cleanup = new Cleanup();
  // storage-fence grants at lease end (no clock-skew wait); the fence is one monitor proposal.
  const bound = LEASE * 1000 + 1500;
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-'));
    cleanup.add(async () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startPollyProcess({
      dataDir,
      config: {
        attachmentLeaseSeconds: LEASE,
        selfFenceMarginSeconds: MARGIN,
        clockSkewSeconds: SKEW,
        pools: [{ name: 'ceph', driver: 'rbd', parameters, topology: { shared: true } }],
        profiles: [{ name: 'fenced', pools: ['ceph'], fsType: 'ext4', accessModes: ['RWO'], failover: 'storage-fence' }],
      },
    });
    cleanup.add(() => server.stop());
    const rest = new ServerClient(server.url, BENCH_SERVICE_TOKEN);
    cleanup.add(() => rest.close());
    await rest.call('POST', '/v1/nodes', { id: 'taker', hostname: 'taker.bench' });
    const agentDir = await tempDir(cleanup);
    const results: Array<{ takeoverMs: number; attempts: number }> = [];
    for (let i = 0; i < samplesWanted; i++) {
      const stateDir = join(agentDir, `holder-${i}`);
      const data = join(agentDir, `data-${i}`);
      const agent = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bin/polly.js'), 'agent', '--node', `holder-${i}`, '--state-dir', stateDir, '--data-dir', data, '--heartbeat', '1', '--no-fence-guard'],
        { env: { ...process.env, POLLY_URL: server.url, POLLY_TOKEN: BENCH_SERVICE_TOKEN, POLLY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      let out = '';
      agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
      agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => agent.once('exit', () => resolve()));
      // The dead holder's mapping (blocklisted) is released as a restarted agent would: by the node half.
      cleanup.add(async () => {
        const half = createNodeHalf('rbd', { poolName: 'ceph', parameters: redactParameters(RBD_PARAMETERS, parameters), dataDir: data });
        for (const r of await half.node.listNodeResources()) await half.node.releaseNodeResources(r.backendId);
      });
      cleanup.add(async () => {
        try {
          process.kill(-agent.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      });
      for (let t = 0; !out.includes('connected to'); t++) {
        if (t > 600) throw new Error(`polly agent did not start:\n${out}`);
        await sleep(50);
      }
      const v = await rest.call<{ id: string }>('POST', '/v1/volumes', { name: `r3-fence-${process.pid}-${i}`, sizeBytes: 64 * MiB, profile: 'fenced' });
      await rest.call('POST', `/v1/volumes/${v.id}/attachments`, { node: `holder-${i}`, accessMode: 'RWO' });
      for (let t = 0; ; t++) {
        const state = JSON.parse(readFileSync(join(stateDir, 'agent-state.json'), 'utf8')) as { held: Array<{ volumeId: string }> };
        if (state.held.some((h) => h.volumeId === v.id)) break;
        if (t > 400) throw new Error(`the holder never staged ${v.id}:\n${out}`);
        await sleep(50);
      }
      await sleep(1500);
      const killedAt = Date.now();
      process.kill(-agent.pid!, 'SIGKILL');
      await exited;
      let attempts = 0;
      for (;;) {
        attempts++;
        try {
          const a = await rest.call<{ id: string }>('POST', `/v1/volumes/${v.id}/attachments`, { node: 'taker', accessMode: 'RWO' });
          results.push({ takeoverMs: Date.now() - killedAt, attempts });
          await rest.call('DELETE', `/v1/attachments/${a.id}`);
          break;
        } catch (err) {
          if (!(err instanceof PollyError) || err.code !== 'VOLUME_BUSY') throw err;
          if (Date.now() - killedAt > 6 * bound) throw new Error(`no takeover after ${Date.now() - killedAt} ms`);
          await sleep(50);
        }
      }
      ctx.progress(`fenced takeover ${i + 1}/${samplesWanted}: ${results.at(-1)!.takeoverMs} ms (${attempts} attach attempts)`);
    }
    const takeover = median(results.map((r) => r.takeoverMs));
    return {
      name: 'R3 rbd fenced takeover (kill -9 → blocklist → other node attached)',
      polly: takeover,
      reference: null,
      ratio: null,
      goal: `≤ ${bound} ms (lease + 1.5 s)`,
      unit: 'ms',
      pass: takeover <= bound,
      params: { samples: samplesWanted, policy: 'storage-fence', leaseSeconds: LEASE, selfFenceMarginSeconds: MARGIN, clockSkewSeconds: SKEW, killedAfterStagedMs: 1500, samplesMs: results },
    };
  } finally {
    await cleanup.run();
  }
}

export async function runRbdBench(ctx: BenchContext, opts: { quick: boolean }): Promise<BenchRow[]> {
  const bytes = opts.quick ? 64 * MiB : 256 * MiB;
  const names = [
    `R3 rbd sequential write+fsync ${bytes / MiB} MiB`,
    `R3 rbd sequential read (cold) ${bytes / MiB} MiB`,
    'R3 rbd create→attach→mounted p50',
    'R3 rbd fenced takeover (kill -9 → blocklist → other node attached)',
  ];
  const blocker = loopBlocker(['mkfs.ext4', 'rbd-fuse', 'nsenter']) ?? ((await cephAvailable()) ? undefined : 'Ceph is not installed (run `bash scripts/pretest.sh`)');
  if (blocker !== undefined) return names.map((n) => skippedRow(n, '', blocker));
  const cleanup = new Cleanup();
  try {
    ctx.progress('starting a private one-node Ceph');
    const ceph = await startCephCluster(cleanup, { osdBytes: 2 * GiB });
    ctx.progress(`ceph up in ${ceph.bringUpMs} ms`);
    const adminKey = (await ceph.ceph(['auth', 'print-key', 'client.admin'])).trim();
    const node = await ceph.createUser('polly-node', { mon: 'profile rbd', osd: `profile rbd pool=${ceph.rbdPool}` });
    const parameters = poolParameters(ceph, adminKey, node);
    const rows = await dataPathRows(ctx, ceph, parameters, bytes, opts.quick ? 3 : 5);
    rows.push(await mountTimeRow(ctx, parameters, opts.quick ? 3 : 10));
    rows.push(await takeoverRow(ctx, parameters, opts.quick ? 1 : 3));
    for (const r of rows) r.params.cephBringUpMs = ceph.bringUpMs;
    return rows;
  } finally {
    await cleanup.run();
  }
}

export const rbdBenchmark: Benchmark = {
  id: 'R3',
  name: 'rbd',
  title: 'Ceph RBD (data path, mount time, fenced takeover)',
  run: (ctx) => runRbdBench(ctx, { quick: ctx.quick }),
};
