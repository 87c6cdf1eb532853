import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollyError } from '../../../src/core/errors.js';
import type { FakeDriver } from '../../../src/drivers/fake/fake-driver.js';
import { ManualClock, newService, startPolly, type TestPolly } from '../../helpers/polly.js';

let polly: TestPolly;
let token: string;
let fake: FakeDriver;
const clock = new ManualClock();

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }], errorRetryLimit: 2, errorRetryBaseSeconds: 10 }, { clock });
  token = await newService(polly, 'retrier');
  fake = polly.server.app.ctx.drivers.get('mem') as FakeDriver;
});
afterAll(async () => {
  await polly?.stop();
});

const db = () => polly.server.app.ctx.store.db;
const create = (name: string, key: string) =>
  polly.call('POST', '/v1/volumes', { token, body: { name, sizeBytes: 1000 }, headers: { 'idempotency-key': key } });
const volumeByName = async (name: string) => (await polly.call('GET', '/v1/volumes?limit=1000', { token })).body.items.find((v: { name: string }) => v.name === name);

describe('a retry with the same Idempotency-Key learns what happened to its request', () => {
  it('while the first request runs, a retry is 409 IDEMPOTENCY_IN_PROGRESS with Retry-After; after it, the volume', async () => {
    fake.setLatency(500);
    const first = create('slow', 'k-slow');
    await new Promise((r) => setTimeout(r, 200));
    const during = await create('slow', 'k-slow');
    expect(during.status).toBe(409);
    expect(during.body.error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(during.headers['retry-after']).toBe('1');
    const done = await first;
    fake.setLatency(0);
    expect(done.status).toBe(201);
    const after = await create('slow', 'k-slow');
    expect(after).toMatchObject({ status: 201, body: { id: done.body.id } });
    expect(after.headers['idempotent-replayed']).toBe('true');
  });

  it('a create whose server died before replying: in progress until the reconciler finished it, then 201 with the same id', async () => {
    const done = await create('crashed', 'k-crash');
    expect(done.status).toBe(201);
    // Put the rows back the way a kill -9 between the backend's create and its confirmation leaves them:
    // the intent owned by a replica that is gone, the key pending and linked to it.
    await db().updateTable('volumes').set({ status: 'creating', intent_owner: 'dead-incarnation' }).where('id', '=', done.body.id).execute();
    await db().updateTable('idempotency_keys').set({ state: 'pending', response_status: null, response_body: null, replica: 'dead-incarnation' }).where('key', '=', 'k-crash').execute();

    const pending = await create('crashed', 'k-crash');
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(pending.headers['retry-after']).toBe('1');

    const report = await polly.server.app.reconciler.run();
    expect(report.volumesCreated).toBe(1);
    const retry = await create('crashed', 'k-crash');
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: done.body.id, name: 'crashed', status: 'available' });
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('a create whose server died before it committed anything runs again under the same key', async () => {
    // A real request makes the record (with the request's fingerprint); then the record is put back the
    // way a crash before the intent's commit leaves it: pending, unlinked, its replica gone.
    const made = (await create('early', 'k-early')).body;
    await polly.call('DELETE', `/v1/volumes/${made.id}`, { token });
    await db().updateTable('idempotency_keys').set({ state: 'pending', response_status: null, response_body: null, resource_id: null, resource_op: null, resource_kind: null, replica: 'dead-incarnation' }).where('key', '=', 'k-early').execute();

    const retry = await create('early', 'k-early');
    expect(retry.status).toBe(201);
    expect(retry.body.name).toBe('early');
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a record of a live request that committed nothing yet is in progress, not run twice', async () => {
    fake.setLatency(0);
    const made = await create('live', 'k-live');
    expect(made.status).toBe(201);
    // Pending, unlinked and owned by this (live) replica: what a request still before its commit looks like.
    await db()
      .updateTable('idempotency_keys')
      .set({ state: 'pending', response_status: null, response_body: null, replica: polly.server.app.ctx.replica.incarnation, resource_id: null, resource_op: null, resource_kind: null })
      .where('key', '=', 'k-live')
      .execute();
    const retry = await create('live', 'k-live');
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('IDEMPOTENCY_IN_PROGRESS');
  });
});

describe('a failed create is retryable under the same key', () => {
  it('a rolled-back failure releases the name: the retry runs again and succeeds', async () => {
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'flaky backend'));
    const first = await create('flaky', 'k-flaky');
    expect(first.status).toBe(502);
    const retry = await create('flaky', 'k-flaky');
    expect(retry.status).toBe(201);
    expect(retry.body.name).toBe('flaky');
  });

  it('a failure that kept the name (its rollback failed too) is resumed by the retry: 201 with the same volume', async () => {
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'disk on fire'));
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'delete broke'));
    const first = await create('stuck', 'k-stuck');
    expect(first.status).toBe(502);
    const parked = await volumeByName('stuck');
    expect(parked.status).toBe('error');
    expect(parked.statusReason).toMatch(/^create failed: disk on fire; retry 1 of 2 after /);

    const retry = await create('stuck', 'k-stuck');
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: parked.id, name: 'stuck', status: 'available', statusReason: null });
    // And from then on the same reply, replayed.
    const again = await create('stuck', 'k-stuck');
    expect(again).toMatchObject({ status: 201, body: { id: parked.id } });
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('only a final failure replays the first error, for good', async () => {
    // Retries are bounded (2 here): the first attempt and two retries all fail, their rollbacks too.
    for (let i = 0; i < 3; i++) {
      fake.failNext('create', new PollyError('BACKEND_FAILED', `attempt ${i} failed`));
      fake.failNext('delete', new PollyError('BACKEND_FAILED', 'delete broke'));
    }
    expect((await create('doomed', 'k-doomed')).status).toBe(502);
    expect((await create('doomed', 'k-doomed')).status).toBe(502); // retry 1, failed
    const last = await create('doomed', 'k-doomed'); // retry 2, failed: that was the last
    expect(last.status).toBe(502);
    const v = await volumeByName('doomed');
    expect(v.statusReason).toContain('create failed: attempt 0 failed; retried 2 of 2 times (last: attempt 2 failed); giving up after 2 retries');
    const calls = fake.calls('create');
    for (let i = 0; i < 2; i++) {
      const replay = await create('doomed', 'k-doomed');
      expect(replay.status).toBe(502);
      expect(replay.body.error).toEqual({ code: 'BACKEND_FAILED', message: v.statusReason });
      expect(replay.headers['idempotent-replayed']).toBe('true');
    }
    expect(fake.calls('create')).toBe(calls);
  });

  it('a failure that is not transient is final at once', async () => {
    fake.failNext('create', new PollyError('UNSUPPORTED', 'backend cannot do that'));
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'delete broke'));
    expect((await create('never', 'k-never')).status).toBe(422);
    const v = await volumeByName('never');
    expect(v.statusReason).toBe('create failed: backend cannot do that; not retried (UNSUPPORTED is not transient)');
    const replay = await create('never', 'k-never');
    expect(replay.status).toBe(422);
    expect(replay.body.error.code).toBe('UNSUPPORTED');
  });
});

