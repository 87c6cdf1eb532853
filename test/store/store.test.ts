import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PollyError } from '../../src/core/errors.js';
import { newId } from '../../src/core/ids.js';
import type { Pool, Profile, Service, Snapshot, Volume } from '../../src/core/types.js';
import { eventValues, insertEvent, listEvents } from '../../src/store/repos/events.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  expireIdempotencyKeys,
  findIdempotencyKey,
  releaseIdempotencyKey,
} from '../../src/store/repos/idempotency.js';
import { findPool, findProfile, listPools, listProfiles, upsertPool, upsertProfile } from '../../src/store/repos/pools.js';
import {
  countAdminTokens,
  deleteService,
  findService,
  findTokenByHash,
  insertService,
  insertToken,
  listServices,
} from '../../src/store/repos/services.js';
import {
  countSnapshotsOfVolume,
  deleteSnapshotRow,
  findSnapshot,
  findSnapshotByName,
  insertSnapshot,
  listSnapshots,
  listSnapshotsInStatus,
  updateSnapshot,
} from '../../src/store/repos/snapshots.js';
import {
  chargePool,
  countVolumes,
  deleteVolumeRow,
  findVolume,
  findVolumeByName,
  insertVolume,
  listVolumes,
  listVolumesInStatus,
  replaceVolumeTags,
  updateVolume,
  updateVolumeRecorded,
  findVolumeCountingSnapshots,
} from '../../src/store/repos/volumes.js';
import { migrationsFor } from '../../src/store/migrations.js';
import { isUniqueViolation, Store, type Executor } from '../../src/store/store.js';
import { chargeUsage } from '../../src/store/repos/usage.js';
import { freshPgDatabase, pgSkipReason } from '../helpers/pg.js';
import { openTestStore, STORE_KINDS, type StoreKind, type TestStore } from '../helpers/stores.js';

const GiB = 2 ** 30;
const TiB = 2 ** 40;
const T0 = '2025-01-01T00:00:00.000Z';

function service(name: string, labels: Record<string, string> = {}): Service {
  return { name, labels, createdAt: T0 };
}

function pool(name: string, over: Partial<Pool> = {}): Pool {
  return {
    name,
    driver: 'fake',
    parameters: { path: `/srv/${name}` },
    labels: { media: 'ssd' },
    topology: { zone: 'z1', nodes: ['n1', 'n2'] },
    state: 'enabled',
    overSubscriptionRatio: 1.5,
    reservedPercent: 10,
    createdAt: T0,
    ...over,
  };
}

function volume(name: string, over: Partial<Volume> = {}): Volume {
  return {
    id: newId('vol'),
    name,
    service: 'svc-a',
    pool: 'p1',
    profile: 'default',
    sizeBytes: GiB,
    status: 'creating',
    statusReason: null,
    labels: {},
    fields: {},
    backendId: '',
    source: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function snapshot(name: string, volumeId: string, over: Partial<Snapshot> = {}): Snapshot {
  return {
    id: newId('snap'),
    name,
    service: 'svc-a',
    volumeId,
    pool: 'p1',
    sizeBytes: GiB,
    status: 'creating',
    statusReason: null,
    backendId: '',
    createdAt: T0,
    groupId: null,
    ...over,
  };
}

/** An empty database (no schema yet) of the given kind, and how to remove it. */
async function freshDatabase(kind: StoreKind): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === 'postgres') return freshPgDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'polly-store-'));
  return { url: `sqlite:${join(dir, 'polly.db')}`, drop: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to throw');
}

// PostgreSQL tests skip (with the reason in the suite name) only outside CI; under CI they run and fail.
const pgSkip = await pgSkipReason();


/** A volume insert charged the way the admission step (app/admission.ts) charges it. */
async function insertCharged(ex: Executor, v: Volume): Promise<void> {
  await insertVolume(ex, v);
  await chargePool(ex, v.pool, v.sizeBytes, 1);
  await chargeUsage(ex, v.service, v.profile, { volumes: 1, bytes: v.sizeBytes });
}

