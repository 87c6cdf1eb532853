import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { privatePgSkipReason, startPrivatePg, type PrivatePg } from '../helpers/private-pg.js';

/** PostgreSQL crashing under a store that holds a connection: the process must live on, and recover. */
const skip = privatePgSkipReason();
let server: PrivatePg | undefined;
let store: Store | undefined;

beforeAll(async () => {
  if (skip) return;
  server = await startPrivatePg();
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('create database outage');
  await admin.end();
  store = await Store.open({ url: server.urlOf('outage') });
}, 120_000);
afterAll(async () => {
  await store?.close().catch(() => undefined);
  await server?.destroy();
}, 60_000);

describe.skipIf(skip !== null)('PostgreSQL store: the database crashes and comes back', () => {
  it('a transaction holding its connection fails (no unhandled error), and the store answers again once PostgreSQL is back', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      let crashed!: () => void;
      const crash = new Promise<void>((r) => (crashed = r));
      const held = store!.db.transaction().execute(async (trx) => {
        await trx.selectFrom('meta').select('key').limit(1).execute();
        await crash; // the connection sits checked out, between two statements, while PostgreSQL dies
        await new Promise((r) => setTimeout(r, 500));
        await trx.selectFrom('meta').select('key').limit(1).execute();
      });
      const outcome = held.then(
        () => 'committed',
        () => 'failed',
      );
      await server!.crash();
      crashed();
      expect(await outcome).toBe('failed');
      await expect(store!.ping()).rejects.toThrow();
      await server!.start();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await store!.ping().then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      expect(ok).toBe(true);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  }, 60_000);
});
