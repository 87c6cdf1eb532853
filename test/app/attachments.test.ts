import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { fakeDriverFor } from '../../src/drivers/fake/fake-driver.js';
import { PollyServer } from '../../src/server.js';
import { freshPgDatabase } from '../helpers/pg.js';
import { STORE_KINDS } from '../helpers/stores.js';

const ADMIN = 'test-admin-token-0123456789abcdef';

class TestClock {
  t = Date.parse('2030-01-01T00:00:00.000Z');
  now(): Date {
    return new Date(this.t);
  }
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

for (const kind of STORE_KINDS) {
  describe(`attachments (${kind})`, () => {
    let server: PollyServer;
    let dataDir: string;
    let dropDb: (() => Promise<void>) | undefined;
    const clock = new TestClock();
    let alpha: string;
    let beta: string;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async function call(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
      const res = await server.rest.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: res.statusCode, body: res.body === '' ? null : res.json() };
    }

    async function volume(token: string, name: string, profile?: string): Promise<string> {
      const res = await call('POST', '/v1/volumes', token, { name, sizeBytes: 1000, ...(profile ? { profile } : {}) });
      expect(res.status).toBe(201);
      return res.body.id as string;
    }

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'polly-att-'));
      let databaseUrl: string | undefined;
      if (kind === 'postgres') {
        const db = await freshPgDatabase();
        databaseUrl = db.url;
        dropDb = db.drop;
      }
      const config = loadConfig({
        document: {
          listen: '127.0.0.1:0',
          dataDir,
          adminToken: ADMIN,
          ...(databaseUrl ? { databaseUrl } : {}),
          attachmentLeaseSeconds: 30,
          pools: [
            { name: 'mem', driver: 'fake', parameters: { capacityBytes: String(1 << 30) }, topology: { zone: 'z1' } },
            // A fake pool whose driver can fence a node at the storage (as a Ceph client blocklist would).
            { name: 'fencing', driver: 'fake', parameters: { capacityBytes: String(1 << 30), storageFence: 'true' }, topology: { zone: 'z1' } },
            // A fake pool whose controller half answers attach with a publish context (as rbd does).
            { name: 'networked', driver: 'fake', parameters: { capacityBytes: String(1 << 30), attach: 'true' }, topology: { zone: 'z1' } },
          ],
          clockSkewSeconds: 2,
          profiles: [
            { name: 'single', accessModes: ['RWO'], pools: ['mem'] },
            { name: 'forced', accessModes: ['RWO'], pools: ['mem'], failover: 'force-after', forceAfterSeconds: 10 },
            { name: 'storage', accessModes: ['RWO'], pools: ['fencing'], failover: 'storage-fence' },
            { name: 'storage-nofence', accessModes: ['RWO'], pools: ['mem'], failover: 'storage-fence' },
            { name: 'networked', accessModes: ['RWO'], pools: ['networked'] },
          ],
          services: [
            { name: 'alpha', tokens: ['alpha-token-0123456789'] },
            { name: 'beta', tokens: ['beta-token-01234567890'] },
          ],
        },
        env: {},
      });
      server = await PollyServer.create(config, { logger: pino({ level: 'silent' }), clock });
      alpha = 'alpha-token-0123456789';
      beta = 'beta-token-01234567890';
      for (const [id, zone] of [['node-a', 'z1'], ['node-b', 'z1'], ['node-c', 'z1'], ['node-far', 'z9']] as const) {
        const res = await call('POST', '/v1/nodes', ADMIN, { id, hostname: `${id}.example`, topology: { zone } });
        expect(res.status).toBe(200);
      }
    });
    afterAll(async () => {
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
      await dropDb?.();
    });

    it('registers nodes (upsert) and lists them', async () => {
      const again = await call('POST', '/v1/nodes', alpha, { id: 'node-a', hostname: 'a.example', topology: { zone: 'z1' } });
      expect(again.body).toMatchObject({ id: 'node-a', hostname: 'a.example', topology: { zone: 'z1' } });
      const list = await call('GET', '/v1/nodes', alpha);
      expect(list.body.items.map((n: { id: string }) => n.id)).toEqual(['node-a', 'node-b', 'node-c', 'node-far']);
      expect((await call('POST', '/v1/nodes', alpha, { id: 'bad name', hostname: 'x' })).status).toBe(400);
    });

    it('attaches RWO, is idempotent, refuses another node naming the holder, and moves the volume status', async () => {
      const id = await volume(alpha, 'rwo-1');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      expect(a.status).toBe(201);
      expect(a.body).toMatchObject({ volumeId: id, node: 'node-a', accessMode: 'RWO', readOnly: false, status: 'live', service: 'alpha' });
      expect(a.body.fencingToken).toBeGreaterThan(0);
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body.status).toBe('attached');
      const again = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      expect(again.body.id).toBe(a.body.id);
      expect(again.body.fencingToken).toBe(a.body.fencingToken);
      const other = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(other.status).toBe(409);
      expect(other.body.error.code).toBe('VOLUME_BUSY');
      expect(other.body.error.message).toContain('node-a');
      expect(other.body.error.details.node).toBe('node-a');
      // Another mode on the same node is a conflict, not a silent change.
      const changed = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO', readOnly: true });
      expect(changed.status).toBe(409);
      expect(changed.body.error.code).toBe('ATTACHMENT_EXISTS');
      // Attached volumes cannot be deleted.
      expect((await call('DELETE', `/v1/volumes/${id}`, alpha)).status).toBe(409);
      expect((await call('DELETE', `/v1/attachments/${a.body.id}`, alpha)).status).toBe(204);
      expect((await call('DELETE', `/v1/attachments/${a.body.id}`, alpha)).status).toBe(204);
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body.status).toBe('available');
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      expect(b.body.fencingToken).toBeGreaterThan(a.body.fencingToken);
    });

    it('failover safe: a lapsed lease alone moves nothing; the volume waits, visibly, until an operator fences the node', async () => {
      const id = await volume(alpha, 'fence-1');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      clock.advance(20);
      const hb = await call('POST', '/v1/nodes/node-a/heartbeat', alpha);
      expect(hb.status).toBe(200);
      const held = hb.body.attachments.find((x: { id: string }) => x.id === a.body.id);
      expect(held).toMatchObject({ fencingToken: a.body.fencingToken, volume: { name: 'fence-1', pool: 'mem', volumeMode: 'filesystem' } });
      clock.advance(20); // 40 s after attach, 20 s after the heartbeat: still leased
      expect((await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' })).status).toBe(409);
      clock.advance(11); // the lease lapsed
      const early = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(early.status).toBe(409);
      expect(early.body.error.details).toMatchObject({ waitingForFence: 'node-a' });
      expect(early.body.error.message).toMatch(/clock-skew margin/);
      clock.advance(3600); // an hour of silence changes nothing under failover: safe
      const waiting = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(waiting.status).toBe(409);
      expect(waiting.body.error.code).toBe('VOLUME_BUSY');
      expect(waiting.body.error.message).toMatch(/waiting for node node-a to be fenced/);
      expect(waiting.body.error.details.remedies.join(' ')).toContain('polly node fence node-a');
      const v = (await call('GET', `/v1/volumes/${id}`, alpha)).body;
      expect(v.status).toBe('attached');
      expect(v.statusReason).toMatch(/waiting for node node-a to be fenced/);
      const waitEvents = await call('GET', '/v1/events?type=attachment.waiting_for_fence', alpha);
      expect(waitEvents.body.items.map((e: { objectId: string }) => e.objectId)).toContain(a.body.id);
      expect((await call('GET', `/v1/attachments/${a.body.id}`, alpha)).body.status).toBe('live');
      // Fencing is the admin's; then the volume moves at once.
      expect((await call('POST', '/v1/nodes/node-a/fence', alpha, { reason: 'x' })).status).toBe(403);
      const fenced = await call('POST', '/v1/nodes/node-a/fence', ADMIN, { reason: 'powered off' });
      expect(fenced.status).toBe(200);
      expect(fenced.body.ended).toEqual([a.body.id]);
      expect(fenced.body.node.fence).toMatchObject({ reason: 'powered off' });
      expect((await call('GET', `/v1/attachments/${a.body.id}`, alpha)).body.status).toBe('fenced');
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body).toMatchObject({ status: 'available', statusReason: null });
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      expect(b.body.fencingToken).toBeGreaterThan(a.body.fencingToken);
      // A fenced node is refused heartbeats (its agent then fences everything) and attachments.
      const refused = await call('POST', '/v1/nodes/node-a/heartbeat', alpha);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('NODE_FENCED');
      const other = await volume(alpha, 'fence-1b');
      expect((await call('POST', `/v1/volumes/${other}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' })).body.error.code).toBe('NODE_FENCED');
      const events = await call('GET', '/v1/events?type=node.fenced', ADMIN);
      expect(events.body.items.map((e: { objectId: string }) => e.objectId)).toContain('node-a');
      // Unfenced, it heartbeats again, without the attachment it lost.
      const unfenced = await call('POST', '/v1/nodes/node-a/unfence', ADMIN);
      expect(unfenced.body.fence).toBeNull();
      const after = await call('POST', '/v1/nodes/node-a/heartbeat', alpha);
      expect(after.status).toBe(200);
      expect(after.body.attachments.map((x: { id: string }) => x.id)).not.toContain(a.body.id);
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body.status).toBe('attached');
      await call('DELETE', `/v1/attachments/${b.body.id}`, alpha);
    });

    it('a self-fence report by the holder lets the volume move; a report for another node changes nothing', async () => {
      const id = await volume(alpha, 'self-1');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-c', accessMode: 'RWO' });
      clock.advance(31);
      expect((await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' })).status).toBe(409);
      // A report naming node-b (not the holder) does not end node-c's attachment.
      const wrong = await call('POST', '/v1/nodes/node-b/self-fence', alpha, { attachments: [a.body.id], fencedAt: clock.now().toISOString() });
      expect(wrong.body.ended).toEqual([]);
      const fencedAt = new Date(Date.parse(a.body.leaseExpiresAt) - 5000).toISOString();
      const report = await call('POST', '/v1/nodes/node-c/self-fence', alpha, { attachments: [a.body.id], fencedAt });
      expect(report.status).toBe(200);
      expect(report.body.ended).toEqual([a.body.id]);
      const ev = (await call('GET', '/v1/events?type=attachment.fenced', alpha)).body.items.find((e: { objectId: string }) => e.objectId === a.body.id);
      expect(ev.data).toMatchObject({ how: 'self-fence', fencedAt, beforeDeadline: true });
      expect((await call('GET', '/v1/nodes/node-c', alpha)).body.selfFencedAt).toBe(fencedAt);
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      await call('DELETE', `/v1/attachments/${b.body.id}`, alpha);
    });

    it('failover force-after grants forceAfterSeconds after lease end + clock skew, not before', async () => {
      const id = await volume(alpha, 'forced-1', 'forced');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      expect(a.body).toMatchObject({ node: 'node-a' });
      clock.advance(30 + 2 + 9); // lease, skew, and 9 of the 10 s
      const early = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(early.status).toBe(409);
      expect(early.body.error.message).toMatch(/force-after grants it at/);
      clock.advance(2);
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      const ev = (await call('GET', '/v1/events?type=attachment.fenced', alpha)).body.items.find((e: { objectId: string }) => e.objectId === a.body.id);
      expect(ev.data).toMatchObject({ how: 'force-after', by: 'node-b' });
      await call('DELETE', `/v1/attachments/${b.body.id}`, alpha);
    });

    it('failover storage-fence: at lease end (no clock-skew wait) the driver fences the holder at the storage, then the volume moves; a driver that cannot fence waits', async () => {
      const id = await volume(alpha, 'storage-1', 'storage');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      clock.advance(29);
      const early = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(early.status).toBe(409);
      expect(fakeDriverFor('fencing')?.storageFences()).toEqual([]);
      clock.advance(1);
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      const driver = fakeDriverFor('fencing');
      // The driver gets the holder's registered connector, which a networked driver fences by.
      expect(driver?.storageFences()).toContainEqual({ backendId: expect.any(String), node: 'node-a', connector: expect.objectContaining({ node: 'node-a', addresses: [] }) });
      const ev = (await call('GET', '/v1/events?type=attachment.fenced', alpha)).body.items.find((e: { objectId: string }) => e.objectId === a.body.id);
      expect(ev.data).toMatchObject({ how: 'storage-fence', leaseExpiresAt: a.body.leaseExpiresAt, storageFenceMs: expect.any(Number) });
      await call('DELETE', `/v1/attachments/${b.body.id}`, alpha);

      const plain = await volume(alpha, 'storage-2', 'storage-nofence');
      await call('POST', `/v1/volumes/${plain}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      clock.advance(3600);
      const waiting = await call('POST', `/v1/volumes/${plain}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(waiting.status).toBe(409);
      expect(waiting.body.error.message).toMatch(/cannot fence at the storage/);
    });

    it('only a service whose agent registered a node (or the admin) may heartbeat or report for it', async () => {
      expect((await call('POST', '/v1/nodes', alpha, { id: 'alpha-host', hostname: 'ah', topology: { zone: 'z1' } })).status).toBe(200);
      expect((await call('POST', '/v1/nodes/alpha-host/heartbeat', alpha)).status).toBe(200);
      const foreign = await call('POST', '/v1/nodes/alpha-host/heartbeat', beta);
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('NODE_NOT_FOUND');
      expect((await call('POST', '/v1/nodes/alpha-host/self-fence', beta, { attachments: [], fencedAt: clock.now().toISOString() })).status).toBe(404);
      expect((await call('POST', '/v1/nodes/alpha-host/heartbeat', ADMIN)).status).toBe(200);
      // beta's agent on the same host registers it unchanged: from then on it may heartbeat it too.
      expect((await call('POST', '/v1/nodes', beta, { id: 'alpha-host', hostname: 'ah', topology: { zone: 'z1' } })).status).toBe(200);
      expect((await call('POST', '/v1/nodes/alpha-host/heartbeat', beta)).status).toBe(200);
    });

    it('a node learns of an attachment only once its publish context is recorded (never one it cannot stage)', async () => {
      const id = await volume(alpha, 'published-1', 'networked');
      const driver = fakeDriverFor('networked')!;
      let release!: () => void;
      driver.holdNext('attach', new Promise<void>((r) => (release = r)));
      const calls = driver.calls('attach');
      const attaching = call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-c', accessMode: 'RWO' });
      try {
        while (driver.calls('attach') === calls) await new Promise((r) => setTimeout(r, 5));
        // Granted (the row is live) but the controller half has not answered yet.
        const during = await call('POST', '/v1/nodes/node-c/heartbeat', ADMIN);
        expect(during.status).toBe(200);
        expect(during.body.attachments.filter((a: { volumeId: string }) => a.volumeId === id)).toEqual([]);
      } finally {
        release();
      }
      const attached = await attaching;
      expect(attached.status).toBe(201);
      expect(attached.body.publishContext).toEqual({ 'fake.volume': expect.any(String), 'fake.node': 'node-c' });
      const after = await call('POST', '/v1/nodes/node-c/heartbeat', ADMIN);
      expect(after.body.attachments.filter((a: { volumeId: string }) => a.volumeId === id)).toEqual([
        expect.objectContaining({ volumeId: id, publishContext: { 'fake.volume': expect.any(String), 'fake.node': 'node-c' } }),
      ]);
      expect((await call('DELETE', `/v1/attachments/${attached.body.id}`, alpha)).status).toBe(204);
    });

    it('an idempotent repeat renews the lease', async () => {
      const id = await volume(alpha, 'renew-1');
      const a = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      clock.advance(25);
      const again = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      expect(again.body.id).toBe(a.body.id);
      expect(again.body.leaseExpiresAt > a.body.leaseExpiresAt).toBe(true);
      clock.advance(25);
      expect((await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' })).status).toBe(409);
    });

    it('the database allows one live exclusive attachment per volume', async () => {
      const id = await volume(alpha, 'unique-1');
      await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWO' });
      const db = server.app.ctx.store.db;
      await expect(
        db
          .insertInto('attachments')
          .values({
            id: 'att-sneaky',
            volume_id: id,
            service: 'alpha',
            node: 'node-b',
            access_mode: 'RWO',
            read_only: 0,
            fencing_token: 99,
            status: 'live',
            exclusive_key: id,
            live_key: `${id}|node-b|alpha`,
            lease_expires_at: '2100-01-01T00:00:00.000Z',
            created_at: '2030-01-01T00:00:00.000Z',
            ended_at: null,
          })
          .execute(),
      ).rejects.toThrow();
    });

    it('racing attaches of one RWO volume from two nodes: exactly one wins', async () => {
      const id = await volume(alpha, 'race-1');
      const results = await Promise.all(
        ['node-a', 'node-b', 'node-c'].map((node) => call('POST', `/v1/volumes/${id}/attachments`, alpha, { node, accessMode: 'RWO' })),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(2);
      expect((await call('GET', `/v1/attachments?volume=${id}`, alpha)).body.items).toHaveLength(1);
    });

    it('RWX and ROX attach on several nodes; ROX is read-only; an exclusive mode then waits', async () => {
      const id = await volume(alpha, 'multi-1');
      const x1 = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWX' });
      const x2 = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWX' });
      const r1 = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-c', accessMode: 'ROX' });
      expect([x1.status, x2.status, r1.status]).toEqual([201, 201, 201]);
      expect(r1.body.readOnly).toBe(true);
      expect(new Set([x1.body.fencingToken, x2.body.fencingToken, r1.body.fencingToken]).size).toBe(3);
      expect((await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-c', accessMode: 'ROX', readOnly: false })).status).toBe(400);
      const rwo = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-c', accessMode: 'RWOP' });
      expect(rwo.status).toBe(409);
      const listed = await call('GET', `/v1/attachments?volume=${id}`, alpha);
      expect(listed.body.items).toHaveLength(3);
      expect((await call('GET', `/v1/attachments?node=node-a&volume=${id}`, alpha)).body.items).toHaveLength(1);
      for (const a of listed.body.items) expect((await call('DELETE', `/v1/attachments/${a.id}`, alpha)).status).toBe(204);
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body.status).toBe('available');
    });

    it('refuses modes the profile does not allow, unknown nodes, and nodes outside the pool topology', async () => {
      const res = await call('POST', '/v1/volumes', alpha, { name: 'single-1', sizeBytes: 1000, profile: 'single' });
      const id = res.body.id as string;
      const rwx = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWX' });
      expect(rwx.status).toBe(422);
      expect(rwx.body.error.code).toBe('UNSUPPORTED');
      const ghost = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'ghost', accessMode: 'RWO' });
      expect(ghost.status).toBe(404);
      expect(ghost.body.error.code).toBe('NODE_NOT_FOUND');
      const far = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-far', accessMode: 'RWO' });
      expect(far.status).toBe(400);
      expect(far.body.error.message).toContain('zone');
      expect((await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'RWZ' })).status).toBe(400);
    });

    it('a service sees only its own attachments; shared volumes attach (read-only when shared ro); force is the admin\'s', async () => {
      const id = await volume(alpha, 'shared-1');
      const mine = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-a', accessMode: 'ROX' });
      // beta cannot see or attach alpha's volume …
      expect((await call('POST', `/v1/volumes/${id}/attachments`, beta, { node: 'node-b', accessMode: 'ROX' })).status).toBe(404);
      expect((await call('GET', `/v1/attachments/${mine.body.id}`, beta)).status).toBe(404);
      expect((await call('DELETE', `/v1/attachments/${mine.body.id}`, beta)).status).toBe(404);
      // … until alpha shares it read-only.
      await server.app.ctx.store.db
        .insertInto('volume_shares')
        .values({ volume_id: id, service: 'beta', access: 'ro', created_at: '2030-01-01T00:00:00.000Z' })
        .execute();
      expect((await call('POST', `/v1/volumes/${id}/attachments`, beta, { node: 'node-b', accessMode: 'RWX', readOnly: false })).status).toBe(403);
      const theirs = await call('POST', `/v1/volumes/${id}/attachments`, beta, { node: 'node-b', accessMode: 'RWX' });
      expect(theirs.status).toBe(201);
      expect(theirs.body).toMatchObject({ service: 'beta', readOnly: true });
      expect((await call('GET', '/v1/attachments', beta)).body.items.map((a: { id: string }) => a.id)).toEqual([theirs.body.id]);
      expect((await call('GET', `/v1/attachments?volume=${id}`, alpha)).body.items.map((a: { id: string }) => a.id)).toEqual([mine.body.id]);
      expect((await call('GET', `/v1/attachments?volume=${id}`, ADMIN)).body.items).toHaveLength(2);
      // beta's heartbeat renews and lists only beta's attachments on node-b.
      const hb = await call('POST', '/v1/nodes/node-b/heartbeat', beta);
      expect(hb.body.attachments.map((a: { id: string }) => a.id)).toEqual([theirs.body.id]);
      // Force is the admin's, and fences.
      expect((await call('DELETE', `/v1/attachments/${theirs.body.id}?force=true`, beta)).status).toBe(403);
      expect((await call('DELETE', `/v1/attachments/${theirs.body.id}?force=true`, ADMIN)).status).toBe(204);
      expect((await call('GET', `/v1/attachments/${theirs.body.id}`, beta)).body.status).toBe('fenced');
      expect((await call('DELETE', `/v1/attachments/${mine.body.id}`, alpha)).status).toBe(204);
    });

    it('heartbeat of an unknown node is 404', async () => {
      const res = await call('POST', '/v1/nodes/nobody/heartbeat', alpha);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NODE_NOT_FOUND');
    });
  });
}

describe('node-local pools attach only on the nodes they declare', () => {
  it('refuses an undeclared node with POOL_NOT_ON_NODE naming the pool and its nodes; shared: true reaches every node', async () => {
    const { startPolly, newService } = await import('../helpers/polly.js');
    const polly = await startPolly((dir) => ({
      pools: [
        { name: 'here', driver: 'local', path: join(dir, 'here'), topology: { nodes: ['host-a'] } },
        { name: 'undeclared', driver: 'local', path: join(dir, 'undeclared') },
        { name: 'everywhere', driver: 'local', path: join(dir, 'everywhere'), topology: { shared: true } },
      ],
    }));
    try {
      const token = await newService(polly, 'topo');
      for (const id of ['host-a', 'host-b']) expect((await polly.call('POST', '/v1/nodes', { token, body: { id, hostname: `${id}.test` } })).status).toBe(200);
      const attach = async (pool: string, node: string) => {
        const v = await polly.call('POST', '/v1/volumes', { token, body: { name: `${pool}-${node}`, sizeBytes: 1 << 20, pool } });
        expect(v.status).toBe(201);
        return polly.call('POST', `/v1/volumes/${v.body.id}/attachments`, { token, body: { node, accessMode: 'RWO' } });
      };
      const refused = await attach('here', 'host-b');
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('POOL_NOT_ON_NODE');
      expect(refused.body.error.details).toEqual({ pool: 'here', nodes: ['host-a'], node: 'host-b' });
      expect(refused.body.error.message).toContain('pool here (driver local) is node-local and lives on node host-a');
      expect((await attach('here', 'host-a')).status).toBe(201);
      // Undeclared: the node registered first is the pool's home.
      const undeclared = await attach('undeclared', 'host-b');
      expect(undeclared.status).toBe(409);
      expect(undeclared.body.error.message).toContain('host-a is the node registered first');
      expect((await attach('undeclared', 'host-a')).status).toBe(201);
      expect((await attach('everywhere', 'host-b')).status).toBe(201);
    } finally {
      await polly.stop();
    }
  });
});
