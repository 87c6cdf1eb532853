import { mkdir, readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateVolumeRequest } from '../../src/core/ports/driver.js';
import { type CapacityTiming, CsiDriver } from '../../src/drivers/csi/csi-driver.js';
import { startPollyCsiPlugin, type PollyCsiPlugin } from '../helpers/csi-plugin.js';
import { newService, startPolly } from '../helpers/polly.js';
import { Cleanup, createLoopFs, tempDir } from '../helpers/loopfs.js';

/**
 * Faults between the `csi` driver and a real plugin (a separate Polly process over btrfs): the plugin
 * killed and restarted mid-call, calls slower than their deadline, and connections refused
 * (UNAVAILABLE). Every case must end with exactly one backend volume per name: the retries are safe
 * only because CreateVolume is idempotent by name.
 */

const MiB = 1024 * 1024;

/**
 * A byte relay in front of the plugin's socket (real gRPC passes through it): it can hold each chunk
 * from the driver for `delayMs`, or refuse the next `refuse` connections outright.
 */
class Relay {
  delayMs = 0;
  refuse = 0;
  connections = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    upstream: string,
  ) {
    this.#server = createServer((client) => {
      this.connections++;
      if (this.refuse > 0) {
        this.refuse--;
        client.destroy();
        return;
      }
      const up = connect(upstream);
      this.#sockets.add(client).add(up);
      // Bytes keep their order when the delay changes: each chunk is due no earlier than the one before.
      let lastDue = 0;
      client.on('data', (d) => {
        const due = Math.max(Date.now() + this.delayMs, lastDue);
        lastDue = due;
        if (due <= Date.now()) up.write(d);
        else setTimeout(() => up.write(d), due - Date.now());
      });
      up.pipe(client);
      const end = () => {
        client.destroy();
        up.destroy();
      };
      client.on('close', end).on('error', end);
      up.on('close', end).on('error', end);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(this.path, resolve));
  }

  /** Drops every relayed connection (the driver's channel must reconnect). */
  dropAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const cleanup = new Cleanup();
let plugin: PollyCsiPlugin;
let relay: Relay;
let dataDir: string;

beforeAll(async () => {
  const fs = await createLoopFs(cleanup, { fsType: 'btrfs', sizeBytes: 512 * MiB });
  const poolPath = join(fs.path, 'pool');
  await mkdir(poolPath);
  const work = await tempDir(cleanup);
  plugin = await startPollyCsiPlugin(work, poolPath);
  cleanup.add(() => plugin.stop());
  relay = new Relay(join(work, 'relay.sock'), plugin.controllerEndpoint.slice('unix://'.length));
  await relay.listen();
  cleanup.add(() => relay.close());
  dataDir = await tempDir(cleanup);
}, 120_000);
afterAll(() => cleanup.run());

function driverWith(params: Record<string, string>, timing: Partial<CapacityTiming> = {}): CsiDriver {
  const driver = new CsiDriver(
    {
      poolName: 'csi-faults',
      parameters: { endpoint: `unix://${relay.path}`, controllerSecrets: JSON.stringify({ pollyToken: plugin.token }), ...params },
      dataDir,
    },
    timing,
  );
  cleanup.add(() => driver.close());
  return driver;
}

const create = (driver: CsiDriver, volumeId: string, extra: Partial<CreateVolumeRequest> = {}) =>
  driver.create({ volumeId, sizeBytes: 32 * MiB, volumeMode: 'filesystem', ...extra });

/** The plugin's volumes of one name, asked over its REST API (not through the driver). */
async function onPlugin(name: string): Promise<Array<{ id: string; status: string }>> {
  const res = await plugin.rest('GET', `/v1/volumes?service=proxy&limit=500`);
  const items = (res.body as { items: Array<{ id: string; name: string; status: string }> }).items;
  return items.filter((v) => v.name === name && v.status !== 'deleted');
}

