import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CINDER_PARAMETERS, CinderDriver } from '../../src/drivers/cinder/cinder-driver.js';
import { CINDER_CONTEXT } from '../../src/drivers/cinder/connection-info.js';
import { RBD_CONTEXT } from '../../src/drivers/rbd/rbd-names.js';
import { createDriver, createNodeHalf } from '../../src/drivers/registry.js';
import { nodeSecrets, redactParameters } from '../../src/drivers/system/pool-parameters.js';
import { type CinderService, startCinder, waitForCinderStatus } from '../helpers/cinder.js';
import { keystoneAvailable } from '../helpers/keystone.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';

/**
 * The cinder driver against a real Cinder (started once for this file): attachments, publish context,
 * error mapping, import. Cinder validates tokens at a private Keystone, and the driver authenticates
 * there with a password, finding Cinder in the catalog (noauth only when Keystone is not installed).
 */

const withKeystone = await keystoneAvailable();

const GiB = 1024 ** 3;
const cleanup = new Cleanup();
let c: CinderService;
let parameters: Record<string, string>;
let driver: CinderDriver;
let work: string;
let seq = 0;
const newId = () => `vol-cinder-t-${++seq}-${randomBytes(3).toString('hex')}`;
const connector = (node: string) => ({ node, hostname: `${node}.test`, addresses: ['127.0.0.1'] });

interface CinderVolumeView {
  id: string;
  status: string;
  volume_type: string;
  user_id: string;
  attachments: Array<{ attachment_id: string; host_name: string }>;
}

async function cinderVolume(backendId: string): Promise<CinderVolumeView> {
  const name = backendId.includes('-') && /^[0-9a-f-]{36}$/.test(backendId) ? undefined : `polly-volume-${backendId}`;
  if (name === undefined) return (await c.api<{ volume: CinderVolumeView }>('GET', `/volumes/${backendId}`)).volume;
  const list = (await c.api<{ volumes: Array<CinderVolumeView & { name: string }> }>('GET', `/volumes/detail?name=${name}`)).volumes.filter((v) => v.name === name);
  if (list.length !== 1) throw new Error(`expected one Cinder volume named ${name}, found ${list.length}`);
  return list[0]!;
}

beforeAll(async () => {
  c = await startCinder(cleanup, { keystone: withKeystone });
  console.log(`cinder fixture up in ${c.timings.totalMs} ms (${JSON.stringify(c.timings)}${c.keystone ? `; keystone ${JSON.stringify(c.keystone.service.timings)}` : ''})`);
  work = await tempDir(cleanup);
  const auth: Record<string, string> = c.keystone
    ? { auth: 'password', authUrl: c.keystone.service.authUrl, username: c.keystone.username, password: c.keystone.password, projectName: c.keystone.projectName, region: c.keystone.service.region }
    : { auth: 'noauth', endpoint: c.endpoint.slice(0, -(c.projectId.length + 1)), projectId: c.projectId };
  parameters = {
    ...auth,
    volumeType: c.volumeTypes.ceph,
    nodeKey: c.rbdKey,
    mapper: 'rbd-fuse',
    timeoutSeconds: '120',
  };
  driver = new CinderDriver({ poolName: 'cinder-t', parameters, dataDir: join(work, 'server') });
  cleanup.add(() => driver.close());
  await driver.init();
  // Cinder, RabbitMQ and Ceph come up in 20-60 s, longer while other suites load the machine.
}, 300_000);
afterAll(() => cleanup.run());

