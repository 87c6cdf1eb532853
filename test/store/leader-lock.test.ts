import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLock } from '../../src/store/leader-lock.js';
import { freshPgDatabase, pgSkipReason, type FreshPgDatabase } from '../helpers/pg.js';

describe('leader election among replicas', () => {
  let db: FreshPgDatabase | undefined;
  beforeAll(async () => {
    const reason = await pgSkipReason();
    if (reason) throw new Error(reason);
    db = await freshPgDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('on PostgreSQL exactly one replica leads, and another takes over when it goes away', async () => {
    const a = new LeaderLock(db!.url, 'postgres');
    const b = new LeaderLock(db!.url, 'postgres');
    try {
      expect(await a.isLeader()).toBe(true);
      expect(await b.isLeader()).toBe(false);
      expect(await a.isLeader()).toBe(true);
      await a.close();
      expect(await b.isLeader()).toBe(true);
      expect(await a.isLeader()).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('with SQLite the one server always leads', async () => {
    expect(await new LeaderLock('sqlite::memory:', 'sqlite').isLeader()).toBe(true);
  });

  it('an unreachable database means not leading, without throwing', async () => {
    const lock = new LeaderLock('postgres://nobody:x@127.0.0.1:1/none', 'postgres');
    expect(await lock.isLeader()).toBe(false);
    await lock.close();
  });
});
