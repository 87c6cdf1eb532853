/**
 * R4 HA: three `polly server` processes (bin/polly.js) on one PostgreSQL of their own (a private server
 * in a temporary directory, so that it can be crashed), one shared `local` pool; 16 clients that know
 * the three URLs (the CLI's failover client) create, attach (RWO), try a second attach on another node,
 * detach and delete volumes. Ten rounds, alternately a random replica and the leader killed with SIGKILL
 * at a random moment (0.5–2 s apart), each restarted after its round. Then PostgreSQL is crashed
 * (`pg_ctl stop -m immediate`), kept down 3 s and started again. The scenario is the one of
 * test/e2e/ha.test.ts (test/helpers/ha-scenario.ts).
 */
import { HaCluster } from '../test/helpers/ha-cluster.js';
import { pgOutage, registerNodes, runHaScenario, type KillKind } from '../test/helpers/ha-scenario.js';
import { privatePgSkipReason } from '../test/helpers/private-pg.js';
import { type BenchContext, type BenchRow, type Benchmark, quantile, skippedRow } from './harness.js';

const CLIENTS = 16;

export async function runHaBench(ctx: BenchContext): Promise<BenchRow[]> {
  const roundCount = ctx.quick ? 4 : 10;
  const names = {
    lost: `R4 HA: acknowledged operations lost (${CLIENTS} clients, 3 replicas, ${roundCount} kill -9 rounds)`,
    first: 'R4 HA: kill -9 → first successful request (any client), max of rounds',
    worst: 'R4 HA: kill -9 → every client served again (worst client), max of rounds',
    takeover: 'R4 HA: leader killed → background loops resumed on a new leader, max',
    orphans: 'R4 HA: orphans after reconcile (unmanaged backend objects + volumes left in transition)',
    doubles: 'R4 HA: double-attached RWO volumes',
    outage: 'R4 HA: PostgreSQL crashed 3 s → every replica ready again (no restart), from the restart',
  };
  const skip = privatePgSkipReason();
  if (skip !== null) return Object.values(names).map((n) => skippedRow(n, '', skip));
  ctx.progress('starting a private PostgreSQL and 3 replicas');
  const cluster = await HaCluster.start({ replicas: 3, entry: 'dist' });
  try {
    await registerNodes(cluster, CLIENTS);
    const rounds: KillKind[] = Array.from({ length: roundCount }, (_, i) => (i % 2 === 0 ? 'random' : 'leader'));
    const f = await runHaScenario(cluster, { clients: CLIENTS, rounds, minGapMs: 500, maxGapMs: 2_000, log: ctx.progress });
    ctx.progress('crashing PostgreSQL for 3 s');
    const outage = await pgOutage(cluster, 3_000);
    ctx.progress(`outage: all not ready after ${outage.allNotReadyMs} ms, ready again ${outage.readyAgainMs} ms after the restart`);
    const first = f.rounds.map((r) => r.firstSuccessMs);
    const worst = f.rounds.map((r) => r.worstClientMs);
    const takeovers = f.rounds.flatMap((r) => (r.takeoverMs === null ? [] : [r.takeoverMs]));
    const params = {
      clients: CLIENTS,
      replicas: 3,
      rounds: f.rounds,
      replicaHeartbeatSeconds: 1,
      replicaTimeoutSeconds: 2,
      clientDeadlineMs: 20_000,
    };
    const stat = (xs: number[]) => ({ p50: quantile(xs, 0.5), max: quantile(xs, 1), samplesMs: xs });
    return [
      {
        name: names.lost,
        polly: f.lost,
        reference: null,
        ratio: null,
        goal: '0',
        unit: 'ops',
        pass: f.lost === 0 && f.resurrected === 0,
        params: { acknowledged: f.acknowledged, acknowledgedCreates: f.acknowledgedCreates, resurrectedDeletes: f.resurrected, failedRequests: f.errors, ...params },
      },
      { name: names.first, polly: quantile(first, 1), reference: null, ratio: null, goal: '< 5000 ms', unit: 'ms', pass: quantile(first, 1) < 5_000, params: stat(first) },
      { name: names.worst, polly: quantile(worst, 1), reference: null, ratio: null, goal: '< 5000 ms', unit: 'ms', pass: quantile(worst, 1) < 5_000, params: stat(worst) },
      {
        name: names.takeover,
        polly: takeovers.length > 0 ? quantile(takeovers, 1) : null,
        reference: null,
        ratio: null,
        goal: '< 5000 ms',
        unit: 'ms',
        pass: takeovers.length > 0 && quantile(takeovers, 1) < 5_000,
        params: { ...stat(takeovers), measured: 'kill → polly_leader_loop_last_run_timestamp_seconds of the replica that then says polly_leader 1' },
      },
      { name: names.orphans, polly: f.orphans, reference: null, ratio: null, goal: '0', unit: '', pass: f.orphans === 0, params: {} },
      { name: names.doubles, polly: f.doubleAttaches, reference: null, ratio: null, goal: '0', unit: '', pass: f.doubleAttaches === 0, params: {} },
      {
        name: names.outage,
        polly: outage.readyAgainMs,
        reference: null,
        ratio: null,
        goal: 'every replica 503 while down, 200 < 10000 ms after, none restarted',
        unit: 'ms',
        pass: outage.allNotReadyMs >= 0 && outage.readyAgainMs >= 0 && outage.readyAgainMs < 10_000 && outage.survivors === 3 && outage.createAfter,
        params: { ...outage },
      },
    ];
  } finally {
    await cluster.destroy();
  }
}

export const haBenchmark: Benchmark = {
  id: 'R4',
  name: 'ha',
  title: 'HA: replicas killed under load, PostgreSQL crashed',
  run: runHaBench,
};