/** A node half as an agent builds it (from redacted parameters), staging from what the controller half attached. */
function nodeHalf(name: string) {
  const half = createNodeHalf('cinder', { poolName: 'cinder-t', parameters: redactParameters(CINDER_PARAMETERS, parameters), dataDir: join(work, name) });
  cleanup.add(async () => {
    for (const r of await half.node.listNodeResources()) await half.node.releaseNodeResources(r.backendId);
  });
  return {
    half,
    async stage(id: string) {
      const publishContext = await driver.attach({ backendId: id, volumeId: id, node: connector(name), accessMode: 'RWO', readOnly: false });
      const stagingPath = join(work, name, 'staging', id);
      await half.init();
      await half.node.stage({ backendId: id, volumeId: id, stagingPath, volumeMode: 'filesystem', fsType: 'ext4', publishContext, secrets: nodeSecrets(CINDER_PARAMETERS, parameters) });
      return stagingPath;
    },
    async unstage(id: string, stagingPath: string) {
      await half.node.unstage({ backendId: id, volumeId: id, stagingPath });
      await driver.detach({ backendId: id, volumeId: id, node: connector(name) });
    },
  };
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

describe('attachments', () => {
  it('answers the RBD connection info as the publish context, idempotently per node, with no secret in it', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const v = await cinderVolume(id);
    const ctx = await driver.attach({ backendId: id, volumeId: id, node: connector('node-a'), accessMode: 'RWO', readOnly: false });
    expect(ctx).toMatchObject({
      [CINDER_CONTEXT.driverVolumeType]: 'rbd',
      [CINDER_CONTEXT.volumeId]: v.id,
      [RBD_CONTEXT.pool]: c.rbdPool,
      [RBD_CONTEXT.image]: `volume-${v.id}`,
      [RBD_CONTEXT.monHost]: `[v2:${c.ceph.monAddress}]`,
      [RBD_CONTEXT.user]: 'cinder',
    });
    expect(JSON.stringify(ctx)).not.toContain(c.rbdKey);
    // Cinder holds one completed attachment, for the connector's host.
    const attached = await cinderVolume(id);
    expect(attached.status).toBe('in-use');
    expect(attached.attachments).toEqual([expect.objectContaining({ attachment_id: ctx[CINDER_CONTEXT.attachmentId], host_name: 'node-a' })]);
    // A repeat finds that attachment instead of making a second.
    expect(await driver.attach({ backendId: id, volumeId: id, node: connector('node-a'), accessMode: 'RWO', readOnly: false })).toEqual(ctx);
    expect((await cinderVolume(id)).attachments).toHaveLength(1);
    // An attached volume is not deleted.
    await expect(driver.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('node-a') });
    await driver.detach({ backendId: id, volumeId: id, node: connector('node-a') });
    await driver.detach({ backendId: id, volumeId: id, node: connector('node-a') });
    const detached = await cinderVolume(id);
    expect(detached.status).toBe('available');
    expect(detached.attachments).toEqual([]);
    await driver.delete(id);
  });

  it('moves a volume between nodes: data written on one is read back on the other', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const a = nodeHalf('host-a');
    const b = nodeHalf('host-b');
    const data = randomBytes(4 * 1024 * 1024);
    const stagedA = await a.stage(id);
    await writeDurably(join(stagedA, 'data.bin'), data);
    await a.unstage(id, stagedA);
    expect((await cinderVolume(id)).attachments).toEqual([]);
    const stagedB = await b.stage(id);
    expect((await cinderVolume(id)).attachments).toEqual([expect.objectContaining({ host_name: 'host-b' })]);
    expect((await readFile(join(stagedB, 'data.bin'))).equals(data)).toBe(true);
    await b.unstage(id, stagedB);
    await driver.delete(id);
  });

  it('refuses a transport the nodes cannot map with UNSUPPORTED naming its driver_volume_type', async () => {
    const id = newId();
    // The fixture's second backend is Cinder's own fake driver, whose connection info is iSCSI.
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4', parameters: { volumeType: c.volumeTypes.fake } });
    expect((await cinderVolume(id)).volume_type).toBe(c.volumeTypes.fake);
    const node = nodeHalf('host-iscsi');
    await expect(node.stage(id)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('driver_volume_type "iscsi"'), details: { driverVolumeType: 'iscsi' } });
    const ctx = await driver.attach({ backendId: id, volumeId: id, node: connector('host-iscsi'), accessMode: 'RWO', readOnly: false });
    expect(ctx[CINDER_CONTEXT.driverVolumeType]).toBe('iscsi');
    await driver.detach({ backendId: id, volumeId: id, node: connector('host-iscsi') });
    await driver.delete(id);
  });

  it('gives a writable attachment to a new node alone: the attachments Polly made for other nodes go (Cinder allows one)', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4' });
    await driver.attach({ backendId: id, volumeId: id, node: connector('host-old'), accessMode: 'RWO', readOnly: false });
    expect((await cinderVolume(id)).attachments.map((a) => a.host_name)).toEqual(['host-old']);
    // Polly attaches only once it granted the volume to host-new (host-old fenced or gone).
    const ctx = await driver.attach({ backendId: id, volumeId: id, node: connector('host-new'), accessMode: 'RWO', readOnly: false });
    expect(ctx[RBD_CONTEXT.image]).toMatch(/^volume-/);
    expect((await cinderVolume(id)).attachments.map((a) => a.host_name)).toEqual(['host-new']);
    await driver.detach({ backendId: id, volumeId: id, node: connector('host-new') });
    await driver.delete(id);
  });
});

