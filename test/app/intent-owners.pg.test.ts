import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgDatabase, pgSkipReason, type FreshPgDatabase } from '../helpers/pg.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const skip = await pgSkipReason();
let db: FreshPgDatabase | undefined;
let a: TestPolly | undefined;
let b: TestPolly | undefined;
let token = '';

const replica = (name: string, url: string) => ({
  databaseUrl: url,
  replicaId: name,
  replicaHeartbeatSeconds: 1,
  replicaTimeoutSeconds: 3,
  // Only the intent-owner rules may finish these intents in this test, never the periodic pass.
  reconcileIntervalSeconds: 3600,
  pools: [{ name: 'mem', driver: 'fake' }],
});

beforeAll(async () => {
  if (skip) return;
  db = await freshPgDatabase();
  a = await startPolly(replica('replica-a', db.url));
  b = await startPolly(replica('replica-b', db.url));
  token = await newService(a, 'owners');
});
afterAll(async () => {
  await b?.stop();
  await a?.stop().catch(() => undefined);
  await db?.drop();
});

async function interrupted(polly: TestPolly, name: string, owner: string): Promise<string> {
  const v = (await polly.call('POST', '/v1/volumes', { token, body: { name, sizeBytes: 1 } })).body;
  await polly.server.app.ctx.store.db.updateTable('volumes').set({ status: 'creating', intent_owner: owner }).where('id', '=', v.id).execute();
  return v.id as string;
}

describe.skipIf(skip !== null)('PostgreSQL: interrupted intents are finished as soon as their owner is known dead', () => {
  it('an intent of a live replica is left alone; one whose owner is gone (a restart) is finished at once', async () => {
    const live = await interrupted(a as TestPolly, 'owned-by-a', (a as TestPolly).server.app.ctx.replica.incarnation);
    const gone = await interrupted(a as TestPolly, 'owned-by-nobody', 'incarnation-before-restart');
    const report = await (b as TestPolly).server.app.reconciler.run();
    expect(report.volumesCreated).toBe(1);
    expect((await (b as TestPolly).call('GET', `/v1/volumes/${gone}`, { token })).body.status).toBe('available');
    expect((await (b as TestPolly).call('GET', `/v1/volumes/${live}`, { token })).body.status).toBe('creating');
    await (a as TestPolly).server.app.ctx.store.db.updateTable('volumes').set({ status: 'available', intent_owner: null }).where('id', '=', live).execute();
  });

  it('a replica restarted under its name takes its own leftovers over at start, without a fixed wait', async () => {
    const polly = a as TestPolly;
    const mine = await interrupted(polly, 'restart-leftover', polly.server.app.ctx.replica.incarnation);
    // What kill -9 then a restart looks like: the row of replica-a now names a new incarnation.
    const restarted = polly.server.app.ctx.replica;
    await polly.server.app.ctx.store.db.updateTable('replicas').set({ incarnation: 'replica-a-next-run' }).where('name', '=', restarted.name).execute();
    const started = Date.now();
    const report = await (b as TestPolly).server.app.reconciler.run();
    expect(report.volumesCreated).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await polly.call('GET', `/v1/volumes/${mine}`, { token })).body.status).toBe('available');
    await polly.server.app.ctx.replica.register(); // give replica-a its row back
  });

  it('when the leading replica goes away, the next leader finishes its intents within seconds, on its own', async () => {
    const dying = a as TestPolly;
    const id = await interrupted(dying, 'left-by-a', dying.server.app.ctx.replica.incarnation);
    // A goes away (and with it the leadership); nobody calls the reconciler by hand.
    await dying.server.stop();
    a = undefined;
    const deadline = Date.now() + 15_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await (b as TestPolly).call('GET', `/v1/volumes/${id}`, { token })).body.status as string;
      if (status === 'available') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('available');
  });
});
