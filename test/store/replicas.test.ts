import { afterEach, describe, expect, it } from 'vitest';
import { registerReplica } from '../../src/store/repos/replicas.js';
import { pgSkipReason } from '../helpers/pg.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/stores.js';

const pgSkip = await pgSkipReason();

describe.each(STORE_KINDS)('replica registration (%s)', (kind) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it.skipIf(kind === 'postgres' && pgSkip !== null)('two registrations of one incarnation under two names at once leave one row, and neither fails', async () => {
    t = await openTestStore(kind);
    const now = new Date().toISOString();
    await registerReplica(t.store.db, 'r-a', 'inc-old', now);
    // What a heartbeat that renames the replica and a second register of it do when they overlap.
    for (let round = 0; round < 20; round++) {
      await Promise.all([registerReplica(t.store.db, 'r-a', `inc-${round}`, now), registerReplica(t.store.db, `r-a~${round}`, `inc-${round}`, now)]);
      const rows = await t.store.db.selectFrom('replicas').select(['name', 'incarnation']).where('incarnation', '=', `inc-${round}`).execute();
      expect(rows).toHaveLength(1);
    }
    // A new incarnation under a name replaces that name's row, as at every start.
    await registerReplica(t.store.db, 'r-b', 'inc-b1', now);
    await registerReplica(t.store.db, 'r-b', 'inc-b2', now);
    expect(await t.store.db.selectFrom('replicas').select('incarnation').where('name', '=', 'r-b').execute()).toEqual([{ incarnation: 'inc-b2' }]);
  });
});