describe('storage-side fence', () => {
  it('is offered when the server has a Ceph key (nodeKey or fenceKey), and not with storageFence: off or no key', () => {
    expect(driver.storageFence).toBeDefined();
    const { nodeKey: _nodeKey, ...keyless } = parameters;
    expect(new CinderDriver({ poolName: 'cinder-nokey', parameters: keyless, dataDir: join(work, 'nokey') }).storageFence).toBeUndefined();
    expect(new CinderDriver({ poolName: 'cinder-nokey', parameters: { ...keyless, fenceKey: c.rbdKey }, dataDir: join(work, 'nokey') }).storageFence).toBeDefined();
    expect(new CinderDriver({ poolName: 'cinder-off', parameters: { ...parameters, storageFence: 'off' }, dataDir: join(work, 'off') }).storageFence).toBeUndefined();
  });

  it('blocklists the node\'s RBD client named by its attachment, deletes that attachment, and the node\'s writes fail', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4' });
    const a = nodeHalf('host-fenced');
    const staged = await a.stage(id);
    await writeDurably(join(staged, 'before.bin'), randomBytes(64 * 1024));
    const image = `${c.rbdPool}/volume-${(await cinderVolume(id)).id}`;
    const watchers = (JSON.parse(await c.ceph.rbd(['status', image, '--format', 'json'])) as { watchers: Array<{ address: string }> }).watchers.map((w) => w.address.replace(/^v[12]:/, ''));
    expect(watchers.length).toBeGreaterThan(0);
    await driver.storageFence!.fenceNode({ backendId: id, node: 'host-fenced', connector: connector('host-fenced') });
    const blocklist = await c.ceph.ceph(['osd', 'blocklist', 'ls']);
    for (const w of watchers) expect(blocklist).toContain(w);
    expect((await cinderVolume(id)).attachments).toEqual([]);
    // A write on the fenced node fails (the ext4 journal or the data write gets EIO from the blocklisted client).
    await expect(writeDurably(join(staged, 'after.bin'), randomBytes(64 * 1024))).rejects.toThrow(/EIO|EROFS|i\/o error|read-only/i);
    // The node half lets go of the fenced mapping.
    for (const r of await a.half.node.listNodeResources()) await a.half.node.releaseNodeResources(r.backendId);
    await driver.delete(id);
  });

  it('refuses to fence a volume Cinder attaches over a transport without a client to blocklist (iSCSI): UNSUPPORTED, attachment kept', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', fsType: 'ext4', parameters: { volumeType: c.volumeTypes.fake } });
    await driver.attach({ backendId: id, volumeId: id, node: connector('host-iscsi-f'), accessMode: 'RWO', readOnly: false });
    await expect(driver.storageFence!.fenceNode({ backendId: id, node: 'host-iscsi-f', connector: connector('host-iscsi-f') })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('driver_volume_type "iscsi"'),
    });
    expect((await cinderVolume(id)).attachments.map((x) => x.host_name)).toEqual(['host-iscsi-f']);
    await driver.detach({ backendId: id, volumeId: id, node: connector('host-iscsi-f') });
    await driver.delete(id);
  });
});

