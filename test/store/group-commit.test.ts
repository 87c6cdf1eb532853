import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertService, listServices } from '../../src/store/repos/services.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';

describe('SQLite group commit', () => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore('sqlite');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('transactions started together commit together; one that fails rolls back alone with its own error', async () => {
    const at = new Date().toISOString();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        t.store.transaction(async (trx) => {
          await insertService(trx, { name: `s${i}`, labels: {}, createdAt: at });
          await insertService(trx, { name: `s${i}-b`, labels: {}, createdAt: at });
          if (i === 7) throw new Error('boom 7');
          if (i === 11) await insertService(trx, { name: 's3', labels: {}, createdAt: at }); // duplicate key
          return i;
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7 && i !== 11),
    );
    expect(String((results[7] as PromiseRejectedResult).reason)).toContain('boom 7');
    expect(String((results[11] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    const names = (await listServices(t.store.db)).map((s) => s.name);
    expect(names).toHaveLength(36);
    expect(names).not.toContain('s7');
    expect(names).not.toContain('s11-b');
    expect(names).toContain('s12-b');
  });

  it('a lone transaction behaves as before', async () => {
    await expect(t.store.transaction(async () => 42)).resolves.toBe(42);
    await expect(t.store.transaction(async () => Promise.reject(new Error('alone')))).rejects.toThrow('alone');
  });
});