describe('csi driver faults, against a real plugin', () => {
  it('rides out a plugin restart in the middle of a call, and finds the same volumes after it', async () => {
    const driver = driverWith({ retries: '10', retryBackoffMs: '200' });
    await driver.init();
    const first = await create(driver, 'vol-before-restart');
    await plugin.kill();
    relay.dropAll();
    // The call starts while the plugin is down (UNAVAILABLE), and succeeds once it is back.
    const during = create(driver, 'vol-during-restart');
    await new Promise((r) => setTimeout(r, 1_000));
    await plugin.restart();
    const made = await during;
    expect(made.backendId).toMatch(/^vol-/);
    // A repeat after the restart is the same volume, not a second one.
    expect(await create(driver, 'vol-before-restart')).toEqual(first);
    expect(await onPlugin('vol-during-restart')).toHaveLength(1);
    expect(await onPlugin('vol-before-restart')).toEqual([expect.objectContaining({ id: first.backendId })]);
  }, 120_000);

  it('retries a call slower than its deadline, and the repeat finds what the slow call made', async () => {
    const driver = driverWith({ timeoutSeconds: '1', retries: '4', retryBackoffMs: '100' });
    await driver.init();
    relay.delayMs = 1_500;
    const slow = create(driver, 'vol-slow');
    // The first attempt misses its deadline (the plugin still gets it, late); the next ones go fast.
    setTimeout(() => (relay.delayMs = 0), 1_200);
    const made = await slow;
    expect(await onPlugin('vol-slow')).toEqual([expect.objectContaining({ id: made.backendId })]);
  }, 60_000);

  it('answers UNAVAILABLE naming the call once retries run out on a slow plugin', async () => {
    const driver = driverWith({ timeoutSeconds: '1', retries: '1', retryBackoffMs: '50' });
    await driver.init();
    relay.delayMs = 1_500;
    try {
      await expect(create(driver, 'vol-too-slow')).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('CreateVolume failed after 2 attempts: DEADLINE_EXCEEDED'),
      });
    } finally {
      relay.delayMs = 0;
    }
  }, 60_000);

  it('retries refused connections (UNAVAILABLE) with backoff, then succeeds once', async () => {
    const driver = driverWith({ retries: '6', retryBackoffMs: '100' });
    await driver.init();
    relay.dropAll();
    relay.refuse = 3;
    const before = relay.connections;
    const started = Date.now();
    const made = await create(driver, 'vol-refused');
    expect(relay.connections - before).toBeGreaterThanOrEqual(4);
    // Three backoffs at least: 100 + 200 + 400 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(await onPlugin('vol-refused')).toEqual([expect.objectContaining({ id: made.backendId })]);
  }, 60_000);

  it('maps the plugin’s refusals to Polly codes', async () => {
    const driver = driverWith({ retries: '0' });
    await driver.init();
    await create(driver, 'vol-conflict');
    // The same name with an incompatible size: ALREADY_EXISTS from the plugin.
    await expect(create(driver, 'vol-conflict', { sizeBytes: 256 * MiB })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('ALREADY_EXISTS') });
    await expect(driver.expand('vol-nonexistent', 64 * MiB)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(create(driver, 'vol-too-big', { sizeBytes: 64 * 1024 * MiB })).rejects.toMatchObject({ code: expect.stringMatching(/^(NO_CAPACITY|VALIDATION_FAILED)$/) });
    // A plugin that is not there at all: UNAVAILABLE at init, naming the socket.
    const missing = new CsiDriver({ poolName: 'gone', parameters: { endpoint: `unix://${join(dataDir, 'none.sock')}`, retries: '1', retryBackoffMs: '10' }, dataDir });
    cleanup.add(() => missing.close());
    await expect(missing.init()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('none.sock') });
  }, 60_000);
});

