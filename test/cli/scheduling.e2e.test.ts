import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Explanation, Offer, Pool, Profile, Quota, Reservation, Share, Volume } from '../../src/cli/types.js';
import { loadConfig } from '../../src/config/config.js';
import { PollyServer } from '../../src/server.js';
import { killAll, runPolly } from './process.js';

/** The scheduling commands end to end: profiles, pool admin, quotas, offers, placement, sharing. */

const GiB = 1024 ** 3;
let server: PollyServer | undefined;
let tmp = '';
let adminToken = '';
let aliceToken = '';
let env: Record<string, string> = {};

const polly = (args: string[], token = adminToken) => runPolly(args, { ...env, POLLY_TOKEN: token }, tmp);
const json = <T>(text: string) => JSON.parse(text) as T;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'polly-cli-sched-'));
  const config = loadConfig({
    document: {
      listen: '127.0.0.1:0',
      dataDir: tmp,
      pools: [
        { name: 'local', driver: 'local', path: join(tmp, 'pool') },
        { name: 'mem', driver: 'fake', parameters: { capacityBytes: '10737418240' } },
      ],
    },
    env: {},
  });
  server = await PollyServer.create(config, { logger: pino({ level: 'silent' }) });
  await server.start();
  adminToken = readFileSync(server.adminTokenFile ?? join(tmp, 'admin.token'), 'utf8').trim();
  env = { POLLY_URL: server.url, POLLY_DATA_DIR: join(tmp, 'nowhere') };
  for (const name of ['alice', 'bob']) expect((await polly(['service', 'create', name])).code).toBe(0);
  aliceToken = (await polly(['service', 'token', 'alice'])).stdout.trim();
});