describe('volume types, QoS and capacity', () => {
  it('puts a volume with QoS in a derived type whose QoS spec Cinder applies as librbd image QoS', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', qos: { iops: 500, bandwidthBytes: 10 * 1024 * 1024 } });
    const v = await cinderVolume(id);
    expect(v.volume_type).toBe(`polly-${c.volumeTypes.ceph}-qos-500-10485760`);
    const image = `${c.rbdPool}/volume-${v.id}`;
    const qos = JSON.parse(await c.ceph.rbd(['config', 'image', 'list', image, '--format', 'json'])) as Array<{ name: string; value: string; source: string }>;
    const set = Object.fromEntries(qos.filter((e) => e.source === 'image').map((e) => [e.name, e.value]));
    expect(set).toMatchObject({ rbd_qos_iops_limit: '500', rbd_qos_bps_limit: '10485760' });
    // A second volume with the same limits reuses the type.
    const id2 = newId();
    await driver.create({ volumeId: id2, sizeBytes: GiB, volumeMode: 'filesystem', qos: { iops: 500, bandwidthBytes: 10 * 1024 * 1024 } });
    const types = (await c.api<{ volume_types: Array<{ name: string }> }>('GET', '/types?is_public=None')).volume_types.filter((t) => t.name.includes('qos-500-'));
    expect(types).toHaveLength(1);
    await driver.delete(id);
    await driver.delete(id2);
  });

  it('reports the capacity of the volume type\'s backend pools, and unknown for a backend that cannot tell', async () => {
    const pools = (await c.api<{ pools: Array<{ name: string; capabilities: { total_capacity_gb: number; free_capacity_gb: number } }> }>('GET', '/scheduler-stats/get_pools?detail=true')).pools;
    const ceph = pools.find((p) => p.name.endsWith('@ceph#ceph'))!;
    const cap = await driver.capacity();
    expect(cap.unknown).toBeUndefined();
    expect(cap.totalBytes).toBe(Math.round(ceph.capabilities.total_capacity_gb * GiB));
    const fake = new CinderDriver({ poolName: 'cinder-fake', parameters: { ...parameters, volumeType: c.volumeTypes.fake }, dataDir: join(work, 'fake') });
    expect(await fake.capacity()).toEqual({ totalBytes: 0, freeBytes: 0, unknown: true });
  });
});

