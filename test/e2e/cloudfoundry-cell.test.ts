import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type RunningAgent } from '../../src/agent/run.js';
import { isMountPoint } from '../../src/drivers/system/mounts.js';
import { Cleanup, tempDir } from '../helpers/loopfs.js';
import { startPolly, type TestPolly } from '../helpers/polly.js';

/**
 * A Diego cell, played step by step: the broker binds (what the cloud controller does), then volman on
 * the cell calls the agent's VolumeDriver plugin over its unix socket exactly as
 * cloudfoundry/volman's voldocker plugin does: Plugin.Activate at discovery; for a container,
 * Create{Name: volume_id, Opts: mount_config} then Mount{Name: volume_id} (no ID); later
 * Unmount{Name: volume_id}; at start-up the purger's List. The agent holds a node credential only.
 */
const cleanup = new Cleanup();
const PASS = { 'space-a': 'space-a-broker-password', 'space-b': 'space-b-broker-password' } as const;
type Space = keyof typeof PASS;
let polly: TestPolly;
let work: string;
let poolPath: string;
let cell: RunningAgent;
let cellSocket: string;
/** Each space's registration has its own offering and plan ids. */
const ids: Record<Space, { serviceId: string; planId: string }> = { 'space-a': { serviceId: '', planId: '' }, 'space-b': { serviceId: '', planId: '' } };

