import { request } from 'undici';
import { PollyClient } from '../../src/cli/client.js';
import { ApiError } from '../../src/cli/errors.js';
import { HA_ADMIN_TOKEN, HA_POOL, HA_SERVICE_TOKEN, type HaCluster } from './ha-cluster.js';

/**
 * The HA scenario shared by test/e2e/ha.test.ts and bench/ha.ts: clients that know every replica's URL
 * create, attach (RWO), try a second attach elsewhere (must be refused), detach and delete volumes,
 * while replicas are killed with SIGKILL — a random one, or the leader — at random moments.
 */

export type KillKind = 'random' | 'leader';

export interface RoundResult {
  kind: KillKind;
  victim: number;
  wasLeader: boolean;
  /** From the kill to the first successful request of any client after it (ms). */
  firstSuccessMs: number;
  /** The worst client: from the kill to that client's first successful request after it (ms). */
  worstClientMs: number;
  /** Leader killed: from the kill to a background loop started by the new leader (ms); else null. */
  takeoverMs: number | null;
}

export interface HaFigures {
  rounds: RoundResult[];
  /** Requests answered with success (create, attach, detach, delete). */
  acknowledged: number;
  acknowledgedCreates: number;
  /** Acknowledged creates (not deleted since) missing afterwards. */
  lost: number;
  /** Acknowledged deletes whose volume is still there afterwards. */
  resurrected: number;
  /** Backend objects no record owns, plus volumes still in a transitional state, after reconcile. */
  orphans: number;
  /** Second attaches of an RWO volume to another node that succeeded, plus volumes with 2+ live attachments afterwards. */
  doubleAttaches: number;
  /** Failed requests by code (what clients saw after failover gave up or the server refused). */
  errors: Record<string, number>;
  /** The last output of replicas that died on their own (none should). */
  deaths: string[];
}