describe('a Polly server whose pool is the csi driver over the plugin', () => {
  it('creates over REST, its agent stages through the plugin’s Node service, and detach and delete reach the plugin', async () => {
    const work = await tempDir(cleanup);
    const stateDir = join(work, 'agent');
    const polly = await startPolly({
      pools: [
        {
          name: 'proxied',
          driver: 'csi',
          parameters: {
            endpoint: plugin.controllerEndpoint,
            nodeEndpoint: plugin.nodeEndpoint,
            controllerSecrets: JSON.stringify({ pollyToken: plugin.token }),
            nodeSecrets: JSON.stringify({ chap: 'node-only' }),
            capacityBytes: String(512 * MiB),
            sizeEnforced: 'true',
          },
        },
      ],
      // The agent is the plugin's node (its NodeGetInfo node id), as a host running both would be.
      agent: { enabled: true, nodeId: plugin.nodeId, stateDir },
    });
    // Stopped at the end of this test, not of the file: its capacity refreshes would reach the plugin
    // while the capacity test below counts the plugin's GetCapacity calls.
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await polly.stop();
    };
    cleanup.add(stop);
    const pool = await polly.call('GET', '/v1/pools/proxied');
    expect(pool.body).toMatchObject({
      driver: 'csi',
      parameters: { controllerSecrets: '(secret)', nodeSecrets: '(secret)' },
      capabilities: { snapshots: true, clones: true, restore: true, expand: 'online', sizeEnforced: true },
      capacity: { totalBytes: 512 * MiB },
    });
    const token = await newService(polly, 'app');
    const created = await polly.call('POST', '/v1/volumes', { token, body: { name: 'through-polly', sizeBytes: 64 * MiB, pool: 'proxied' } });
    expect(created.status).toBe(201);
    const volumeId = created.body.id as string;
    // The plugin holds one volume named after Polly's id: the csi driver's CreateVolume name.
    const [onFarSide] = await onPlugin(volumeId);
    expect(onFarSide).toBeDefined();

    const attached = await polly.call('POST', `/v1/volumes/${volumeId}/attachments`, { body: { node: plugin.nodeId, accessMode: 'RWO' } });
    expect(attached.status).toBe(201);
    expect(attached.body.publishContext).toMatchObject({ 'csi.polly.dev/access-mode': 'RWO', 'csi.publish/polly.csi.dev/fencing-token': '1' });
    // The agent staged it (NodeStageVolume on the plugin's node socket answered), and the plugin's
    // own attachment of its volume is live on its node.
    const heldHere = async () => {
      const state = JSON.parse(await readFile(join(stateDir, 'agent-state.json'), 'utf8').catch(() => '{"held":[]}')) as { held: Array<{ volumeId: string; backendId: string }> };
      return state.held.find((h) => h.volumeId === volumeId);
    };
    const farLive = async () => {
      const res = await plugin.rest('GET', `/v1/attachments?volume=${onFarSide!.id}`);
      return (res.body as { items: Array<{ node: string; status: string }> }).items.filter((a) => a.status === 'live');
    };
    await until(async () => (await heldHere()) !== undefined, 'the agent staged the volume through the plugin');
    expect(await heldHere()).toMatchObject({ backendId: onFarSide!.id });
    expect(await farLive()).toEqual([expect.objectContaining({ node: plugin.nodeId })]);

    expect((await polly.call('DELETE', `/v1/attachments/${attached.body.id as string}`)).status).toBeLessThan(300);
    await until(async () => (await heldHere()) === undefined, 'the agent unstaged it');
    // ControllerUnpublishVolume ended the plugin's attachment.
    await until(async () => (await farLive()).length === 0, 'the plugin detached it');
    expect((await polly.call('DELETE', `/v1/volumes/${volumeId}`, { token })).status).toBeLessThan(300);
    await until(async () => (await onPlugin(volumeId)).length === 0, 'the plugin deleted it');
    await stop();
  }, 120_000);
});

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe('csi driver capacity, against a real plugin', () => {
  /** GetCapacity calls the plugin served so far (its own metrics). */
  async function getCapacityCalls(): Promise<number> {
    const text = await (await fetch(`${plugin.url()}/metrics`, { headers: { authorization: `Bearer ${plugin.adminToken}` } })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('polly_rpc_duration_seconds_count{') && l.includes('method="GetCapacity"'))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }

  it('answers capacity without a GetCapacity per read: kept while fresh, moved by its own creates and deletes, renewed in the background while read', async () => {
    // The answer stands a minute here, so that a slow create on a loaded machine cannot outlive it.
    const driver = driverWith({ capacityBytes: String(400 * MiB) }, { ttlMs: 60_000, renewMs: 59_000 });
    await driver.init();
    const calls0 = await getCapacityCalls();
    const first = await driver.capacity();
    const second = await driver.capacity();
    expect(second).toEqual(first);
    expect((await getCapacityCalls()) - calls0).toBe(1);
    // A create takes its bytes off the kept answer without asking the plugin; its delete gives them back.
    const made = await create(driver, 'vol-capacity');
    const afterCreate = await driver.capacity();
    expect(first.freeBytes - afterCreate.freeBytes).toBe(made.sizeBytes);
    await driver.delete(made.backendId);
    expect((await driver.capacity()).freeBytes).toBe(first.freeBytes);
    expect((await getCapacityCalls()) - calls0).toBe(1);
    await driver.close();

    // While read, the answer is renewed in the background (every renewMs) without a reader waiting for it.
    const renewing = driverWith({ capacityBytes: String(400 * MiB) }, { ttlMs: 1_000, renewMs: 200 });
    await renewing.init();
    await renewing.capacity();
    const calls1 = await getCapacityCalls();
    for (let waited = 0; (await getCapacityCalls()) === calls1 && waited < 20_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await getCapacityCalls()).toBeGreaterThan(calls1);
    await renewing.close();
    const calls2 = await getCapacityCalls();
    await new Promise((r) => setTimeout(r, 1_000));
    // Closed: no renewals behind its back.
    expect(await getCapacityCalls()).toBe(calls2);
  }, 60_000);
});