describe('the reconciler retries transient failures with backoff, a bounded number of times', () => {
  it('finishes a failed create once its retry is due, saying what it tried meanwhile', async () => {
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'outage'));
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'outage'));
    expect((await polly.call('POST', '/v1/volumes', { token, body: { name: 'later', sizeBytes: 1 } })).status).toBe(502);
    const reconciler = polly.server.app.reconciler;
    expect((await reconciler.run()).retried).toBe(0); // not due yet (10 s)
    clock.advance(11);
    fake.failNext('create', new PollyError('BACKEND_FAILED', 'still out'));
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'still out'));
    expect(await reconciler.run()).toMatchObject({ retried: 1, failed: 1 });
    const v = await volumeByName('later');
    expect(v.status).toBe('error');
    expect(v.statusReason).toMatch(/^create failed: outage; retried 1 of 2 times \(last: still out\); retry 2 of 2 after /);
    clock.advance(11);
    expect((await reconciler.run()).retried).toBe(0); // the second wait is 20 s
    clock.advance(10);
    expect(await reconciler.run()).toMatchObject({ retried: 1, failed: 0 });
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).body).toMatchObject({ status: 'available', statusReason: null });
  });

  it('gives up after the bounded count', async () => {
    for (let i = 0; i < 3; i++) {
      fake.failNext('create', new PollyError('BACKEND_FAILED', 'down'));
      fake.failNext('delete', new PollyError('BACKEND_FAILED', 'down'));
    }
    await polly.call('POST', '/v1/volumes', { token, body: { name: 'hopeless', sizeBytes: 1 } });
    for (let i = 0; i < 4; i++) {
      clock.advance(100);
      await polly.server.app.reconciler.run();
    }
    const v = await volumeByName('hopeless');
    expect(v.status).toBe('error');
    expect(v.statusReason).toBe('create failed: down; retried 2 of 2 times (last: down); giving up after 2 retries');
  });

  it('completes a failed volume delete and a failed snapshot delete', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'del-later', sizeBytes: 1 } })).body;
    const snap = (await polly.call('POST', `/v1/volumes/${v.id}/snapshots`, { token, body: { name: 'snap-later' } })).body;
    fake.failNext('deleteSnapshot', new PollyError('BACKEND_FAILED', 'snapshot busy'));
    expect((await polly.call('DELETE', `/v1/snapshots/${snap.id}`, { token })).status).toBe(502);
    const parkedSnap = (await polly.call('GET', `/v1/snapshots/${snap.id}`, { token })).body;
    expect(parkedSnap.status).toBe('error');
    expect(parkedSnap.statusReason).toMatch(/^delete failed: snapshot busy; retry 1 of 2 after /);
    clock.advance(11);
    expect((await polly.server.app.reconciler.run()).retried).toBe(1);
    expect((await polly.call('GET', `/v1/snapshots/${snap.id}`, { token })).status).toBe(404);

    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'device busy'));
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token })).status).toBe(502);
    clock.advance(11);
    expect((await polly.server.app.reconciler.run()).retried).toBe(1);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).status).toBe(404);
  });

  it('a delete retried with its key after it failed: resumed now, then 204', async () => {
    const v = (await polly.call('POST', '/v1/volumes', { token, body: { name: 'del-key', sizeBytes: 1 } })).body;
    const headers = { 'idempotency-key': `del-${v.id}` };
    fake.failNext('delete', new PollyError('BACKEND_FAILED', 'device busy'));
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token, headers })).status).toBe(502);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token, headers })).status).toBe(204);
    expect((await polly.call('GET', `/v1/volumes/${v.id}`, { token })).status).toBe(404);
    expect((await polly.call('DELETE', `/v1/volumes/${v.id}`, { token, headers })).status).toBe(204);
  });
});
