import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { precompile } from '../../src/store/precompiled.js';
import { insertService } from '../../src/store/repos/services.js';
import { pgSkipReason } from '../helpers/pg.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/stores.js';

const pgSkip = await pgSkipReason();

const AT = '2026-12-03T00:00:00.000Z';

const FIND = precompile((ex, p: { name: string }) => ex.selectFrom('services').select(['name', 'labels']).where('name', '=', p.name));
const RELABEL = precompile((ex, p: { name: string; labels: string; suffix: string }) =>
  ex
    .updateTable('services')
    .set({ labels: sql`${p.labels} || ${p.suffix}` })
    .where('name', '=', p.name)
    .where('created_at', '=', AT),
);

for (const kind of STORE_KINDS) {
  const skip = kind === 'postgres' ? pgSkip : null;
  describe.skipIf(skip !== null)(skip === null ? `precompiled statements (${kind})` : `precompiled statements (${kind}, skipped: ${skip})`, () => {
    let t: TestStore;
    beforeEach(async () => {
      t = await openTestStore(kind);
      for (const name of ['a', 'b', 'c']) await insertService(t.store.db, { name, labels: { n: name }, createdAt: AT });
    });
    afterEach(async () => {
      await t?.cleanup();
    });

    it('compiles to the SQL Kysely builds, with each call’s own parameters and the builder’s fixed values', async () => {
      const built = t.store.db.updateTable('services').set({ labels: sql`${'x'} || ${'y'}` }).where('name', '=', 'b').where('created_at', '=', AT).compile();
      const pre = RELABEL.compile(t.store.db, { name: 'b', labels: 'x', suffix: 'y' });
      expect(pre.sql).toBe(built.sql);
      expect(pre.parameters).toEqual(built.parameters);
      expect(await RELABEL.affected(t.store.db, { name: 'b', labels: '{"n":', suffix: '"B"}' })).toBe(1);
      expect(await RELABEL.affected(t.store.db, { name: 'nobody', labels: '{}', suffix: '' })).toBe(0);
      // Calls after the first reuse the compiled SQL but never an earlier call's values.
      expect(await FIND.first(t.store.db, { name: 'a' })).toEqual({ name: 'a', labels: '{"n":"a"}' });
      expect(await FIND.first(t.store.db, { name: 'b' })).toEqual({ name: 'b', labels: '{"n":"B"}' });
      expect(await FIND.first(t.store.db, { name: 'zz' })).toBeUndefined();
      expect(await FIND.rows(t.store.db, { name: 'c' })).toHaveLength(1);
    });

    it('runs inside a transaction, which rolls it back like any statement', async () => {
      await expect(
        t.store.transaction(async (trx) => {
          expect(await RELABEL.affected(trx, { name: 'c', labels: '{}', suffix: '' })).toBe(1);
          expect(await FIND.first(trx, { name: 'c' })).toEqual({ name: 'c', labels: '{}' });
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(await FIND.first(t.store.db, { name: 'c' })).toEqual({ name: 'c', labels: '{"n":"c"}' });
    });

    it('counts as a statement in the store stats, in a transaction or not', async () => {
      const before = t.store.stats.statements;
      const tripsBefore = t.store.stats.roundTrips;
      await FIND.first(t.store.db, { name: 'a' });
      expect(t.store.stats.statements).toBe(before + 1);
      await t.store.transaction(async (trx) => {
        await FIND.first(trx, { name: 'a' });
        await RELABEL.affected(trx, { name: 'a', labels: '{}', suffix: '' });
      });
      // Two statements; BEGIN and COMMIT are counted apart, as round trips on PostgreSQL.
      expect(t.store.stats.statements).toBe(before + 3);
      // PostgreSQL: one round trip per statement, BEGIN and COMMIT; SQLite runs in-process.
      expect(t.store.stats.roundTrips - tripsBefore).toBe(kind === 'postgres' ? 5 : 0);
    });

    it('a failing statement in a transaction rejects with the database error and rolls back the transaction', async () => {
      const insert = precompile((ex, p: { name: string }) => ex.insertInto('services').values({ name: p.name, labels: '{}', created_at: AT }));
      await expect(
        t.store.transaction(async (trx) => {
          await insert.execute(trx, { name: 'new' });
          await insert.execute(trx, { name: 'a' });
        }),
      ).rejects.toThrow(/unique|duplicate/i);
      expect(await FIND.first(t.store.db, { name: 'new' })).toBeUndefined();
    });

    it.runIf(kind === 'sqlite')('outside a transaction it waits for the transaction holding SQLite’s connection, and never reads its uncommitted rows', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let written!: () => void;
      const didWrite = new Promise<void>((r) => (written = r));
      const writer = t.store.transaction(async (trx) => {
        expect(await RELABEL.affected(trx, { name: 'a', labels: '{"x":', suffix: '1}' })).toBe(1);
        expect(await FIND.first(trx, { name: 'a' })).toEqual({ name: 'a', labels: '{"x":1}' });
        written();
        await gate;
      });
      await didWrite;
      let seen: unknown = 'not yet';
      const reader = FIND.first(t.store.db, { name: 'a' }).then((row) => (seen = row));
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).toBe('not yet');
      release();
      await writer;
      await reader;
      expect(seen).toEqual({ name: 'a', labels: '{"x":1}' });
    });

    it('refuses a missing parameter and a placeholder inlined into the SQL', async () => {
      expect(() => FIND.compile(t.store.db, {} as { name: string })).toThrow('parameter name is missing');
      const inlined = precompile((ex, p: { name: string }) => ex.selectFrom('services').select('name').where('name', '=', sql.lit(p.name)));
      expect(() => inlined.compile(t.store.db, { name: 'a' })).toThrow('inlined');
    });
  });
}