afterAll(async () => {
  killAll();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('profiles', () => {
  it('creates, lists, updates and deletes a profile', async () => {
    const args = ['--min-size', '1GiB', '--max-size', '100GiB', '--access-mode', 'rwo', '--access-mode', 'RWX', '--pool-selector', 'tier=ssd', '--iops', '500', '--bandwidth', '100MiB'];
    // No pool carries tier=ssd yet: refused with the reason per pool, kept with --force (pools added later).
    const refused = await polly(['profile', 'create', 'gold', ...args, '-o', 'json']);
    expect(refused.stderr).toContain('PROFILE_UNSATISFIABLE');
    const created = await polly(['profile', 'create', 'gold', ...args, '--force', '-o', 'json']);
    expect(created.stderr).toBe('');
    expect(json<Profile>(created.stdout)).toMatchObject({
      name: 'gold',
      minBytes: GiB,
      maxBytes: 100 * GiB,
      accessModes: ['RWO', 'RWX'],
      poolSelector: { tier: 'ssd' },
      qos: { iops: 500, bandwidthBytes: 100 * 1024 ** 2 },
    });

    const ls = await polly(['profile', 'ls']);
    expect(ls.stdout).toMatch(/^NAME\s+MODE\s+MIN\s+MAX\s+ACCESS\s+POOLS\s+SELECTOR\s+SERVICES\s+AGE$/m);
    expect(ls.stdout).toMatch(/^gold\s+filesystem\s+1\.0 GiB\s+100\.0 GiB\s+RWO,RWX\s+-\s+tier=ssd\s+-\s+\d+s$/m);

    const updated = await polly(['profile', 'update', 'gold', '--description', 'fast disks', '--service', 'alice', '--force']);
    expect(updated.stdout).toMatch(/Description:\s+fast disks/);
    expect(updated.stdout).toMatch(/Services:\s+alice/);
    expect(updated.stdout).toMatch(/Access modes:\s+RWO,RWX/); // the rest is kept

    expect((await polly(['profile', 'rm', 'gold'])).stdout.trim()).toBe('deleted profile gold');
    const gone = await polly(['profile', 'get', 'gold']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^polly: \w+: /);
  });

  it('rejects a bad access mode and an empty update as usage errors', async () => {
    const bad = await polly(['profile', 'create', 'x', '--access-mode', 'RWZ']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"RWZ" is not an access mode (RWO, RWOP, ROX, RWX)');
    expect((await polly(['profile', 'update', 'default'])).code).toBe(2);
  });
});

describe('pools', () => {
  it('lists pools with a capacity bar, keeping the columns', async () => {
    const res = await polly(['pool', 'ls']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^NAME\s+DRIVER\s+STATE\s+TOTAL\s+FREE\s+ALLOCATED\s+VOLUMES\s+USAGE$/m);
    expect(res.stdout).toMatch(/^mem\s+fake\s+enabled\s+10\.0 GiB\s+10\.0 GiB\s+0 B\s+0\s+\[\.{10}\]\s+0%$/m);
  });

  it('creates a fake pool, drains it (explain says so) and removes it', async () => {
    const created = await polly(['pool', 'create', 'fast', '--driver', 'fake', '--param', 'capacityBytes=1073741824', '--zone', 'z1', '--label', 'tier=ssd', '-o', 'json']);
    expect(created.stderr).toBe('');
    expect(json<Pool>(created.stdout)).toMatchObject({ name: 'fast', driver: 'fake', state: 'enabled', labels: { tier: 'ssd' }, topology: { zone: 'z1' } });

    const drained = await polly(['pool', 'update', 'fast', '--state', 'draining', '--label', 'rack=r2', '-o', 'json']);
    expect(json<Pool>(drained.stdout)).toMatchObject({ state: 'draining', labels: { tier: 'ssd', rack: 'r2' }, topology: { zone: 'z1' } });

    const explain = await polly(['placement', 'explain', '--size', '1MiB', '--service', 'alice', '--zone', 'z1']);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/^fast\s+rejected by pool-state\s+pool is draining\s+-\s+-$/m);
    // The zoneless pools are reachable from every zone (src/scheduler/zones.ts), so they still fit.
    expect(explain.stdout).toMatch(/^2 of 3 pools fit: 1 rejected by pool-state \(1 draining\)/m);

    expect((await polly(['pool', 'rm', 'fast'])).stdout.trim()).toBe('removed pool fast');
    expect((await polly(['pool', 'ls'])).stdout).not.toMatch(/^fast\s/m);
    expect((await polly(['pool', 'update', 'mem'])).code).toBe(2);
    expect((await polly(['pool', 'create', 'x', '--driver', 'fake', '--over-subscription', '0.5'])).code).toBe(2);
    for (const param of ['capacity=20GiB', 'bogus=1']) {
      const refused = await polly(['pool', 'create', 'typo', '--driver', 'local', '--param', param]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('INVALID_POOL_PARAMETER');
      expect(refused.stderr).toContain(`"${param.split('=')[0]}"`);
    }
  });

  it('lists unmanaged backend objects', async () => {
    const res = await polly(['pool', 'unmanaged', 'mem', '-o', 'json']);
    expect(res.code).toBe(0);
    expect(json<unknown[]>(res.stdout)).toEqual([]);
  });
});

describe('quotas', () => {
  it('sets limits, keeping those not given, and shows them beside the usage', async () => {
    const set = await polly(['quota', 'set', 'alice', '--max-volumes', '5', '--max-size', '20GiB', '--profile-size', 'default=8GiB', '-o', 'json']);
    expect(set.stderr).toBe('');
    expect(json<Quota>(set.stdout)).toMatchObject({ maxVolumes: 5, maxBytes: 20 * GiB, maxSnapshots: null, profileBytes: { default: 8 * GiB } });

    const again = await polly(['quota', 'set', 'alice', '--max-snapshots', '10', '--max-volumes', 'none', '-o', 'json']);
    expect(json<Quota>(again.stdout)).toMatchObject({ maxVolumes: null, maxBytes: 20 * GiB, maxSnapshots: 10, profileBytes: { default: 8 * GiB } });

    const get = await polly(['quota', 'get', 'alice'], aliceToken);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^RESOURCE\s+USED\s+LIMIT\s+FREE$/m);
    expect(get.stdout).toMatch(/^volumes\s+0\s+unlimited\s+-$/m);
    expect(get.stdout).toMatch(/^size\s+0 B\s+20\.0 GiB\s+20\.0 GiB$/m);
    expect(get.stdout).toMatch(/^snapshots\s+0\s+10\s+10$/m);
    expect(get.stdout).toMatch(/^size of profile default\s+0 B\s+8\.0 GiB\s+8\.0 GiB$/m);
  });

  it('refuses an empty set and bad limits as usage errors; a service may not set its own', async () => {
    expect((await polly(['quota', 'set', 'alice'])).code).toBe(2);
    expect((await polly(['quota', 'set', 'alice', '--max-volumes', 'lots'])).code).toBe(2);
    expect((await polly(['quota', 'set', 'alice', '--profile-size', 'default'])).code).toBe(2);
    const own = await polly(['quota', 'set', 'alice', '--max-volumes', '100'], aliceToken);
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/^polly: FORBIDDEN: /);
  });
});

describe('offers and reservations', () => {
  const offers = async () => json<Offer[]>((await polly(['offer', 'ls', '-o', 'json'], aliceToken)).stdout);

  it('lists the offers, sized by the quota', async () => {
    const ls = await polly(['offer', 'ls'], aliceToken);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^ID\s+SERVICE\s+POOL\s+PROFILE\s+ZONE\s+UP TO\s+EXPIRES$/m);
    expect(ls.stdout).toMatch(/^off-\S+\s+alice\s+mem\s+default\s+-\s+8\.0 GiB\s+in \d+[sm]$/m);
    const filtered = json<Offer[]>((await polly(['offer', 'ls', '--min-size', '9GiB', '-o', 'json'], aliceToken)).stdout);
    expect(filtered).toEqual([]);
  });

  it('accepts an offer and creates a volume from the reservation', async () => {
    const offer = (await offers()).find((o) => o.pool === 'mem');
    expect(offer).toBeDefined();
    const accepted = await polly(['offer', 'accept', offer?.id ?? '', '--size', '1GiB', '-o', 'json'], aliceToken);
    expect(accepted.stderr).toBe('');
    const reservation = json<Reservation>(accepted.stdout);
    expect(reservation).toMatchObject({ offerId: offer?.id, pool: 'mem', sizeBytes: GiB, status: 'active' });

    expect((await polly(['quota', 'get', 'alice'], aliceToken)).stdout).toMatch(/^size\s+0 B \(\+1\.0 GiB reserved\)\s+20\.0 GiB\s+19\.0 GiB$/m);
    expect((await polly(['reservation', 'get', reservation.id], aliceToken)).stdout).toMatch(/Status:\s+active/);

    const created = await polly(['volume', 'create', 'reserved', '--size', '1GiB', '--reservation', reservation.id, '-o', 'json'], aliceToken);
    expect(created.stderr).toBe('');
    const volume = json<Volume>(created.stdout);
    expect(volume).toMatchObject({ name: 'reserved', pool: 'mem', sizeBytes: GiB });

    const ls = await polly(['reservation', 'ls', '--status', 'consumed'], aliceToken);
    expect(ls.stdout).toMatch(new RegExp(`^${reservation.id}\\s+alice\\s+mem\\s+default\\s+1\\.0 GiB\\s+consumed\\s+${volume.id}\\s+-\\s+\\d+s$`, 'm'));
    expect((await polly(['pool', 'ls'])).stdout).toMatch(/^mem\s+fake\s+enabled\s+.*1\.0 GiB\s+1\s+\[#\.{9}\]\s+10%$/m);
  });

  it('releases a reservation', async () => {
    const offer = (await offers()).find((o) => o.pool === 'mem');
    const r = json<Reservation>((await polly(['offer', 'accept', offer?.id ?? '', '--size', '1MiB', '-o', 'json'], aliceToken)).stdout);
    const released = await polly(['reservation', 'rm', r.id], aliceToken);
    expect(released.stdout.trim()).toBe(`released reservation ${r.id}`);
    expect(json<Reservation[]>((await polly(['reservation', 'ls', '--status', 'active', '-o', 'json'], aliceToken)).stdout)).toEqual([]);
  });

  it('declines an offer, which is not made again', async () => {
    const offer = (await offers()).find((o) => o.pool === 'local');
    expect(offer).toBeDefined();
    const declined = await polly(['offer', 'decline', offer?.id ?? ''], aliceToken);
    expect(declined.code).toBe(0);
    expect(declined.stdout).toMatch(/Status:\s+declined/);
    expect((await offers()).map((o) => o.pool)).not.toContain('local');
  });

  it('lets the admin revoke an offer; accepting as admin is refused', async () => {
    const all = json<Offer[]>((await polly(['offer', 'ls', '--service', 'alice', '-o', 'json'])).stdout);
    const offer = all.find((o) => o.pool === 'mem');
    expect((await polly(['offer', 'accept', offer?.id ?? '', '--size', '1MiB'])).code).toBe(1);
    expect((await polly(['offer', 'revoke', offer?.id ?? ''])).stdout).toMatch(/Status:\s+revoked/);
  });
});

describe('placement explain', () => {
  it('shows every pool, the chosen one first, then the summary', async () => {
    const res = await polly(['placement', 'explain', '--size', '1GiB', '--service', 'bob']);
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^POOL\s+VERDICT\s+REASON\s+SCORE\s+RANK$/);
    expect(lines[1]).toMatch(/^(local|mem)\s+chosen\s+.+\s+\d\.\d{3}\s+1$/);
    expect(lines[2]).toMatch(/^(local|mem)\s+passed\s+.+\s+\d\.\d{3}\s+2$/);
    expect(lines.at(-1)).toMatch(/^2 of 2 pools fit; chose (local|mem)$/);

    const pinned = json<Explanation>((await polly(['placement', 'explain', '--size', '1GiB', '--service', 'bob', '--pool', 'mem', '-o', 'json'])).stdout);
    expect(pinned.chosen).toBe('mem');
    const tooBig = await polly(['placement', 'explain', '--size', '20GiB', '--service', 'bob', '--pool', 'mem']);
    expect(tooBig.stdout).toMatch(/^mem\s+rejected by capacity\s/m);
  });

  it('takes the same constraints as volume create', async () => {
    // A pool without a zone is reachable from every zone: a zone requisite no pool names still lands on one.
    const anyZone = await polly(['volume', 'create', 'zoned', '--size', '1MiB', '--service', 'bob', '--zone', 'nowhere', '-o', 'json']);
    expect(anyZone.stderr).toBe('');
    expect(json<Volume>(anyZone.stdout).pool).toMatch(/^(local|mem)$/);
    const res = await polly(['volume', 'create', 'pinned', '--size', '1MiB', '--service', 'bob', '--pool', 'mem', '--anti-affinity', 'app=x', '--size', '20GiB']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/capacity/);
    const ok = await polly(['volume', 'create', 'affine', '--size', '1MiB', '--service', 'bob', '--access-mode', 'rwo', '--prefer-zone', 'z9', '--anti-affinity', 'app=x', '-o', 'json']);
    expect(ok.stderr).toBe('');
    expect(json<Volume>(ok.stdout)).toMatchObject({ name: 'affine', service: 'bob' });
  });
});

describe('sharing and transfer', () => {
  it('offers a volume to other services, lists and revokes the shares, and transfers it', async () => {
    const v = json<Volume>((await polly(['volume', 'create', 'shared', '--size', '1MiB', '-o', 'json'], aliceToken)).stdout);
    const offered = await polly(['volume', 'offer', v.id, '--to', 'bob', '--rw']);
    expect(offered.code).toBe(0);
    expect(offered.stdout).toMatch(new RegExp(`^${v.id}\\s+bob\\s+rw\\s+\\d+s$`, 'm'));

    const shares = json<Share[]>((await polly(['volume', 'shares', v.id, '-o', 'json'], aliceToken)).stdout);
    expect(shares.map((s) => [s.service, s.access])).toEqual([['bob', 'rw']]);

    const revoked = await polly(['volume', 'revoke', v.id, '--from', 'bob']);
    expect(revoked.code).toBe(0);
    expect(revoked.stderr).toBe(`Volume ${v.id} is not shared.\n`);

    const moved = await polly(['volume', 'transfer', v.id, '--to', 'bob', '-o', 'json']);
    expect(json<Volume>(moved.stdout)).toMatchObject({ id: v.id, service: 'bob' });
    expect((await polly(['volume', 'get', v.id], aliceToken)).code).toBe(1);
  });

  it('releases a volume without deleting its data, and imports it back', async () => {
    const v = json<Volume>((await polly(['volume', 'create', 'kept', '--size', '1MiB', '--pool', 'local', '-o', 'json'], aliceToken)).stdout);
    expect((await polly(['volume', 'release', v.id])).stdout.trim()).toBe(`released volume ${v.id}`);
    const unmanaged = json<Array<{ backendId: string }>>((await polly(['pool', 'unmanaged', 'local', '-o', 'json'])).stdout);
    expect(unmanaged).toHaveLength(1);
    const backendId = unmanaged[0]?.backendId ?? '';
    const imported = await polly(['volume', 'import', '--pool', 'local', '--backend-id', backendId, '--service', 'alice', '--name', 'back', '-o', 'json']);
    expect(imported.stderr).toBe('');
    expect(json<Volume>(imported.stdout)).toMatchObject({ name: 'back', service: 'alice', pool: 'local' });
  });
});