export interface HaScenarioOptions {
  clients: number;
  /** The kinds of kill, one per round, in order. */
  rounds: KillKind[];
  /** Random wait before each kill (ms). */
  minGapMs: number;
  maxGapMs: number;
  random?: () => number;
  log?: (message: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tracked {
  state: 'created' | 'deleteAcked' | 'deleteUnknown';
}

async function admin(cluster: HaCluster, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const client = new PollyClient(cluster.urls, HA_ADMIN_TOKEN);
  return method === 'GET' ? client.get(path) : client.post(path, body);
}

/** Registers the nodes the clients attach to (two per client: the one it holds, one to try a second attach). */
export async function registerNodes(cluster: HaCluster, clients: number): Promise<void> {
  for (let i = 0; i < clients; i++) {
    for (const id of [`ha-n${i}`, `ha-x${i}`]) await admin(cluster, 'POST', '/v1/nodes', { id, hostname: id, topology: {} });
  }
}

export async function runHaScenario(cluster: HaCluster, opts: HaScenarioOptions): Promise<HaFigures> {
  const random = opts.random ?? Math.random;
  const log = opts.log ?? (() => undefined);
  const volumes = new Map<string, Tracked>();
  const errors: Record<string, number> = {};
  const successes: number[][] = Array.from({ length: opts.clients }, () => []);
  let acknowledged = 0;
  let acknowledgedCreates = 0;
  let secondAttachOk = 0;
  let stop = false;

  const fail = (err: unknown) => {
    const code = err instanceof ApiError ? err.code : ((err as Error).name ?? 'Error');
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const worker = async (i: number) => {
    // Each client starts on another replica, so that the load is spread and every kill hits someone.
    const urls = cluster.urls.map((_, k) => cluster.urls[(i + k) % cluster.urls.length] as string);
    const client = new PollyClient(urls, HA_SERVICE_TOKEN);
    const ok = () => {
      acknowledged++;
      successes[i]!.push(Date.now());
    };
    for (let n = 0; !stop; n++) {
      let id: string;
      try {
        id = (await client.post<{ id: string }>('/v1/volumes', { name: `c${i}-${n}`, sizeBytes: 1 << 20, pool: HA_POOL })).id;
        volumes.set(id, { state: 'created' });
        acknowledgedCreates++;
        ok();
      } catch (err) {
        fail(err);
        continue;
      }
      let attachment: string | undefined;
      try {
        attachment = (await client.post<{ id: string }>(`/v1/volumes/${id}/attachments`, { node: `ha-n${i}`, accessMode: 'RWO' })).id;
        ok();
        try {
          await client.post(`/v1/volumes/${id}/attachments`, { node: `ha-x${i}`, accessMode: 'RWO' });
          secondAttachOk++;
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'VOLUME_BUSY')) fail(err);
        }
        await client.delete(`/v1/attachments/${attachment}`);
        ok();
      } catch (err) {
        fail(err);
        continue; // keep it: the check afterwards finds it, attached or not
      }
      try {
        await client.delete(`/v1/volumes/${id}`);
        volumes.set(id, { state: 'deleteAcked' });
        ok();
      } catch (err) {
        volumes.set(id, { state: 'deleteUnknown' });
        fail(err);
      }
    }
  };

  const workers = Array.from({ length: opts.clients }, (_, i) => worker(i));
  const rounds: RoundResult[] = [];
  try {
    for (const kind of opts.rounds) {
      await sleep(opts.minGapMs + random() * (opts.maxGapMs - opts.minGapMs));
      const leader = await cluster.leader();
      const victim = kind === 'leader' ? leader : Math.floor(random() * cluster.urls.length);
      const killedAt = await cluster.kill9(victim);
      const takeover = victim === leader ? cluster.loopsResumed(killedAt, victim).then((r) => r.atMs - killedAt) : Promise.resolve(null);
      // Give every client time to reach its first success after the kill (or to give up).
      const deadline = killedAt + 25_000;
      const firsts: number[] = [];
      for (let c = 0; c < opts.clients; c++) {
        for (;;) {
          const first = successes[c]!.find((t) => t >= killedAt);
          if (first !== undefined) {
            firsts.push(first - killedAt);
            break;
          }
          if (Date.now() > deadline) {
            firsts.push(Number.POSITIVE_INFINITY);
            break;
          }
          await sleep(50);
        }
      }
      const takeoverMs = await takeover;
      const round: RoundResult = { kind, victim, wasLeader: victim === leader, firstSuccessMs: Math.min(...firsts), worstClientMs: Math.max(...firsts), takeoverMs };
      rounds.push(round);
      log(`round ${rounds.length}/${opts.rounds.length}: killed r${victim}${round.wasLeader ? ' (leader)' : ''}; first success after ${round.firstSuccessMs} ms, every client after ${round.worstClientMs} ms${takeoverMs !== null ? `, loops resumed after ${takeoverMs} ms` : ''}`);
      await cluster.startReplica(victim);
    }
  } finally {
    stop = true;
    await Promise.allSettled(workers);
  }

  // Let the reconciler finish what the kills interrupted, then look.
  const settleUntil = Date.now() + 30_000;
  let transitional = 0;
  for (;;) {
    transitional = Number(
      (await cluster.query<{ n: string }>("select count(*) as n from volumes where status in ('creating', 'deleting', 'attaching', 'detaching', 'importing')"))[0]?.n ?? 0,
    );
    if (transitional === 0 || Date.now() > settleUntil) break;
    await sleep(500);
  }
  const present = new Set((await cluster.query<{ id: string }>('select id from volumes')).map((r) => r.id));
  let lost = 0;
  let resurrected = 0;
  for (const [id, v] of volumes) {
    if (v.state === 'created' && !present.has(id)) lost++;
    if (v.state === 'deleteAcked' && present.has(id)) resurrected++;
  }
  const unmanaged = ((await admin(cluster, 'GET', `/v1/pools/${HA_POOL}/unmanaged`)) as { items: unknown[] }).items.length;
  const doubles = (await cluster.query<{ volume_id: string }>("select volume_id from attachments where status = 'live' group by volume_id having count(*) > 1")).length;
  return {
    rounds,
    acknowledged,
    acknowledgedCreates,
    lost,
    resurrected,
    orphans: unmanaged + transitional,
    doubleAttaches: secondAttachOk + doubles,
    errors,
    deaths: cluster.urls.flatMap((_, i) => (cluster.isRunning(i) ? [] : [`r${i}: ${cluster.output(i).slice(-3_000)}`])),
  };
}

export interface PgOutage {
  /** Every replica answered /readyz 503 while PostgreSQL was down (polled every 200 ms). */
  allNotReadyMs: number;
  /** What `GET /v1/volumes` answered on each replica while PostgreSQL was down: status and error code. */
  apiWhileDown: string[];
  /** From PostgreSQL's restart to every replica answering 200 again (ms). */
  readyAgainMs: number;
  /** Replica processes still running after the outage (none restarted). */
  survivors: number;
  /** A create through the failover client after the outage worked. */
  createAfter: boolean;
  /** Which replica leads after the outage. */
  leaderAfter: number;
  /** The last output of replicas that died meanwhile (none should). */
  deaths: string[];
}

/** Crashes PostgreSQL (`pg_ctl stop -m immediate`), keeps it down `downMs`, starts it again; what the replicas did. */
export async function pgOutage(cluster: HaCluster, downMs: number): Promise<PgOutage> {
  const n = cluster.urls.length;
  const all = async (status: number) => (await Promise.all(cluster.urls.map((_, i) => cluster.readiness(i)))).every((s) => s === status);
  if (!(await all(200))) throw new Error('a replica was not ready before the outage');
  const crashedAt = Date.now();
  await cluster.pg.crash();
  let allNotReadyMs = -1;
  while (Date.now() - crashedAt < 20_000) {
    if (await all(503)) {
      allNotReadyMs = Date.now() - crashedAt;
      break;
    }
    await sleep(200);
  }
  const apiWhileDown = await Promise.all(
    cluster.urls.map(async (url) => {
      try {
        const res = await request(`${url}/v1/volumes`, { headers: { authorization: `Bearer ${HA_SERVICE_TOKEN}` }, headersTimeout: 5_000 });
        const body = (await res.body.json().catch(() => null)) as { error?: { code?: string } } | null;
        return `${res.statusCode} ${body?.error?.code ?? ''}`.trim();
      } catch (err) {
        return (err as Error).message;
      }
    }),
  );
  await sleep(Math.max(0, downMs - (Date.now() - crashedAt)));
  const stillNotReady = await all(503);
  await cluster.pg.start();
  const startedAt = Date.now();
  let readyAgainMs = -1;
  while (Date.now() - startedAt < 30_000) {
    if (await all(200)) {
      readyAgainMs = Date.now() - startedAt;
      break;
    }
    await sleep(200);
  }
  const client = new PollyClient(cluster.urls, HA_SERVICE_TOKEN);
  const createAfter = await client.post('/v1/volumes', { name: `after-outage-${Date.now()}`, sizeBytes: 1 << 20, pool: HA_POOL }).then(
    () => true,
    () => false,
  );
  const leaderAfter = await cluster.leader(20_000);
  let survivors = 0;
  const deaths: string[] = [];
  for (let i = 0; i < n; i++) {
    if (cluster.isRunning(i)) survivors++;
    else deaths.push(`r${i}: ${cluster.output(i).slice(-3_000)}`);
  }
  return { allNotReadyMs: stillNotReady ? allNotReadyMs : -1, apiWhileDown, readyAgainMs, survivors, createAfter, leaderAfter, deaths };
}
