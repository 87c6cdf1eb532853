import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollyError } from '../../src/core/errors.js';
import type { FakeDriver } from '../../src/drivers/fake/fake-driver.js';
import { freshPgDatabase, pgSkipReason, type FreshPgDatabase } from '../helpers/pg.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

// The group snapshot path (migration 0011, one transaction of intents, all-or-nothing) on PostgreSQL.
const skip = await pgSkipReason();
let db: FreshPgDatabase | undefined;
let polly: TestPolly | undefined;
let token = '';

beforeAll(async () => {
  if (skip) return;
  db = await freshPgDatabase();
  polly = await startPolly({ databaseUrl: db.url, reconcileIntervalSeconds: 3600, pools: [{ name: 'mem', driver: 'fake' }] });
  token = await newService(polly, 'pg-groups');
});
afterAll(async () => {
  await polly?.stop();
  await db?.drop();
});

describe.skipIf(skip !== null)('PostgreSQL: group snapshots', () => {
  it('creates (idempotent by name), rolls back a failed member, and deletes with all members', async () => {
    const p = polly as TestPolly;
    const ids: string[] = [];
    for (const name of ['pg-a', 'pg-b', 'pg-c']) ids.push((await p.call('POST', '/v1/volumes', { token, body: { name, sizeBytes: 1000, pool: 'mem' } })).body.id);
    const g = await p.call('POST', '/v1/group-snapshots', { token, body: { name: 'pg-group', volumes: ids } });
    expect(g.status).toBe(201);
    expect(g.body.snapshots).toHaveLength(3);
    const again = await p.call('POST', '/v1/group-snapshots', { token, body: { name: 'pg-group', volumes: [...ids].reverse() } });
    expect(again.body.id).toBe(g.body.id);

    (p.server.app.ctx.drivers.get('mem') as FakeDriver).failNext('snapshot', new PollyError('BACKEND_FAILED', 'refused'));
    const failed = await p.call('POST', '/v1/group-snapshots', { token, body: { name: 'pg-failed', volumes: ids } });
    expect(failed.status).toBe(502);
    const snaps = (await p.call('GET', '/v1/snapshots', { token })).body.items as Array<{ groupId: string }>;
    expect(snaps).toHaveLength(3);
    expect(snaps.every((s) => s.groupId === g.body.id)).toBe(true);

    expect((await p.call('DELETE', `/v1/group-snapshots/${g.body.id}`, { token })).status).toBe(204);
    expect((await p.call('GET', '/v1/snapshots', { token })).body.items).toEqual([]);
    expect((await p.call('GET', '/v1/group-snapshots', { token })).body.items).toEqual([]);
  });
});
