/**
 * P10 CSI proxy: CreateVolume through Polly ÷ CreateVolume directly to the same CSI plugin, side by side
 * in one run (alternating, median of many). The plugin is another Polly process fronting a btrfs pool
 * (a real CSI plugin over gRPC); "through Polly" is a CSI CreateVolume on a Polly server whose pool is
 * the `csi` driver over that plugin (its store, scheduler, admission and the driver's call). A second
 * row times the driver alone (CsiDriver.create, in this process) against the same direct call: the
 * proxy's own cost without Polly's bookkeeping. Goal ≤ 1.2. Each volume is deleted, untimed, after
 * its create, so the plugin's state stays the same across samples.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsiPluginClient } from '../src/drivers/csi/csi-client.js';
import { CsiDriver } from '../src/drivers/csi/csi-driver.js';
import { startPollyCsiPlugin } from '../test/helpers/csi-plugin.js';
import { Cleanup, createLoopFs } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, median, MiB, msSince, ratioOf, skippedRow, sleep } from './harness.js';
import { loopBlocker } from './loop-env.js';
import { summarizeProfiles } from './profile.js';
import { BENCH_ADMIN_TOKEN, startPollyProcess } from './server-process.js';

const GOAL = 'ratio ≤ 1.2';
const VOLUME_BYTES = 16 * MiB;
const MOUNT = { mount: { fs_type: '', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

type Path = 'direct' | 'polly' | 'driver';

/** Sums and counts of the Prometheus series the breakdown reads, by a short key. */
type Scrape = Record<string, number>;

/** One value of a Prometheus text exposition: the sample whose name and labels all match, else 0. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function metricsOf(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  return res.text();
}

/** What the server spent per CreateVolume, from its own metrics and the plugin's (differences of two scrapes). */
async function scrape(outerUrl: string, pluginUrl: string, token: string, pluginToken: string): Promise<Scrape> {
  const [outer, inner] = await Promise.all([metricsOf(outerUrl, token), metricsOf(pluginUrl, pluginToken)]);
  const rpc = 'polly_rpc_duration_seconds';
  const op = 'polly_driver_operation_duration_seconds';
  return {
    createSum: sample(outer, `${rpc}_sum`, { frontend: 'csi', method: 'CreateVolume' }),
    createCount: sample(outer, `${rpc}_count`, { frontend: 'csi', method: 'CreateVolume' }),
    driverCreateSum: sample(outer, `${op}_sum`, { driver: 'csi', op: 'create' }),
    driverCreateCount: sample(outer, `${op}_count`, { driver: 'csi', op: 'create' }),
    driverCapacitySum: sample(outer, `${op}_sum`, { driver: 'csi', op: 'capacity' }),
    driverCapacityCount: sample(outer, `${op}_count`, { driver: 'csi', op: 'capacity' }),
    transactions: sample(outer, 'polly_store_transactions_total', {}),
    commits: sample(outer, 'polly_store_commits_total', {}),
    commitSeconds: sample(outer, 'polly_store_commit_seconds_total', {}),
    statementSeconds: sample(outer, 'polly_store_statement_seconds_total', {}),
    pluginCommits: sample(inner, 'polly_store_commits_total', {}),
    pluginCommitSeconds: sample(inner, 'polly_store_commit_seconds_total', {}),
    pluginGetCapacity: sample(inner, `${rpc}_count`, { frontend: 'csi', method: 'GetCapacity' }),
    pluginCreateSum: sample(inner, `${rpc}_sum`, { frontend: 'csi', method: 'CreateVolume' }),
    pluginCreateCount: sample(inner, `${rpc}_count`, { frontend: 'csi', method: 'CreateVolume' }),
  };
}