async function osb(space: Space, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) {
  const res = await request(`${polly.server.osbUrl}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${space}:${PASS[space]}`).toString('base64')}`,
      'x-broker-api-version': '2.17',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, body: (text === '' ? null : JSON.parse(text)) as any };
}

/** One VolumeDriver call on a plugin socket, the way dockerdriver's HTTP client sends it. */
function volman(socket: string, call: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(
      { socketPath: socket, path: `/${call}`, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Provision (async, polled) and bind an app in one space; returns the binding's volume mount. */
async function bindApp(space: Space, appGuid: string, mount: string) {
  const { serviceId, planId } = ids[space];
  const instance = randomUUID();
  const p = await osb(space, 'PUT', `/v2/service_instances/${instance}?accepts_incomplete=true`, {
    service_id: serviceId,
    plan_id: planId,
    organization_guid: 'org',
    space_guid: space,
    parameters: { size: '32MiB' },
  });
  expect(p.status).toBe(202);
  for (let i = 0; i < 200; i++) {
    const op = await osb(space, 'GET', `/v2/service_instances/${instance}/last_operation?operation=${p.body.operation}`);
    if (op.body.state === 'succeeded') break;
    expect(op.body.state).toBe('in progress');
    await new Promise((r) => setTimeout(r, 20));
  }
  const binding = randomUUID();
  const b = await osb(space, 'PUT', `/v2/service_instances/${instance}/service_bindings/${binding}`, {
    service_id: serviceId,
    plan_id: planId,
    bind_resource: { app_guid: appGuid },
    parameters: { mount },
  });
  expect(b.status).toBe(201);
  const vm = b.body.volume_mounts[0] as { driver: string; container_dir: string; mode: string; device_type: string; device: { volume_id: string; mount_config: Record<string, unknown> } };
  return { instance, binding, vm };
}

async function unbind(space: Space, instance: string, binding: string): Promise<void> {
  const { serviceId, planId } = ids[space];
  expect((await osb(space, 'DELETE', `/v2/service_instances/${instance}/service_bindings/${binding}?service_id=${serviceId}&plan_id=${planId}`)).status).toBe(200);
}

beforeAll(async () => {
  const poolDir = await tempDir(cleanup);
  poolPath = join(poolDir, 'pool');
  polly = await startPolly({
    pools: [{ name: 'cfpool', driver: 'local', path: poolPath, topology: { shared: true } }],
    profiles: [{ name: 'gold', minBytes: 2 ** 20, maxBytes: 2 ** 30, pools: ['cfpool'] }],
    osb: {
      listen: '127.0.0.1:0',
      credentials: [
        { username: 'space-a', password: PASS['space-a'], service: 'space-a' },
        { username: 'space-b', password: PASS['space-b'], service: 'space-b' },
      ],
    },
  });
  cleanup.add(() => polly.stop());
  for (const space of ['space-a', 'space-b'] as const) {
    const catalog = await osb(space, 'GET', '/v2/catalog');
    ids[space] = { serviceId: catalog.body.services[0].id, planId: catalog.body.services[0].plans.find((p: { name: string }) => p.name === 'gold').id };
  }

  // The cell's agent: a node credential (not any space's token), the plugin on a socket of its own.
  const cred = await polly.call('POST', `/v1/nodes/cell-${process.pid}/credentials`, { body: { description: 'diego cell' } });
  expect(cred.status).toBe(201);
  work = await tempDir(cleanup);
  cellSocket = join(work, 'voldrivers', 'polly.sock');
  cell = await runAgent({
    serverUrl: polly.url,
    token: cred.body.token,
    nodeId: `cell-${process.pid}`,
    hostname: 'cell.test',
    topology: {},
    stateDir: join(work, 'var-vcap-data-polly'),
    dataDir: polly.dataDir,
    heartbeatSeconds: 3600,
    dockerSocket: cellSocket,
    dockerVolumeNames: 'id',
    log: pino({ level: 'silent' }),
  });
  cleanup.add(() => cell.stop());
});

afterAll(async () => {
  await cleanup.run();
});

describe('a Diego cell mounting Polly volumes through volman', () => {
  it('bind → volume_mounts → Create+Mount as volman → write → unbind → Unmount', async () => {
    const { instance, binding, vm } = await bindApp('space-a', 'app-a', '/data');
    expect(vm).toMatchObject({ driver: 'polly', container_dir: '/data', mode: 'rw', device_type: 'shared' });
    const volumeId = vm.device.volume_id;

    expect(await volman(cellSocket, 'Plugin.Activate')).toEqual({ Implements: ['VolumeDriver'] });
    // The purger's List at volman start: the cell sees exactly the volumes it may mount, by id.
    const listed = await volman(cellSocket, 'VolumeDriver.List');
    expect((listed.Volumes as Array<{ Name: string }>).map((v) => v.Name)).toEqual([volumeId]);

    expect(await volman(cellSocket, 'VolumeDriver.Create', { Name: volumeId, Opts: vm.device.mount_config })).toEqual({ Err: '' });
    const mounted = await volman(cellSocket, 'VolumeDriver.Mount', { Name: volumeId });
    expect(mounted.Err).toBe('');
    const mountpoint = mounted.Mountpoint as string;
    expect(await isMountPoint(mountpoint)).toBe(true);

    // The app writes through the mount; the bytes are in the volume's directory in the pool.
    await writeFile(join(mountpoint, 'hello.txt'), 'written by app-a\n');
    const att = await polly.call('GET', `/v1/attachments?volume=${volumeId}`);
    expect(att.body.items).toHaveLength(1);
    expect(att.body.items[0]).toMatchObject({ service: 'space-a', node: `cell-${process.pid}`, accessMode: 'RWX' });
    expect((await polly.call('GET', `/v1/volumes/${volumeId}`)).body.status).toBe('attached');
    expect(await readFile(join(poolPath, 'volumes', volumeId, 'hello.txt'), 'utf8')).toBe('written by app-a\n');

    // A second app instance on the same cell mounts too; one Unmount leaves the other's mount alone.
    expect(await volman(cellSocket, 'VolumeDriver.Create', { Name: volumeId, Opts: vm.device.mount_config })).toEqual({ Err: '' });
    expect((await volman(cellSocket, 'VolumeDriver.Mount', { Name: volumeId })).Mountpoint).toBe(mountpoint);
    expect(await volman(cellSocket, 'VolumeDriver.Unmount', { Name: volumeId })).toEqual({ Err: '' });
    expect(await isMountPoint(mountpoint)).toBe(true);
    expect(await readFile(join(mountpoint, 'hello.txt'), 'utf8')).toBe('written by app-a\n');

    // Unbind: running containers keep their mount until volman unmounts; no new mount is allowed.
    await unbind('space-a', instance, binding);
    expect(await volman(cellSocket, 'VolumeDriver.Unmount', { Name: volumeId })).toEqual({ Err: '' });
    expect(await isMountPoint(mountpoint)).toBe(false);
    expect((await polly.call('GET', `/v1/attachments?volume=${volumeId}`)).body.items).toHaveLength(0);
    const again = await volman(cellSocket, 'VolumeDriver.Create', { Name: volumeId, Opts: vm.device.mount_config });
    expect(again.Err).toMatch(/not found|no such volume/);
    expect((await volman(cellSocket, 'VolumeDriver.Mount', { Name: volumeId })).Err).not.toBe('');
    // The data outlives the binding.
    expect(await readFile(join(poolPath, 'volumes', volumeId, 'hello.txt'), 'utf8')).toBe('written by app-a\n');
  });

  it('one cell serves the bound volumes of two spaces, each attachment its own space’s', async () => {
    const a = await bindApp('space-a', 'app-a2', '/data');
    const b = await bindApp('space-b', 'app-b', '/srv');
    for (const { vm } of [a, b]) {
      expect((await volman(cellSocket, 'VolumeDriver.Create', { Name: vm.device.volume_id, Opts: vm.device.mount_config })).Err).toBe('');
      const m = await volman(cellSocket, 'VolumeDriver.Mount', { Name: vm.device.volume_id });
      expect(m.Err).toBe('');
      await writeFile(join(m.Mountpoint as string, 'owner'), vm.device.volume_id);
    }
    const atts = (await polly.call('GET', `/v1/attachments?node=cell-${process.pid}`)).body.items as Array<{ volumeId: string; service: string }>;
    expect(atts.find((x) => x.volumeId === a.vm.device.volume_id)?.service).toBe('space-a');
    expect(atts.find((x) => x.volumeId === b.vm.device.volume_id)?.service).toBe('space-b');
    for (const { vm } of [a, b]) expect((await volman(cellSocket, 'VolumeDriver.Unmount', { Name: vm.device.volume_id })).Err).toBe('');
    await unbind('space-a', a.instance, a.binding);
    await unbind('space-b', b.instance, b.binding);
  });

  it('two spaces cannot see or mount each other’s instances', async () => {
    const b = await bindApp('space-b', 'app-b2', '/srv');
    const volumeId = b.vm.device.volume_id;
    // Space A's broker credential does not see B's instance or binding.
    expect((await osb('space-a', 'GET', `/v2/service_instances/${b.instance}`)).status).toBe(404);
    expect((await osb('space-a', 'GET', `/v2/service_instances/${b.instance}/service_bindings/${b.binding}`)).status).toBe(404);
    // An agent acting with space A's own service token cannot mount B's volume, even knowing its id.
    const tokA = await polly.call('POST', '/v1/services/space-a/tokens', { body: {} });
    const spaceAgentDir = await tempDir(cleanup);
    const spaceSocket = join(spaceAgentDir, 'polly.sock');
    const spaceAgent = await runAgent({
      serverUrl: polly.url,
      token: tokA.body.token,
      nodeId: `space-a-host-${process.pid}`,
      hostname: 'space-a-host.test',
      topology: {},
      stateDir: join(spaceAgentDir, 'agent'),
      dataDir: polly.dataDir,
      heartbeatSeconds: 3600,
      dockerSocket: spaceSocket,
      dockerVolumeNames: 'id',
      log: pino({ level: 'silent' }),
    });
    try {
      expect((await volman(spaceSocket, 'VolumeDriver.Create', { Name: volumeId, Opts: b.vm.device.mount_config })).Err).toMatch(/no such volume/);
      expect((await volman(spaceSocket, 'VolumeDriver.Mount', { Name: volumeId })).Err).toMatch(/no such volume/);
    } finally {
      await spaceAgent.stop();
    }
    expect((await polly.call('GET', `/v1/attachments?volume=${volumeId}`)).body.items).toHaveLength(0);
    await unbind('space-b', b.instance, b.binding);
  });

  it('the node credential mounts nothing unbound and manages nothing', async () => {
    const cred = await polly.call('POST', `/v1/nodes/other-cell-${process.pid}/credentials`, { body: {} });
    const asNode = { token: cred.body.token as string };
    // An unbound volume of a space, created through REST: not mountable by any cell.
    const svc = await polly.call('POST', '/v1/services/space-a/tokens', { body: {} });
    const v = await polly.call('POST', '/v1/volumes', { token: svc.body.token, body: { name: `unbound-${process.pid}`, sizeBytes: 2 ** 20, profile: 'gold' } });
    expect(v.status).toBe(201);
    expect((await polly.call('POST', '/v1/nodes', { ...asNode, body: { id: `other-cell-${process.pid}`, hostname: 'o.test' } })).status).toBe(200);
    expect((await polly.call('GET', `/v1/volumes/${v.body.id}`, asNode)).status).toBe(404);
    const attach = await polly.call('POST', `/v1/volumes/${v.body.id}/attachments`, { ...asNode, body: { node: `other-cell-${process.pid}`, accessMode: 'RWO' } });
    expect(attach.status).toBe(404);
    // Only its own node; nothing an operator or a tenant does.
    expect((await polly.call('POST', `/v1/nodes/cell-${process.pid}/heartbeat`, asNode)).status).toBe(403);
    expect((await polly.call('POST', '/v1/nodes', { ...asNode, body: { id: `cell-${process.pid}`, hostname: 'x' } })).status).toBe(403);
    expect((await polly.call('GET', `/v1/attachments?node=cell-${process.pid}`, asNode)).status).toBe(403);
    for (const [method, path, body] of [
      ['GET', '/v1/services', undefined],
      ['POST', '/v1/volumes', { name: 'x', sizeBytes: 1024 }],
      ['DELETE', `/v1/volumes/${v.body.id}`, undefined],
      ['GET', '/v1/events', undefined],
      ['POST', `/v1/nodes/x/credentials`, {}],
    ] as const) {
      expect((await polly.call(method, path, { ...asNode, body })).status, `${method} ${path}`).toBe(403);
    }
  });
});
