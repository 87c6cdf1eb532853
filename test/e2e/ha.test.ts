import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaCluster } from '../helpers/ha-cluster.js';
import { pgOutage, registerNodes, runHaScenario, type HaFigures } from '../helpers/ha-scenario.js';
import { privatePgSkipReason } from '../helpers/private-pg.js';
import { seededRandom } from '../helpers/random.js';

/**
 * Three `polly server` replicas on one PostgreSQL of the test's own; 16 clients that know the three URLs
 * create, attach, detach and delete volumes while a random replica and then the leader are killed with
 * SIGKILL; then PostgreSQL itself is crashed and started again. (`npm run bench -- --only ha`: 10 rounds.)
 */
const skip = privatePgSkipReason();
let cluster: HaCluster | undefined;

beforeAll(async () => {
  if (skip) return;
  cluster = await HaCluster.create({ replicas: 3, entry: 'src' });
  await cluster.startAll();
  await registerNodes(cluster, 16);
}, 240_000);
afterAll(async () => {
  await cluster?.destroy();
}, 60_000);

describe.skipIf(skip !== null)('HA: three replicas on one PostgreSQL', () => {
  let figures: HaFigures;

  it('loses no acknowledged operation when replicas are killed under load; requests succeed again and the background loops resume within 5 s', async () => {
    const seed = Date.now() % 100_000;
    figures = await runHaScenario(cluster!, {
      clients: 16,
      rounds: ['random', 'leader'],
      minGapMs: 500,
      maxGapMs: 2_000,
      random: seededRandom(seed),
      log: (m) => console.log(`ha: ${m}`),
    });
    const summary = JSON.stringify({ seed, ...figures });
    console.log(`ha: ${summary}`);
    expect(figures.acknowledgedCreates, summary).toBeGreaterThan(30);
    expect(figures.deaths, summary).toEqual([]);
    expect(figures.lost, summary).toBe(0);
    expect(figures.resurrected, summary).toBe(0);
    expect(figures.orphans, summary).toBe(0);
    expect(figures.doubleAttaches, summary).toBe(0);
    for (const r of figures.rounds) {
      expect(r.firstSuccessMs, summary).toBeLessThan(5_000);
      // A client whose request died with the replica waits until that replica is known dead
      // (replicaTimeoutSeconds 2, heartbeats every second) and its intent is finished.
      expect(r.worstClientMs, summary).toBeLessThan(10_000);
      if (r.wasLeader) expect(r.takeoverMs, summary).toBeLessThan(5_000);
    }
    expect(figures.rounds.filter((r) => r.wasLeader).length).toBeGreaterThanOrEqual(1);
  }, 150_000);

  it('reports not-ready on every replica while PostgreSQL is down, and ready again after, without a restart', async () => {
    const outage = await pgOutage(cluster!, 3_000);
    const summary = JSON.stringify(outage);
    console.log(`ha: PostgreSQL outage ${summary}`);
    expect(outage.allNotReadyMs, summary).toBeGreaterThanOrEqual(0);
    expect(outage.allNotReadyMs, summary).toBeLessThan(3_000);
    // The API says so too: 503 (retried by clients and load balancers), not a 500.
    expect(outage.apiWhileDown, summary).toEqual(['503 UNAVAILABLE', '503 UNAVAILABLE', '503 UNAVAILABLE']);
    expect(outage.readyAgainMs, summary).toBeGreaterThanOrEqual(0);
    expect(outage.readyAgainMs, summary).toBeLessThan(10_000);
    expect(outage.survivors).toBe(3);
    expect(outage.createAfter).toBe(true);
    // Forgotten as silent during the outage, each replica joined again under its own name.
    for (let i = 0; i < 3; i++) expect(cluster!.output(i)).not.toContain('another server started under this replica id');
  }, 90_000);
});
