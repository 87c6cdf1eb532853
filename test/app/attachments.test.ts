import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
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

    async function volume(token: string, name: string): Promise<string> {
      const res = await call('POST', '/v1/volumes', token, { name, sizeBytes: 1000 });
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
          ],
          profiles: [{ name: 'single', accessModes: ['RWO'] }],
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

    it('fences a holder whose lease expired, and heartbeats keep a lease alive', async () => {
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
      const b = await call('POST', `/v1/volumes/${id}/attachments`, alpha, { node: 'node-b', accessMode: 'RWO' });
      expect(b.status).toBe(201);
      expect(b.body.fencingToken).toBeGreaterThan(a.body.fencingToken);
      expect((await call('GET', `/v1/attachments/${a.body.id}`, alpha)).body.status).toBe('fenced');
      // node-a's next heartbeat no longer lists the fenced attachment: its agent must drop the mount.
      const after = await call('POST', '/v1/nodes/node-a/heartbeat', alpha);
      expect(after.body.attachments.map((x: { id: string }) => x.id)).not.toContain(a.body.id);
      const events = await call('GET', '/v1/events?type=attachment.fenced', alpha);
      expect(events.body.items.map((e: { objectId: string }) => e.objectId)).toContain(a.body.id);
      expect((await call('GET', `/v1/volumes/${id}`, alpha)).body.status).toBe('attached');
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