for (const kind of STORE_KINDS) {
  const skip = kind === 'postgres' ? pgSkip : null;
  describe.skipIf(skip !== null)(skip === null ? kind : `${kind} (skipped: ${skip})`, () => {
    let t: TestStore;
    let store: Store;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
      await insertService(store.db, service('svc-a', { team: 'a' }));
      await insertService(store.db, service('svc-b'));
      await upsertPool(store.db, pool('p1'));
    });

    afterEach(async () => {
      await t?.cleanup();
    });

    const poolCounters = async (name = 'p1') => {
      const p = await findPool(store.db, name);
      return { allocatedBytes: p?.allocatedBytes, volumeCount: p?.volumeCount };
    };

    describe('migrations', () => {
      it('creates the schema once; opening the same database again is a no-op', async () => {
        const migrationNames = async (s: Store) =>
          (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(s.db)).rows.map((r) => r.name);
        expect(await migrationNames(store)).toEqual(Object.keys(migrationsFor(kind)).sort());
        expect(await store.db.selectFrom('meta').selectAll().execute()).toEqual([{ key: 'schema', value: 'polly' }]);

        await store.migrate();
        const again = await Store.open({ url: t.url });
        try {
          await again.ping();
          expect(again.dialect).toBe(kind);
          expect(await migrationNames(again)).toEqual(Object.keys(migrationsFor(kind)).sort());
          expect(await again.db.selectFrom('meta').selectAll().execute()).toHaveLength(1);
          // Data written through the first store is intact and visible to the second.
          expect(await findService(again.db, 'svc-a')).toEqual(service('svc-a', { team: 'a' }));
        } finally {
          await again.close();
        }
      });

      it('several stores opening the same fresh database at once all succeed', async () => {
        const fresh = await freshDatabase(kind);
        try {
          const opened = await Promise.allSettled([0, 1, 2].map(() => Store.open({ url: fresh.url })));
          for (const r of opened) if (r.status === 'fulfilled') await r.value.close();
          expect(opened.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason)))).toEqual(['ok', 'ok', 'ok']);
        } finally {
          await fresh.drop();
        }
      });
    });

    describe('services and tokens', () => {
      it('inserts, finds, lists in name order and deletes services', async () => {
        await insertService(store.db, service('alpha', { env: 'prod', 'k8s.io/cluster': 'c1' }));
        expect(await findService(store.db, 'alpha')).toEqual(service('alpha', { env: 'prod', 'k8s.io/cluster': 'c1' }));
        expect(await findService(store.db, 'nope')).toBeUndefined();
        expect((await listServices(store.db)).map((s) => s.name)).toEqual(['alpha', 'svc-a', 'svc-b']);

        expect(await deleteService(store.db, 'alpha')).toBe(true);
        expect(await deleteService(store.db, 'alpha')).toBe(false);
        expect(await findService(store.db, 'alpha')).toBeUndefined();
      });

      it('refuses a duplicate service name with a unique violation', async () => {
        const err = await thrown(() => insertService(store.db, service('svc-a')));
        expect(isUniqueViolation(err)).toBe(true);
      });

      it('finds tokens by hash, counts admin tokens, and deletes a service with its tokens', async () => {
        await insertToken(store.db, { id: 'tok-1', hash: 'h1', kind: 'admin', service: null, description: 'root', createdAt: T0 });
        await insertToken(store.db, { id: 'tok-2', hash: 'h2', kind: 'service', service: 'svc-a', description: 'ci', createdAt: T0 });
        await insertToken(store.db, { id: 'tok-3', hash: 'h3', kind: 'service', service: 'svc-a', description: '', createdAt: T0 });

        expect(await findTokenByHash(store.db, 'h2')).toEqual({ id: 'tok-2', kind: 'service', service: 'svc-a', description: 'ci', createdAt: T0 });
        expect(await findTokenByHash(store.db, 'h1')).toMatchObject({ id: 'tok-1', kind: 'admin', service: null });
        expect(await findTokenByHash(store.db, 'unknown')).toBeUndefined();
        expect(await countAdminTokens(store.db)).toBe(1);

        const dup = await thrown(() =>
          insertToken(store.db, { id: 'tok-4', hash: 'h2', kind: 'service', service: 'svc-b', description: '', createdAt: T0 }),
        );
        expect(isUniqueViolation(dup)).toBe(true);

        expect(await deleteService(store.db, 'svc-a')).toBe(true);
        expect(await findTokenByHash(store.db, 'h2')).toBeUndefined();
        expect(await findTokenByHash(store.db, 'h3')).toBeUndefined();
        expect(await findTokenByHash(store.db, 'h1')).toBeDefined();
      });
    });

    describe('pools and profiles', () => {
      it('upserting a pool updates its definition and keeps its counters and creation time', async () => {
        await chargePool(store.db, 'p1', 3 * GiB, 2);
        await upsertPool(store.db, pool('p1', { state: 'draining', labels: { media: 'hdd' }, overSubscriptionRatio: 2, createdAt: '2030-01-01T00:00:00.000Z' }));
        expect(await findPool(store.db, 'p1')).toEqual({
          ...pool('p1', { state: 'draining', labels: { media: 'hdd' }, overSubscriptionRatio: 2 }),
          allocatedBytes: 3 * GiB,
          volumeCount: 2,
        });
        await upsertPool(store.db, pool('a0'));
        expect((await listPools(store.db)).map((p) => [p.name, p.volumeCount])).toEqual([
          ['a0', 0],
          ['p1', 2],
        ]);
        expect(await findPool(store.db, 'nope')).toBeUndefined();
      });

      it('upserts, finds and lists profiles', async () => {
        const profile: Profile = {
          name: 'fast',
          description: 'SSD',
          minBytes: GiB,
          maxBytes: TiB,
          volumeMode: 'filesystem',
          fsType: 'ext4',
          media: 'ssd',
          qos: { iops: 1000 },
          replicas: 1,
          failover: 'safe',
          forceAfterSeconds: 60,
          accessModes: ['RWO'],
          poolSelector: { media: 'ssd' },
          pools: [],
          parameters: {},
          services: ['svc-a'],
          createdAt: T0,
        };
        await upsertProfile(store.db, profile);
        await upsertProfile(store.db, { ...profile, description: 'faster', createdAt: '2030-01-01T00:00:00.000Z' });
        expect(await findProfile(store.db, 'fast')).toEqual({ ...profile, description: 'faster' });
        expect(await findProfile(store.db, 'slow')).toBeUndefined();
        expect(await listProfiles(store.db)).toHaveLength(1);
      });
    });

    describe('volumes', () => {
      it('insert (charged as the admission step does), find returns the volume, deleteVolumeRow gives the size back', async () => {
        const v = volume('data', {
          sizeBytes: 5 * GiB,
          labels: { app: 'db' },
          fields: { 'csi.pvc': 'ns/data' },
          source: { kind: 'snapshot', id: 'snap-1' },
        });
        await insertCharged(store.db, v);
        await insertCharged(store.db, volume('logs', { sizeBytes: 2 * GiB }));
        expect(await poolCounters()).toEqual({ allocatedBytes: 7 * GiB, volumeCount: 2 });

        expect(await findVolume(store.db, v.id)).toEqual(v);
        expect(await findVolumeByName(store.db, 'svc-a', 'data')).toEqual(v);
        expect(await findVolumeByName(store.db, 'svc-b', 'data')).toBeUndefined();
        expect(await findVolume(store.db, 'vol-missing')).toBeUndefined();
        expect(await countVolumes(store.db, { service: 'svc-a' })).toBe(2);
        expect(await countVolumes(store.db, { pool: 'p1' })).toBe(2);
        expect(await countVolumes(store.db, { service: 'svc-b' })).toBe(0);

        await deleteVolumeRow(store.db, v);
        expect(await findVolume(store.db, v.id)).toBeUndefined();
        expect(await store.db.selectFrom('volume_tags').selectAll().where('volume_id', '=', v.id).execute()).toEqual([]);
        expect(await poolCounters()).toEqual({ allocatedBytes: 2 * GiB, volumeCount: 1 });

        // Deleting a row that is already gone must not credit the pool twice.
        await deleteVolumeRow(store.db, v);
        expect(await poolCounters()).toEqual({ allocatedBytes: 2 * GiB, volumeCount: 1 });
      });

      it('the database enforces (service, name) uniqueness; the same name in another service is fine', async () => {
        await insertCharged(store.db, volume('data'));
        const err = await thrown(() => insertCharged(store.db, volume('data')));
        expect(isUniqueViolation(err)).toBe(true);
        expect(isUniqueViolation(new Error('other'))).toBe(false);

        await insertCharged(store.db, volume('data', { service: 'svc-b' }));
        expect(await countVolumes(store.db, {})).toBe(2);
        // The refused insert charged nothing.
        expect(await poolCounters()).toEqual({ allocatedBytes: 2 * GiB, volumeCount: 2 });
      });

      it('a transaction that throws leaves no row, no tags and no pool charge', async () => {
        const v = volume('doomed', { labels: { a: '1' } });
        const boom = new Error('boom');
        await expect(
          store.transaction(async (trx) => {
            await insertCharged(trx, v);
            expect(await findVolume(trx, v.id)).toBeDefined();
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await findVolume(store.db, v.id)).toBeUndefined();
        expect(await store.db.selectFrom('volume_tags').selectAll().execute()).toEqual([]);
        expect(await poolCounters()).toEqual({ allocatedBytes: 0, volumeCount: 0 });

        // A committed transaction keeps everything.
        await store.transaction((trx) => insertCharged(trx, v));
        expect(await findVolume(store.db, v.id)).toEqual(v);
        expect(await poolCounters()).toEqual({ allocatedBytes: GiB, volumeCount: 1 });
      });

      it('insertVolume and updateVolumeRecorded write the row and its event together, or neither (one statement each on PostgreSQL)', async () => {
        const v = volume('recorded');
        const T1 = '2025-01-02T00:00:00.000Z';
        const ev = (type: string) => eventValues({ at: T1, type, service: 'svc-a', objectId: v.id, data: { n: type }, actor: { kind: 'admin', tokenId: null }, requestId: 'req-1' });
        const events = async () => (await listEvents(store.db, { objectId: v.id }, 10)).map((e) => ({ type: e.type, data: e.data, actor: e.actor, requestId: e.requestId }));
        const statements = store.stats.statements;
        await store.transaction((trx) => insertVolume(trx, v, null, ev('volume.creating')));
        await updateVolumeRecorded(store.db, v.id, 'creating', { status: 'available', backendId: 'be-1', statusReason: null }, T1, ev('volume.created'));
        expect(store.stats.statements - statements).toBe(kind === 'postgres' ? 2 : 4);
        expect(await findVolume(store.db, v.id)).toEqual({ ...v, status: 'available', backendId: 'be-1', updatedAt: T1 });
        expect(await events()).toEqual([
          { type: 'volume.creating', data: { n: 'volume.creating' }, actor: { kind: 'admin', tokenId: null }, requestId: 'req-1' },
          { type: 'volume.created', data: { n: 'volume.created' }, actor: { kind: 'admin', tokenId: null }, requestId: 'req-1' },
        ]);
        // The volume moved meanwhile: no update, and no event either.
        const err = await thrown(() => updateVolumeRecorded(store.db, v.id, 'creating', { status: 'error', statusReason: 'x' }, T1, ev('volume.error')));
        expect((err as PollyError).code).toBe('INVALID_STATE');
        expect((await findVolume(store.db, v.id))?.status).toBe('available');
        expect(await events()).toHaveLength(2);
        // A duplicate name: neither the row nor its event.
        const dup = await thrown(() => store.transaction((trx) => insertVolume(trx, { ...v, id: newId('vol') }, null, ev('volume.dup'))));
        expect(isUniqueViolation(dup)).toBe(true);
        expect((await listEvents(store.db, { types: ['volume.dup'] }, 10)).length).toBe(0);
      });

      it('findVolumeCountingSnapshots reads a volume with its number of snapshots in one statement', async () => {
        const v = volume('counted');
        await insertCharged(store.db, v);
        const statements = store.stats.statements;
        expect(await findVolumeCountingSnapshots(store.db, v.id)).toEqual({ volume: v, snapshots: 0 });
        expect(store.stats.statements - statements).toBe(1);
        await insertSnapshot(store.db, snapshot('c1', v.id));
        await insertSnapshot(store.db, snapshot('c2', v.id));
        expect(await findVolumeCountingSnapshots(store.db, v.id)).toEqual({ volume: v, snapshots: 2 });
        expect(await findVolumeCountingSnapshots(store.db, 'vol-missing')).toBeUndefined();
      });

      it('updateVolume is a compare-and-set on the status', async () => {
        const v = volume('data');
        await insertCharged(store.db, v);
        const T1 = '2025-01-02T00:00:00.000Z';
        await updateVolume(store.db, v.id, 'creating', { status: 'available', backendId: 'be-1', statusReason: null }, T1);
        expect(await findVolume(store.db, v.id)).toEqual({ ...v, status: 'available', backendId: 'be-1', updatedAt: T1 });

        const err = await thrown(() => updateVolume(store.db, v.id, 'creating', { status: 'error', statusReason: 'x' }, T1));
        expect(err).toBeInstanceOf(PollyError);
        expect((err as PollyError).code).toBe('INVALID_STATE');
        expect((await findVolume(store.db, v.id))?.status).toBe('available');

        await updateVolume(store.db, v.id, ['attached', 'available'], { status: 'deleting', sizeBytes: 2 * GiB }, T1);
        expect(await findVolume(store.db, v.id)).toMatchObject({ status: 'deleting', sizeBytes: 2 * GiB });

        const missing = await thrown(() => updateVolume(store.db, 'vol-missing', 'creating', { status: 'available' }, T1));
        expect((missing as PollyError).code).toBe('INVALID_STATE');

        expect((await listVolumesInStatus(store.db, ['deleting', 'error'])).map((x) => x.id)).toEqual([v.id]);
        expect(await listVolumesInStatus(store.db, ['creating'])).toEqual([]);
      });

      it('lists volumes filtered by service, status, pool, labels and fields', async () => {
        await upsertPool(store.db, pool('p2'));
        const a = volume('a', { labels: { app: 'db', env: 'prod' }, fields: { pvc: 'ns/a' } });
        const b = volume('b', { labels: { app: 'db', env: 'dev' }, status: 'available', pool: 'p2' });
        const c = volume('c', { labels: { app: 'web' }, fields: { app: 'db' } });
        const d = volume('d', { service: 'svc-b', labels: { app: 'db', env: 'prod' } });
        for (const v of [a, b, c, d]) await insertCharged(store.db, v);

        const names = async (filter: Parameters<typeof listVolumes>[1]) =>
          (await listVolumes(store.db, filter, 100, undefined)).items.map((v) => `${v.service}/${v.name}`).sort();

        expect(await names({})).toEqual(['svc-a/a', 'svc-a/b', 'svc-a/c', 'svc-b/d']);
        expect(await names({ service: 'svc-a' })).toEqual(['svc-a/a', 'svc-a/b', 'svc-a/c']);
        expect(await names({ status: 'available' })).toEqual(['svc-a/b']);
        expect(await names({ pool: 'p2' })).toEqual(['svc-a/b']);
        expect(await names({ labels: { app: 'db' } })).toEqual(['svc-a/a', 'svc-a/b', 'svc-b/d']);
        expect(await names({ labels: { app: 'db', env: 'prod' } })).toEqual(['svc-a/a', 'svc-b/d']);
        expect(await names({ service: 'svc-a', labels: { app: 'db', env: 'prod' } })).toEqual(['svc-a/a']);
        // Labels and fields are separate namespaces.
        expect(await names({ fields: { app: 'db' } })).toEqual(['svc-a/c']);
        expect(await names({ fields: { pvc: 'ns/a' }, labels: { env: 'prod' } })).toEqual(['svc-a/a']);
        expect(await names({ labels: { app: 'nope' } })).toEqual([]);

        await replaceVolumeTags(store.db, c.id, { app: 'db' }, {}, '2025-01-02T00:00:00.000Z');
        expect(await names({ labels: { app: 'db' }, service: 'svc-a' })).toEqual(['svc-a/a', 'svc-a/b', 'svc-a/c']);
        expect(await names({ fields: { app: 'db' } })).toEqual([]);
        expect(await findVolume(store.db, c.id)).toMatchObject({ labels: { app: 'db' }, fields: {}, updatedAt: '2025-01-02T00:00:00.000Z' });
      });

      it('pages through 250 volumes 100 at a time: every row exactly once, in id order', async () => {
        const ids: string[] = [];
        await store.transaction(async (trx) => {
          for (let i = 0; i < 250; i++) {
            // Alternate services and labels so the filtered listing pages too.
            const v = volume(`v${i}`, { service: i % 2 === 0 ? 'svc-a' : 'svc-b', labels: { parity: i % 2 === 0 ? 'even' : 'odd' } });
            ids.push(v.id);
            await insertCharged(trx, v);
          }
        });

        const seen: string[] = [];
        const pageSizes: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await listVolumes(store.db, {}, 100, cursor);
          pageSizes.push(page.items.length);
          seen.push(...page.items.map((v) => v.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        expect(pageSizes).toEqual([100, 100, 50]);
        expect(seen).toEqual([...ids].sort());

        const even: string[] = [];
        cursor = undefined;
        do {
          const page = await listVolumes(store.db, { labels: { parity: 'even' } }, 100, cursor);
          even.push(...page.items.map((v) => v.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        expect(even).toEqual(ids.filter((_, i) => i % 2 === 0).sort());

        // An exact multiple of the page size ends without an empty extra page.
        const first = await listVolumes(store.db, { service: 'svc-a' }, 125, undefined);
        expect(first.items).toHaveLength(125);
        expect(first.nextCursor).toBeNull();
        expect(await poolCounters()).toEqual({ allocatedBytes: 250 * GiB, volumeCount: 250 });
      });

      it('rejects an invalid cursor with INVALID_CURSOR', async () => {
        for (const bad of ['not a cursor!', Buffer.from('{"a":42}').toString('base64url'), Buffer.from('null').toString('base64url'), '']) {
          const err = await thrown(() => listVolumes(store.db, {}, 10, bad));
          expect(err).toBeInstanceOf(PollyError);
          expect((err as PollyError).code).toBe('INVALID_CURSOR');
        }
        const snapErr = await thrown(() => listSnapshots(store.db, {}, 10, 'garbage'));
        expect((snapErr as PollyError).code).toBe('INVALID_CURSOR');
      });
    });

    describe('snapshots', () => {
      it('inserts, finds, lists, counts, compare-and-sets and deletes snapshots', async () => {
        const v = volume('data');
        await insertCharged(store.db, v);
        const s1 = snapshot('s1', v.id);
        const s2 = snapshot('s2', v.id, { status: 'ready' });
        const s3 = snapshot('s1', 'vol-other', { service: 'svc-b' });
        for (const s of [s1, s2, s3]) await insertSnapshot(store.db, s);

        expect(await findSnapshot(store.db, s1.id)).toEqual(s1);
        expect(await findSnapshotByName(store.db, 'svc-b', 's1')).toEqual(s3);
        expect(await findSnapshotByName(store.db, 'svc-b', 's2')).toBeUndefined();
        expect(isUniqueViolation(await thrown(() => insertSnapshot(store.db, snapshot('s2', v.id))))).toBe(true);
        expect(await countSnapshotsOfVolume(store.db, v.id)).toBe(2);

        const p1 = await listSnapshots(store.db, { service: 'svc-a' }, 1, undefined);
        expect(p1.items).toHaveLength(1);
        const p2 = await listSnapshots(store.db, { service: 'svc-a' }, 1, p1.nextCursor ?? undefined);
        expect(p2.nextCursor).toBeNull();
        expect([...p1.items, ...p2.items].map((s) => s.id)).toEqual([s1.id, s2.id].sort());
        expect((await listSnapshots(store.db, { volumeId: 'vol-other' }, 10, undefined)).items).toEqual([s3]);

        await updateSnapshot(store.db, s1.id, 'creating', { status: 'ready', backendId: 'be', sizeBytes: 2 * GiB });
        expect(await findSnapshot(store.db, s1.id)).toEqual({ ...s1, status: 'ready', backendId: 'be', sizeBytes: 2 * GiB });
        const err = await thrown(() => updateSnapshot(store.db, s1.id, 'creating', { status: 'error' }));
        expect((err as PollyError).code).toBe('INVALID_STATE');
        expect((await listSnapshotsInStatus(store.db, ['ready'])).map((s) => s.id)).toEqual([s1.id, s2.id].sort());

        await deleteSnapshotRow(store.db, s1.id);
        expect(await findSnapshot(store.db, s1.id)).toBeUndefined();
        expect(await countSnapshotsOfVolume(store.db, v.id)).toBe(1);
      });
    });

    describe('events', () => {
      it('inserts events with increasing seq and lists them by type prefix, service, object and seq', async () => {
        const ev = (type: string, service: string | null, objectId: string) =>
          insertEvent(store.db, { at: T0, type, service, objectId, data: { type, nested: { n: 1 } } });
        const s1 = await ev('volume.created', 'svc-a', 'vol-1');
        const s2 = await ev('volume.deleted', 'svc-a', 'vol-1');
        const s3 = await ev('snapshot.created', 'svc-a', 'snap-1');
        const s4 = await ev('volumes.bogus', 'svc-a', 'x');
        const s5 = await ev('volume', 'svc-b', 'vol-2');
        const s6 = await ev('pool.updated', null, 'p1');
        expect(typeof s1).toBe('number');
        expect([s1, s2, s3, s4, s5, s6]).toEqual([...[s1, s2, s3, s4, s5, s6]].sort((x, y) => x - y));
        expect(new Set([s1, s2, s3, s4, s5, s6]).size).toBe(6);

        const types = async (filter: Parameters<typeof listEvents>[1], limit = 100) =>
          (await listEvents(store.db, filter, limit)).map((e) => e.type);

        expect(await types({})).toEqual(['volume.created', 'volume.deleted', 'snapshot.created', 'volumes.bogus', 'volume', 'pool.updated']);
        expect(await types({ types: ['volume'] })).toEqual(['volume.created', 'volume.deleted', 'volume']);
        expect(await types({ types: ['volume.created'] })).toEqual(['volume.created']);
        expect(await types({ types: ['volume', 'pool'] })).toEqual(['volume.created', 'volume.deleted', 'volume', 'pool.updated']);
        expect(await types({ types: [] })).toHaveLength(6);
        expect(await types({ service: 'svc-a', types: ['volume'] })).toEqual(['volume.created', 'volume.deleted']);
        expect(await types({ service: 'svc-b' })).toEqual(['volume']);
        expect(await types({ objectId: 'vol-1' })).toEqual(['volume.created', 'volume.deleted']);
        expect(await types({ afterSeq: s4 })).toEqual(['volume', 'pool.updated']);
        expect(await types({}, 2)).toEqual(['volume.created', 'volume.deleted']);

        const [first] = await listEvents(store.db, { afterSeq: s5 }, 1);
        expect(first).toEqual({ seq: s6, at: T0, type: 'pool.updated', service: null, objectId: 'p1', data: { type: 'pool.updated', nested: { n: 1 } }, actor: null, requestId: null });
      });

      it('type filters are literal: % and _ are not wildcards', async () => {
        await insertEvent(store.db, { at: T0, type: 'volume.created', service: 'svc-a', objectId: 'v', data: {} });
        expect(await listEvents(store.db, { types: ['%'] }, 100)).toEqual([]);
        expect(await listEvents(store.db, { types: ['_olume'] }, 100)).toEqual([]);
      });

      it('type filters are case-sensitive on both engines', async () => {
        await insertEvent(store.db, { at: T0, type: 'volume.created', service: 'svc-a', objectId: 'v', data: {} });
        expect(await listEvents(store.db, { types: ['VOLUME'] }, 100)).toEqual([]);
      });
    });

    describe('idempotency keys', () => {
      it('claims, refuses a second claim, completes, releases and expires keys', async () => {
        await claimIdempotencyKey(store.db, 'svc-a', 'k1', 'fp1', 'replica-1', '2025-01-01T00:00:00.000Z');
        expect(await findIdempotencyKey(store.db, 'svc-a', 'k1')).toEqual({ fingerprint: 'fp1', state: 'pending', responseStatus: null, responseBody: null, replica: 'replica-1', resourceId: null, resourceOp: null });
        expect(isUniqueViolation(await thrown(() => claimIdempotencyKey(store.db, 'svc-a', 'k1', 'fp2', 'replica-1', T0)))).toBe(true);
        // Keys are per owner.
        await claimIdempotencyKey(store.db, 'svc-b', 'k1', 'fp1', 'replica-1', '2025-01-03T00:00:00.000Z');

        await completeIdempotencyKey(store.db, 'svc-a', 'k1', 201, '{"id":"vol-1"}');
        expect(await findIdempotencyKey(store.db, 'svc-a', 'k1')).toEqual({ fingerprint: 'fp1', state: 'done', responseStatus: 201, responseBody: '{"id":"vol-1"}', replica: 'replica-1', resourceId: null, resourceOp: null });
        expect((await findIdempotencyKey(store.db, 'svc-b', 'k1'))?.state).toBe('pending');

        await releaseIdempotencyKey(store.db, 'svc-b', 'k1');
        expect(await findIdempotencyKey(store.db, 'svc-b', 'k1')).toBeUndefined();
        await claimIdempotencyKey(store.db, 'svc-b', 'k1', 'fp3', 'replica-1', '2025-01-03T00:00:00.000Z');
        await claimIdempotencyKey(store.db, '*admin', 'k2', 'fp4', 'replica-1', '2025-01-02T00:00:00.000Z');

        expect(await expireIdempotencyKeys(store.db, '2025-01-02T00:00:00.000Z')).toBe(1);
        expect(await findIdempotencyKey(store.db, 'svc-a', 'k1')).toBeUndefined();
        expect(await findIdempotencyKey(store.db, '*admin', 'k2')).toBeDefined();
        expect(await expireIdempotencyKeys(store.db, '2025-01-02T00:00:00.000Z')).toBe(0);
        expect(await expireIdempotencyKeys(store.db, '2026-01-01T00:00:00.000Z')).toBe(2);
      });
    });

    describe('numbers', () => {
      it('bigint columns come back as JS numbers (a 5 TiB volume)', async () => {
        const v = volume('huge', { sizeBytes: 5 * TiB });
        await insertCharged(store.db, v);
        await insertSnapshot(store.db, snapshot('huge-snap', v.id, { sizeBytes: 5 * TiB }));
        await insertEvent(store.db, { at: T0, type: 'volume.created', service: 'svc-a', objectId: v.id, data: {} });

        // Raw rows, not the repositories' Number() conversions: the drivers themselves must yield numbers.
        const vol = await store.db.selectFrom('volumes').select('size_bytes').where('id', '=', v.id).executeTakeFirstOrThrow();
        expect(vol.size_bytes).toBe(5 * TiB);
        const p = await store.db.selectFrom('pools').select(['allocated_bytes', 'volume_count']).where('name', '=', 'p1').executeTakeFirstOrThrow();
        expect(p).toEqual({ allocated_bytes: 5 * TiB, volume_count: 1 });
        const snap = await store.db.selectFrom('snapshots').select('size_bytes').executeTakeFirstOrThrow();
        expect(snap.size_bytes).toBe(5 * TiB);
        const ev = await store.db.selectFrom('events').select('seq').executeTakeFirstOrThrow();
        expect(typeof ev.seq).toBe('number');

        expect((await findVolume(store.db, v.id))?.sizeBytes).toBe(5 * TiB);
        expect(await poolCounters()).toEqual({ allocatedBytes: 5 * TiB, volumeCount: 1 });
        await deleteVolumeRow(store.db, v);
        expect(await poolCounters()).toEqual({ allocatedBytes: 0, volumeCount: 0 });
      });
    });

    describe('concurrency', () => {
      it('20 parallel transactions each charging the pool once add up to exactly 20', async () => {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.transaction(async (trx) => {
              await sleep(i % 3);
              await chargePool(trx, 'p1', 1, 1);
              await sleep(1);
            }),
          ),
        );
        expect(await poolCounters()).toEqual({ allocatedBytes: 20, volumeCount: 20 });
      });
    });
  });
}