export async function runCsiProxyBench(ctx: BenchContext, opts: { quick: boolean; repetitions?: number }): Promise<BenchRow[]> {
  const repetitions = opts.repetitions ?? (opts.quick ? 15 : 60);
  const names = [`P10 CSI CreateVolume through Polly (csi pool) ÷ directly to the plugin`, `P10 CSI CreateVolume through the csi driver alone ÷ directly to the plugin`];
  const blocker = loopBlocker(['mkfs.btrfs', 'btrfs']);
  if (blocker !== undefined) return names.map((n) => skippedRow(n, GOAL, blocker));

  const cleanup = new Cleanup();
  try {
    ctx.progress('starting the CSI plugin (a Polly process over btrfs) and a Polly server with a csi pool over it');
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 2 * GiB });
    const poolPath = join(fs.path, 'pool');
    mkdirSync(poolPath);
    const work = mkdtempSync(join(tmpdir(), 'polly-bench-csi-'));
    cleanup.add(async () => rmSync(work, { recursive: true, force: true }));
    mkdirSync(join(work, 'plugin'));
    const plugin = await startPollyCsiPlugin(join(work, 'plugin'), poolPath);
    cleanup.add(() => plugin.stop());
    const parameters = {
      endpoint: plugin.controllerEndpoint,
      controllerSecrets: JSON.stringify({ pollyToken: plugin.token }),
      capacityBytes: String(2 * GiB),
      sizeEnforced: 'true',
    };
    const outerDir = join(work, 'outer');
    mkdirSync(outerDir);
    const outerEndpoint = `unix://${join(outerDir, 'csi.sock')}`;
    // With --profile the Polly server runs under --cpu-prof; its summary (start-up left out) is printed
    // once it stopped.
    const profileDir = ctx.profileDir === undefined ? undefined : join(ctx.profileDir, 'P10-server');
    const spawned = Date.now();
    const outer = await startPollyProcess({
      dataDir: outerDir,
      config: { pools: [{ name: 'proxied', driver: 'csi', parameters }], csi: [{ endpoint: outerEndpoint, service: 'bench' }] },
      nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    });
    const startupMs = Date.now() - spawned;
    cleanup.add(() => outer.stop());

    const policy = { timeoutMs: 30_000, retries: 0, backoffMs: 0 };
    const direct = new CsiPluginClient(plugin.controllerEndpoint, 'plugin', policy);
    cleanup.add(async () => direct.close());
    const viaPolly = new CsiPluginClient(outerEndpoint, 'polly', policy);
    cleanup.add(async () => viaPolly.close());
    const driver = new CsiDriver({ poolName: 'bench-csi', parameters, dataDir: join(work, 'driver') });
    cleanup.add(() => driver.close());
    await driver.init();

    const untilGone = async (name: string) => {
      for (let waited = 0; waited < 30_000; waited += 20) {
        const res = await plugin.rest('GET', `/v1/volumes?service=proxy&name=${encodeURIComponent(name)}`);
        const items = (res.body as { items: Array<{ status: string }> }).items;
        if (items.every((v) => v.status === 'deleted')) return;
        await sleep(20);
      }
      throw new Error(`the plugin still holds volume ${name} 30 s after Polly deleted it`);
    };
    const samples: Record<Path, number[]> = { direct: [], polly: [], driver: [] };
    let n = 0;
    const once = async (path: Path) => {
      const name = `bench-${path}-${process.pid}-${++n}`;
      const request = { name, capacity_range: { required_bytes: VOLUME_BYTES, limit_bytes: 0 }, volume_capabilities: [MOUNT], secrets: path === 'direct' ? { pollyToken: plugin.token } : {} };
      const t = process.hrtime.bigint();
      let volumeId: string;
      if (path === 'driver') {
        volumeId = (await driver.create({ volumeId: name, sizeBytes: VOLUME_BYTES, volumeMode: 'filesystem' })).backendId;
      } else {
        const res = await (path === 'direct' ? direct : viaPolly).call<{ volume: { volume_id: string } }>('Controller', 'CreateVolume', request);
        volumeId = res.volume.volume_id;
      }
      const ms = msSince(t);
      if (path === 'polly') {
        await viaPolly.call('Controller', 'DeleteVolume', { volume_id: volumeId, secrets: {} });
        // Polly deletes on the backend after it answered: wait until the plugin's volume (named after
        // Polly's volume id) is gone, so that no deletion overlaps the next sample.
        await untilGone(volumeId);
      } else {
        await driver.delete(volumeId);
      }
      return ms;
    };
    // Untimed rounds first: the first calls pay for connections, JIT and the plugin's first btrfs calls.
    try {
      for (let i = 0; i < 3; i++) for (const p of ['direct', 'polly', 'driver'] as const) await once(p);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${outer.output().slice(-3000)}`);
    }
    const before = await scrape(outer.url, plugin.url(), BENCH_ADMIN_TOKEN, plugin.adminToken);
    const cpuBefore = outer.cpuSeconds();
    const orders: Path[][] = [
      ['direct', 'polly', 'driver'],
      ['polly', 'driver', 'direct'],
      ['driver', 'direct', 'polly'],
    ];
    for (let r = 0; r < repetitions; r++) {
      for (const p of orders[r % orders.length]!) samples[p].push(await once(p));
      if ((r + 1) % 5 === 0) ctx.progress(`${r + 1}/${repetitions}: direct ${median(samples.direct).toFixed(1)} ms, via Polly ${median(samples.polly).toFixed(1)} ms, driver ${median(samples.driver).toFixed(1)} ms`);
    }
    const cpuAfter = outer.cpuSeconds();
    const after = await scrape(outer.url, plugin.url(), BENCH_ADMIN_TOKEN, plugin.adminToken);
    const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    const creates = d('createCount');
    const per = (k: string) => (creates > 0 ? Math.round((d(k) / creates) * 1e4) / 1e4 : null);
    const ms = (sum: string, count: string) => (d(count) > 0 ? Math.round((d(sum) / d(count)) * 1e5) / 100 : null);
    // Means over the timed polly-path creates (the metrics cannot give medians); the rest of a
    // server-side create is Polly's own: request parsing, lookups, placement, the intent and confirm
    // transactions, events.
    const serverMs = ms('createSum', 'createCount');
    const driverMs = ms('driverCreateSum', 'driverCreateCount');
    const capacityMs = d('driverCapacityCount') > 0 ? Math.round((d('driverCapacitySum') / creates) * 1e5) / 100 : 0;
    const breakdown = {
      creates,
      serverCreateVolumeMeanMs: serverMs,
      driverCreateMeanMs: driverMs,
      driverCapacityCallsPerCreate: per('driverCapacityCount'),
      driverCapacityMsPerCreate: capacityMs,
      pluginGetCapacityPerCreate: per('pluginGetCapacity'),
      pollyBookkeepingMeanMs: serverMs !== null && driverMs !== null ? Math.round((serverMs - driverMs - capacityMs) * 100) / 100 : null,
      // Transactions of the whole polly-path sample (create, delete, and the deletion's confirmation).
      storeTransactionsPerCreateAndDelete: per('transactions'),
      // The server's COMMITs (each a durable SQLite commit: the fsync is waited for in it) and the rest
      // of its SQL, over the same create+delete samples; the plugin's commits, over all three paths.
      storeCommitsPerCreateAndDelete: per('commits'),
      storeCommitMeanMs: ms('commitSeconds', 'commits'),
      storeStatementMsPerCreateAndDelete: creates > 0 ? Math.round((d('statementSeconds') / creates) * 1e5) / 100 : null,
      pluginStoreCommitMeanMs: ms('pluginCommitSeconds', 'pluginCommits'),
      pluginCreateVolumeMeanMs: ms('pluginCreateSum', 'pluginCreateCount'),
      // CPU time (user + system, from /proc; waits for fsync or for a core are not in it) the server
      // process used over the timed rounds, per create+delete sample: the steadier measure of its own work
      // on a loaded machine. USER_HZ ticks, so ±10 ms over the whole run.
      serverCpuMsPerCreateAndDelete: creates > 0 ? Math.round(((cpuAfter - cpuBefore) / creates) * 1e5) / 100 : null,
    };
    ctx.progress(`breakdown of a CreateVolume through Polly: ${JSON.stringify(breakdown)}`);
    if (profileDir !== undefined) {
      await outer.stop();
      ctx.progress(`CPU profile of the Polly server (${profileDir}; start-up left out):\n${summarizeProfiles(profileDir, 25, startupMs)}`);
    }
    const directMs = median(samples.direct);
    const row = (name: string, path: Path, measured: string): BenchRow => {
      const ms = median(samples[path]);
      const ratio = ratioOf(ms, directMs);
      return {
        name,
        polly: ms,
        reference: directMs,
        ratio,
        goal: GOAL,
        unit: 'ms',
        pass: ratio !== null && ratio <= 1.2,
        params: {
          repetitions,
          volumeMiB: VOLUME_BYTES / MiB,
          measured,
          reference: 'CSI CreateVolume straight to the plugin socket (same client code, no retries)',
          plugin: 'polly server (separate process) with a btrfs pool, CSI controller socket bound to one service',
          samples: { [path]: samples[path], direct: samples.direct },
          ...(path === 'polly' ? { breakdown } : {}),
        },
      };
    };
    return [
      row(names[0]!, 'polly', 'CSI CreateVolume on a polly server (separate process, SQLite) whose pool is the csi driver over the plugin'),
      row(names[1]!, 'driver', 'CsiDriver.create in this process (argument building, one CreateVolume)'),
    ];
  } finally {
    await cleanup.run();
  }
}

export const csiProxyBenchmark: Benchmark = {
  id: 'P10',
  name: 'csi-proxy',
  title: 'CSI proxy CreateVolume overhead',
  run: (ctx) => runCsiProxyBench(ctx, { quick: ctx.quick }),
};
