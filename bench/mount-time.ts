/**
 * P5 time to mount (btrfs): create → attach → mounted on the local node, p50/p99 over 50 volumes
 * (quick: 10). Goal: p50 < 150 ms. A real `polly server` child process with a btrfs pool on a loop
 * filesystem, and a real node agent in this process talking to it over REST. Each volume is created over
 * REST, then mounted the way Docker's `VolumeDriver.Mount` (and CSI NodeStage + NodePublish) do it: the
 * agent attaches it to its node (`POST /v1/volumes/{id}/attachments`, then a heartbeat for the fencing
 * token) and stages it, then publishes it (a bind mount of the subvolume) under its mount directory; the
 * clock stops when /proc/self/mountinfo shows the target. The agent's periodic heartbeat plays no part
 * (on btrfs a heartbeat only stages, which mounts nothing: only a publish makes a mount). Each volume is
 * then unpublished, detached and deleted before the next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runAgent } from '../src/agent/run.js';
import { ServerClient } from '../src/agent/server-client.js';
import { findMount } from '../src/drivers/system/mounts.js';
import { Cleanup, createLoopFs, tempDir } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, MiB, msSince, quantile, skippedRow } from './harness.js';
import { loopBlocker } from './loop-env.js';
import { BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

export interface MountTimeOptions {
  quick: boolean;
  volumes?: number;
}

const POOL = 'bench-btrfs';
const NODE_ID = 'bench-node';
const VOLUME_BYTES = 64 * MiB;
const GOAL_MS = 150;

interface Sample {
  totalMs: number;
  createMs: number;
  attachMs: number;
  publishMs: number;
  seenMs: number;
}

export async function runMountTimeBench(ctx: BenchContext, opts: MountTimeOptions): Promise<BenchRow[]> {
  const volumes = opts.volumes ?? (opts.quick ? 10 : 50);
  const p50Name = `P5 create→attach→mounted p50 (${volumes} btrfs volumes)`;
  const p99Name = `P5 create→attach→mounted p99 (${volumes} btrfs volumes)`;
  const blocker = loopBlocker(['mkfs.btrfs', 'btrfs']);
  if (blocker !== undefined) return [skippedRow(p50Name, `p50 < ${GOAL_MS} ms`, blocker), skippedRow(p99Name, 'informational', blocker)];

  const cleanup = new Cleanup();
  const log = pino({ level: 'error' });
  try {
    ctx.progress('preparing a btrfs pool on a loop file, a polly server and a node agent');
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 2 * GiB });
    const poolPath = join(fs.path, 'pool');
    await mkdir(poolPath);
    const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-'));
    cleanup.add(async () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startPollyProcess({
      dataDir,
      config: { pools: [{ name: POOL, driver: 'btrfs', parameters: { path: poolPath } }] },
      nodeArgs: ctx.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, 'P5')}`],
    });
    cleanup.add(() => server.stop());
    // Registered after the server, so it runs first: whatever the agent left mounted goes before the server stops.
    const agentDir = await tempDir(cleanup);
    const running = await runAgent({
      serverUrl: server.url,
      token: BENCH_SERVICE_TOKEN,
      nodeId: NODE_ID,
      hostname: 'bench-node.local',
      topology: {},
      stateDir: agentDir,
      dataDir,
      log,
    });
    cleanup.add(() => running.stop());
    const agent = running.agent;
    const rest = new ServerClient(server.url, BENCH_SERVICE_TOKEN);
    cleanup.add(() => rest.close());

    let seq = 0;
    const mountOne = async (): Promise<Sample> => {
      const name = `p5-${process.pid}-${seq++}`;
      const t0 = process.hrtime.bigint();
      const v = await rest.call<{ id: string }>('POST', '/v1/volumes', { name, sizeBytes: VOLUME_BYTES });
      const createMs = msSince(t0);
      const target = join(agent.mountRoot, v.id);
      await agent.attach(v.id, 'RWO');
      const attachMs = msSince(t0) - createMs;
      await agent.publish(v.id, target, false);
      const publishMs = msSince(t0) - createMs - attachMs;
      if ((await findMount(target)) === undefined) throw new Error(`volume ${v.id}: ${target} is not a mount point after publish`);
      const totalMs = msSince(t0);
      const sample = { totalMs, createMs, attachMs, publishMs, seenMs: totalMs - createMs - attachMs - publishMs };
      await agent.unpublish(v.id, target);
      await agent.detach(v.id);
      await rest.call('DELETE', `/v1/volumes/${encodeURIComponent(v.id)}`);
      return sample;
    };

    // Untimed: the first calls pay for loading programs and warming the server's code paths.
    for (let i = 0; i < 2; i++) await mountOne();
    const samples: Sample[] = [];
    for (let i = 0; i < volumes; i++) {
      const s = await mountOne();
      samples.push(s);
      if ((i + 1) % Math.max(1, Math.floor(volumes / 5)) === 0 || i + 1 === volumes) {
        ctx.progress(
          `${i + 1}/${volumes}: ${s.totalMs.toFixed(1)} ms (create ${s.createMs.toFixed(1)}, attach+stage ${s.attachMs.toFixed(1)}, publish ${s.publishMs.toFixed(1)})`,
        );
      }
    }
    const total = samples.map((s) => s.totalMs);
    const phase = (k: keyof Sample) => ({ p50: round(quantile(samples.map((s) => s[k]), 0.5)), p99: round(quantile(samples.map((s) => s[k]), 0.99)) });
    const p50 = quantile(total, 0.5);
    const p99 = quantile(total, 0.99);
    const params = {
      volumes,
      quick: opts.quick,
      warmupVolumes: 2,
      volumeMiB: VOLUME_BYTES / MiB,
      pool: `btrfs with quotas on a ${(2 * GiB) / MiB} MiB loop file`,
      server: 'polly server child process (SQLite), default lease',
      agent: 'NodeAgent in the bench process (runAgent), REST to the server; its periodic heartbeat plays no part',
      measured:
        'POST /v1/volumes → agent.attach (POST /v1/volumes/{id}/attachments + heartbeat + stage) → agent.publish (bind mount under the agent mount dir) → target in /proc/self/mountinfo; as Docker VolumeDriver.Mount does. Then unpublish, detach, DELETE, untimed',
      phasesMs: { create: phase('createMs'), attachAndStage: phase('attachMs'), publish: phase('publishMs'), mountinfoCheck: phase('seenMs') },
      samplesMs: total.map(round),
    };
    return [
      { name: p50Name, polly: p50, reference: null, ratio: null, goal: `p50 < ${GOAL_MS} ms`, unit: 'ms', pass: p50 < GOAL_MS, params },
      { name: p99Name, polly: p99, reference: null, ratio: null, goal: 'informational', unit: 'ms', pass: null, params: { volumes, quick: opts.quick, max: round(quantile(total, 1)) } },
    ];
  } finally {
    await cleanup.run();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export const mountTimeBenchmark: Benchmark = {
  id: 'P5',
  name: 'mount-time',
  title: 'time to mount (btrfs)',
  run: (ctx) => runMountTimeBench(ctx, { quick: ctx.quick }),
};
