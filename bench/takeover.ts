/**
 * R2 takeover after holder death: a real `polly server` process and a real `polly agent` process (node
 * `holder`, with its fence guard) sharing a btrfs pool (`topology.shared: true`) with node `taker`. The
 * holder's agent stages a RWO volume under a profile with `failover: force-after`; then it is killed
 * with SIGKILL. Measured: from the kill to the fence guard's self-fence (the volume read-only at the
 * storage and unmounted in every mount namespace of the host, at the dead agent's deadline), and from
 * the kill to the first successful attach of the volume to `taker` (`POST /v1/volumes/{id}/attachments`
 * every 50 ms). Short lease and margins (lease 4 s, margin 1 s, clock skew 1 s, force-after 3 s): the
 * takeover is bounded by lease + skew + force-after after the holder's last renewal, the fence by
 * lease − margin; a run takes about 10 s per sample.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerClient } from '../src/agent/server-client.js';
import { PollyError } from '../src/core/errors.js';
import { Cleanup, createLoopFs, tempDir } from '../test/helpers/loopfs.js';
import { type BenchContext, type BenchRow, type Benchmark, GiB, median, MiB, REPO_ROOT, skippedRow, sleep } from './harness.js';
import { loopBlocker } from './loop-env.js';
import { BENCH_ADMIN_TOKEN, BENCH_SERVICE_TOKEN, startPollyProcess } from './server-process.js';

const LEASE = 4;
const MARGIN = 1;
const SKEW = 1;
const FORCE_AFTER = 3;
const POLICY = 'force-after';

interface Sample {
  fenceMs: number;
  takeoverMs: number;
  attempts: number;
}

export async function runTakeoverBench(ctx: BenchContext, opts: { quick: boolean; samples?: number }): Promise<BenchRow[]> {
  const samples = opts.samples ?? (opts.quick ? 1 : 3);
  const takeName = `R2 takeover after holder death (failover ${POLICY}, kill -9 → other node attached)`;
  const fenceName = 'R2 holder fenced after its agent died (kill -9 → fence guard self-fence)';
  const bound = (LEASE + SKEW + FORCE_AFTER) * 1000;
  const blocker = loopBlocker(['mkfs.btrfs', 'btrfs', 'nsenter']);
  if (blocker !== undefined) return [skippedRow(takeName, `≤ ${bound} ms`, blocker), skippedRow(fenceName, `< ${(LEASE - MARGIN) * 1000} ms`, blocker)];
  const cleanup = new Cleanup();
  try {
    ctx.progress('preparing a btrfs pool, a polly server and a polly agent process');
    const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 1 * GiB });
    const poolPath = join(fs.path, 'pool');
    await mkdir(poolPath);
    const dataDir = mkdtempSync(join(tmpdir(), 'polly-bench-'));
    cleanup.add(async () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startPollyProcess({
      dataDir,
      config: {
        attachmentLeaseSeconds: LEASE,
        selfFenceMarginSeconds: MARGIN,
        clockSkewSeconds: SKEW,
        pools: [{ name: 'shared', driver: 'btrfs', parameters: { path: poolPath }, topology: { shared: true } }],
        profiles: [{ name: 'forced', pools: ['shared'], failover: POLICY, forceAfterSeconds: FORCE_AFTER }],
      },
    });
    cleanup.add(() => server.stop());
    const rest = new ServerClient(server.url, BENCH_SERVICE_TOKEN);
    cleanup.add(() => rest.close());
    const admin = new ServerClient(server.url, BENCH_ADMIN_TOKEN);
    cleanup.add(() => admin.close());
    await rest.call('POST', '/v1/nodes', { id: 'taker', hostname: 'taker.bench' });
    const agentDir = await tempDir(cleanup);

    const results: Sample[] = [];
    for (let i = 0; i < samples; i++) {
      const stateDir = join(agentDir, `holder-${i}`);
      const agent = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bin/polly.js'), 'agent', '--node', 'holder', '--state-dir', stateDir, '--data-dir', join(agentDir, 'data'), '--heartbeat', '1'],
        { env: { ...process.env, POLLY_URL: server.url, POLLY_TOKEN: BENCH_SERVICE_TOKEN, POLLY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      let out = '';
      agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
      agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => agent.once('exit', () => resolve()));
      cleanup.add(async () => {
        try {
          process.kill(-agent.pid!, 'SIGKILL');
        } catch {
          // gone
        }
        // Its fence guard too (its own process group), if it still runs.
        const state = JSON.parse(readFileSync(join(stateDir, 'agent-state.json'), 'utf8')) as { guardPid?: number };
        if (state.guardPid) {
          try {
            process.kill(state.guardPid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      });
      for (let t = 0; !out.includes('connected to'); t++) {
        if (t > 600) throw new Error(`polly agent did not start:\n${out}`);
        await sleep(50);
      }
      const v = await rest.call<{ id: string }>('POST', '/v1/volumes', { name: `r2-${process.pid}-${i}`, sizeBytes: 64 * MiB, profile: 'forced' });
      await rest.call('POST', `/v1/volumes/${v.id}/attachments`, { node: 'holder', accessMode: 'RWO' });
      // The holder's agent stages it with its next heartbeat (held, renewed, in its state file).
      for (let t = 0; ; t++) {
        const state = JSON.parse(readFileSync(join(stateDir, 'agent-state.json'), 'utf8')) as { held: Array<{ volumeId: string }> };
        if (state.held.some((h) => h.volumeId === v.id)) break;
        if (t > 200) throw new Error(`the holder never staged ${v.id}:\n${out}\n${readFileSync(join(stateDir, "agent-state.json"), "utf8")}\n${JSON.stringify(await rest.call("GET", `/v1/attachments?volume=${v.id}`))}`);
        await sleep(50);
      }
      await sleep(1500);
      const killedAt = Date.now();
      process.kill(-agent.pid!, 'SIGKILL');
      await exited;
      let attempts = 0;
      let takenAt = 0;
      for (;;) {
        attempts++;
        try {
          const a = await rest.call<{ id: string }>('POST', `/v1/volumes/${v.id}/attachments`, { node: 'taker', accessMode: 'RWO' });
          takenAt = Date.now();
          await rest.call('DELETE', `/v1/attachments/${a.id}`);
          break;
        } catch (err) {
          if (!(err instanceof PollyError) || err.code !== 'VOLUME_BUSY') throw err;
          if (Date.now() - killedAt > 4 * bound) throw new Error(`no takeover after ${Date.now() - killedAt} ms`);
          await sleep(50);
        }
      }
      const guardLog = readFileSync(join(stateDir, 'fence-guard.log'), 'utf8');
      const line = guardLog.split('\n').find((l) => l.includes('self-fenced at its deadline'));
      if (!line) throw new Error(`the fence guard did not fence:\n${guardLog}`);
      const fencedAt = Date.parse((JSON.parse(line) as { fencedAt: string }).fencedAt);
      if (fencedAt >= takenAt) throw new Error(`the holder was fenced at ${fencedAt}, after the takeover at ${takenAt}`);
      const s = { fenceMs: fencedAt - killedAt, takeoverMs: takenAt - killedAt, attempts };
      results.push(s);
      ctx.progress(`${i + 1}/${samples}: fenced after ${s.fenceMs} ms, taken over after ${s.takeoverMs} ms (${attempts} attach attempts)`);
      await admin.call('DELETE', `/v1/volumes/${v.id}`).catch(() => undefined);
    }
    const takeover = median(results.map((r) => r.takeoverMs));
    const fence = median(results.map((r) => r.fenceMs));
    const params = {
      samples,
      policy: POLICY,
      leaseSeconds: LEASE,
      selfFenceMarginSeconds: MARGIN,
      clockSkewSeconds: SKEW,
      forceAfterSeconds: FORCE_AFTER,
      killedAfterLastStageMs: 1500,
      pool: 'btrfs on a loop file, topology.shared: true',
      measured: 'SIGKILL of the holder agent process → fence guard fencedAt (its log) and → first 201 of POST /v1/volumes/{id}/attachments for the other node (every 50 ms)',
      samplesMs: results,
    };
    return [
      { name: takeName, polly: takeover, reference: null, ratio: null, goal: `≤ ${bound} ms (lease + skew + force-after)`, unit: 'ms', pass: takeover <= bound, params },
      { name: fenceName, polly: fence, reference: null, ratio: null, goal: `< ${(LEASE - MARGIN) * 1000} ms (lease − margin), before the takeover`, unit: 'ms', pass: fence < (LEASE - MARGIN) * 1000, params: { samples } },
    ];
  } finally {
    await cleanup.run();
  }
}

export const takeoverBenchmark: Benchmark = {
  id: 'R2',
  name: 'takeover',
  title: 'takeover after holder death',
  run: (ctx) => runTakeoverBench(ctx, { quick: ctx.quick }),
};