describe('error mapping', () => {
  it('maps a create Cinder cannot place to NO_CAPACITY with Cinder\'s reason, and cleans the failed volume up on retry', async () => {
    await c.api('POST', '/types', { volume_type: { name: 'polly-nowhere', extra_specs: { volume_backend_name: 'nowhere' } } });
    const id = newId();
    const create = () => driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem', parameters: { volumeType: 'polly-nowhere' } });
    await expect(create()).rejects.toMatchObject({ code: 'NO_CAPACITY', message: expect.stringMatching(/is error: .*backend/i) });
    const failed = await cinderVolume(id);
    expect(failed.status).toBe('error');
    await expect(create()).rejects.toMatchObject({ code: 'NO_CAPACITY' });
    // The first failed volume was removed before the retry made a new one.
    await expect(c.api('GET', `/volumes/${failed.id}`)).rejects.toThrow(/404/);
    await driver.delete(id);
  });

  it('refuses unknown volume types, missing sources and malformed parameters with stable codes', async () => {
    await expect(driver.create({ volumeId: newId(), sizeBytes: GiB, volumeMode: 'filesystem', parameters: { volumeType: 'no-such-type' } })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(driver.create({ volumeId: newId(), sizeBytes: GiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: 'snap-missing' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(driver.attach({ backendId: 'vol-missing', volumeId: 'vol-missing', node: connector('n'), accessMode: 'RWO', readOnly: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => createDriver('cinder', { poolName: 'p', parameters: { auth: 'password', authUrl: 'https://keystone:5000/v3' }, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'INVALID_POOL_PARAMETER', details: { pool: 'p', key: 'projectId' } }),
    );
    expect(redactParameters(CINDER_PARAMETERS, { auth: 'password', password: 'hunter2', applicationCredentialSecret: 's', nodeKey: 'k' })).toEqual({
      auth: 'password',
      password: '(secret)',
      applicationCredentialSecret: '(secret)',
      nodeKey: '(secret)',
    });
    expect(nodeSecrets(CINDER_PARAMETERS, { password: 'hunter2', nodeKey: 'k' })).toEqual({ nodeKey: 'k' });
  });

  it('answers UNAVAILABLE when Cinder does not answer, and init says the pool is not usable', async () => {
    const dead = new CinderDriver({ poolName: 'cinder-dead', parameters: { ...parameters, endpoint: 'http://127.0.0.1:1/v3' }, dataDir: join(work, 'dead') });
    await expect(dead.list()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(dead.init()).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('Cinder is not usable') });
  });

  it('refuses to delete a snapshot that restored volumes still depend on, with INVALID_STATE', async () => {
    const id = newId();
    await driver.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem' });
    const snap = `snap-cinder-t-${randomBytes(3).toString('hex')}`;
    await driver.snapshot(id, snap);
    const restored = newId();
    await driver.create({ volumeId: restored, sizeBytes: GiB, volumeMode: 'filesystem', source: { kind: 'snapshot', backendId: snap } });
    await expect(driver.deleteSnapshot(snap)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await driver.delete(restored);
    await driver.deleteSnapshot(snap);
    await driver.delete(id);
  });
});

describe('import and release', () => {
  it('lists a Cinder volume Polly did not make by its Cinder id, and attaches and stages it by that id', async () => {
    const made = await c.api<{ volume: { id: string } }>('POST', '/volumes', { volume: { size: 1, name: 'legacy-data', volume_type: c.volumeTypes.ceph } });
    await waitForCinderStatus(c, 'volume', made.volume.id, 'available');
    const listed = await driver.list();
    expect(listed).toContainEqual({ backendId: made.volume.id, kind: 'volume', sizeBytes: GiB });
    const node = nodeHalf('host-import');
    const staged = await node.stage(made.volume.id);
    await writeDurably(join(staged, 'imported.txt'), Buffer.from('hello'));
    await node.unstage(made.volume.id, staged);
    expect(await driver.expand(made.volume.id, 2 * GiB)).toEqual({ sizeBytes: 2 * GiB });
    // Released (forgotten by Polly), the volume is still in Cinder, and listed again as unmanaged.
    expect((await driver.list()).map((o) => o.backendId)).toContain(made.volume.id);
    await driver.delete(made.volume.id);
    expect((await driver.list()).map((o) => o.backendId)).not.toContain(made.volume.id);
  });
});

describe.skipIf(!withKeystone)(`Keystone v3${withKeystone ? '' : ' (skipped: keystone-manage, uwsgi or its python3 plugin is not installed; run scripts/pretest.sh)'}`, () => {
  const keystone = () => c.keystone!;
  const keystoneDriver = (name: string, auth: Record<string, string>) => {
    const { auth: _a, username: _u, password: _p, projectName: _n, ...rest } = parameters;
    const d = new CinderDriver({ poolName: name, parameters: { ...rest, ...auth }, dataDir: join(work, name) });
    cleanup.add(() => d.close());
    return d;
  };
  const appCredential = () => ({ auth: 'application-credential', authUrl: keystone().service.authUrl, applicationCredentialId: keystone().applicationCredential.id, applicationCredentialSecret: keystone().applicationCredential.secret });
  const password = (username: string, pw: string) => ({ auth: 'password', authUrl: keystone().service.authUrl, username, password: pw, projectName: keystone().projectName });

  it('Cinder validates tokens: a noauth token is refused with 401, a Keystone token of the project is accepted', async () => {
    const res = await fetch(`${c.endpoint}/volumes`, { headers: { 'X-Auth-Token': `admin:${c.projectId}` } });
    expect(res.status).toBe(401);
    const token = await keystone().service.passwordToken(keystone().username, keystone().password, c.projectId);
    expect((await fetch(`${c.endpoint}/volumes`, { headers: { 'X-Auth-Token': token } })).status).toBe(200);
    // The catalog's endpoint is the fixture's cinder-api, with the project filled in.
    expect(keystone().endpointTemplate).toBe(`${c.endpoint.slice(0, -c.projectId.length)}%(project_id)s`);
  });

  for (const kind of ['password', 'application-credential'] as const) {
    it(`creates and deletes a volume with auth ${kind}, at the endpoint from the catalog, as the Keystone user`, async () => {
      const d = keystoneDriver(`cinder-ks-${kind}`, kind === 'password' ? password(keystone().username, keystone().password) : appCredential());
      const t0 = Date.now();
      await d.init();
      const initMs = Date.now() - t0;
      const id = newId();
      await d.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem' });
      const createMs = Date.now() - t0 - initMs;
      const v = await cinderVolume(id);
      expect(v.status).toBe('available');
      expect(v.user_id).toBe(keystone().userId);
      await d.delete(id);
      await expect(cinderVolume(id)).rejects.toThrow(/found 0/);
      console.log(`keystone ${kind}: init (token + catalog + first call) ${initMs} ms, create 1 GiB ${createMs} ms, volume ${v.id} user_id ${v.user_id} = the Keystone user`);
    });
  }

  it('refuses a wrong password, a wrong application credential secret and a region without Cinder with BACKEND_FAILED naming Keystone', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['cinder-ks-badpw', password(keystone().username, 'wrong'), /^pool cinder-ks-badpw: Keystone refused the password credentials \(HTTP 401\)/],
      ['cinder-ks-badsecret', { ...appCredential(), applicationCredentialSecret: 'wrong' }, /^pool cinder-ks-badsecret: Keystone refused the application-credential credentials \(HTTP 401\)/],
      [
        'cinder-ks-region',
        { ...password(keystone().username, keystone().password), region: 'Elsewhere' },
        /^pool cinder-ks-region: the Keystone catalog has no block-storage v3 endpoint \(interface public, region Elsewhere\); set the pool parameter endpoint$/,
      ],
    ];
    for (const [name, auth, message] of cases) {
      const err = await keystoneDriver(name, auth).list().then(() => undefined, (e: unknown) => e as { code: string; message: string });
      console.log(`keystone ${name}: ${err?.code} ${err?.message}`);
      expect(err).toMatchObject({ code: 'BACKEND_FAILED', message: expect.stringMatching(message) });
    }
  });

  it('authenticates again, once, when Keystone revoked its token mid-run, and the call succeeds', async () => {
    // A user of its own: resetting a password makes Keystone revoke every token of that user.
    const ks = keystone().service;
    const name = `polly-revoke-${randomBytes(3).toString('hex')}`;
    const pw = randomBytes(12).toString('hex');
    const userId = (await ks.api<{ user: { id: string } }>('POST', '/users', { user: { name, password: pw, domain_id: 'default' } })).user.id;
    const roles = (await ks.api<{ roles: Array<{ id: string; name: string }> }>('GET', '/roles')).roles;
    for (const r of roles.filter((x) => x.name === 'admin' || x.name === 'member')) await ks.api('PUT', `/projects/${c.projectId}/users/${userId}/roles/${r.id}`);
    const d = keystoneDriver('cinder-ks-revoke', password(name, pw));
    await d.list();
    const before = await ks.passwordToken(name, pw, c.projectId);
    expect((await fetch(`${c.endpoint}/volumes`, { headers: { 'X-Auth-Token': before } })).status).toBe(200);
    await ks.api('PATCH', `/users/${userId}`, { user: { password: pw } });
    // Keystone's revocation events have a resolution of a second: a token issued in the same second is revoked too.
    await new Promise((r) => setTimeout(r, 1_100));
    // Cinder sees it at once (the fixture's keystonemiddleware caches no validation).
    expect((await fetch(`${c.endpoint}/volumes`, { headers: { 'X-Auth-Token': before } })).status).toBe(401);
    // The driver still holds its revoked token (valid for an hour by its expiry): Cinder answers 401, it authenticates again.
    const id = newId();
    const t0 = Date.now();
    await d.create({ volumeId: id, sizeBytes: GiB, volumeMode: 'filesystem' });
    console.log(`keystone revoke: a token of the user before the reset → Cinder 200, after → 401; the driver's create after the revocation ${Date.now() - t0} ms`);
    expect((await cinderVolume(id)).user_id).toBe(userId);
    await d.delete(id);
  });
});
