import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollyError } from '../../../src/core/errors.js';
import { fakeDriverFor } from '../../../src/drivers/fake/fake-driver.js';
import { startPolly, type TestPolly } from '../../helpers/polly.js';

const PASS_A = 'space-a-broker-password';
const PASS_B = 'space-b-broker-password';
const SLOW_POOL = `osbslow${process.pid}`;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

interface OsbResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

let polly: TestPolly;
let base: string;

/** A real HTTP call to the broker, as Cloud Foundry's cloud controller makes it. */
async function osb(
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  opts: { user?: string | null; password?: string; version?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<OsbResult> {
  const user = opts.user === undefined ? 'space-a' : opts.user;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (user !== null) headers.authorization = `Basic ${Buffer.from(`${user}:${opts.password ?? (user === 'space-b' ? PASS_B : PASS_A)}`).toString('base64')}`;
  if (opts.version !== null) headers['x-broker-api-version'] = opts.version ?? '2.17';
  let body = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await request(`${base}${path}`, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

let serviceId = '';
const plans: Record<string, string> = {};
/** Space B's registration has its own offering and plan ids (CF needs them unique across brokers). */
let serviceIdB = '';
const plansB: Record<string, string> = {};

async function waitFor(instance: string, operation: string, user = 'space-a'): Promise<{ state: string; description: string }> {
  for (let i = 0; i < 200; i++) {
    const r = await osb('GET', `/v2/service_instances/${instance}/last_operation?service_id=${serviceId}&operation=${encodeURIComponent(operation)}`, { user });
    expect(r.status).toBe(200);
    if (r.body.state !== 'in progress') return r.body;
    await sleep(25);
  }
  throw new Error(`operation ${operation} of ${instance} did not finish`);
}

async function provision(instance: string, plan: string, parameters: Record<string, unknown> = {}, user = 'space-a'): Promise<OsbResult> {
  const b = user === 'space-b';
  return osb('PUT', `/v2/service_instances/${instance}?accepts_incomplete=true`, {
    user,
    body: { service_id: b ? serviceIdB : serviceId, plan_id: b ? plansB[plan] : plans[plan], organization_guid: 'org-1', space_guid: user, context: { platform: 'cloudfoundry', space_guid: user }, parameters },
  });
}

async function provisioned(instance: string, plan: string, parameters: Record<string, unknown> = {}): Promise<void> {
  const r = await provision(instance, plan, parameters);
  expect(r.status).toBe(202);
  expect(await waitFor(instance, r.body.operation)).toMatchObject({ state: 'succeeded' });
}

function bindBody(plan: string, parameters: Record<string, unknown> = {}, appGuid: string | null = 'app-guid-1') {
  return { service_id: serviceId, plan_id: plans[plan], ...(appGuid ? { bind_resource: { app_guid: appGuid } } : {}), parameters };
}

async function volumeOf(instance: string) {
  const list = await polly.call('GET', `/v1/volumes?service=space-a&label=osb-instance=${instance}`);
  return list.body.items[0];
}

beforeAll(async () => {
  polly = await startPolly((dataDir) => ({
    pools: [
      { name: 'local', driver: 'local', path: join(dataDir, 'pool') },
      { name: SLOW_POOL, driver: 'fake', labels: { speed: 'slow' } },
    ],
    profiles: [
      { name: 'gold', description: 'Gold volumes', minBytes: MiB, maxBytes: 10 * GiB, pools: ['local'] },
      { name: 'bronze', minBytes: MiB, maxBytes: 10 * GiB, pools: ['local'] },
      { name: 'xfs', minBytes: MiB, maxBytes: 10 * GiB, fsType: 'xfs', pools: ['local'] },
      { name: 'slow', minBytes: MiB, maxBytes: 10 * GiB, pools: [SLOW_POOL] },
      { name: 'b-only', services: ['space-b'], pools: ['local'] },
    ],
    osb: {
      listen: '127.0.0.1:0',
      credentials: [
        { username: 'space-a', password: PASS_A, service: 'space-a' },
        { username: 'space-b', passwordHash: `sha256:${createHash('sha256').update(PASS_B).digest('hex')}`, service: 'space-b' },
      ],
    },
  }));
  base = polly.server.osbUrl ?? '';
  const catalog = await osb('GET', '/v2/catalog');
  serviceId = catalog.body.services[0].id;
  for (const p of catalog.body.services[0].plans) plans[p.name] = p.id;
  const catalogB = await osb('GET', '/v2/catalog', { user: 'space-b' });
  serviceIdB = catalogB.body.services[0].id;
  for (const p of catalogB.body.services[0].plans) plansB[p.name] = p.id;
  plans['b-only'] = plansB['b-only']!;
});

afterAll(async () => {
  await polly?.stop();
});

describe('OSB: authentication and headers', () => {
  it('refuses requests without, or with wrong, basic credentials (401)', async () => {
    expect((await osb('GET', '/v2/catalog', { user: null })).status).toBe(401);
    const wrong = await osb('GET', '/v2/catalog', { password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic/);
    expect((await osb('GET', '/v2/catalog', { user: 'nobody', password: PASS_A })).status).toBe(401);
    // One credential's password does not open another's service.
    expect((await osb('GET', '/v2/catalog', { user: 'space-a', password: PASS_B })).status).toBe(401);
  });

  it('needs X-Broker-API-Version 2.13 or a later 2.x (400 without it, 412 for others)', async () => {
    expect((await osb('GET', '/v2/catalog', { version: null })).status).toBe(400);
    for (const v of ['2.12', '1.0', '3.0', 'latest']) {
      const r = await osb('GET', '/v2/catalog', { version: v });
      expect(r.status, v).toBe(412);
      expect(r.body.description).toContain('2.13');
    }
    for (const v of ['2.13', '2.14', '2.17']) expect((await osb('GET', '/v2/catalog', { version: v })).status, v).toBe(200);
  });

  it('echoes X-Broker-API-Request-Identity', async () => {
    const r = await osb('GET', '/v2/catalog', { headers: { 'x-broker-api-request-identity': 'req-42' } });
    expect(r.headers['x-broker-api-request-identity']).toBe('req-42');
  });

  it('answers unknown routes with an OSB error body', async () => {
    const r = await osb('GET', '/v2/nothing');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: 'NotFound' });
  });
});

describe('OSB: catalog', () => {
  it('is one volume service whose plans are the profiles the credential may use', async () => {
    const r = await osb('GET', '/v2/catalog');
    expect(r.status).toBe(200);
    expect(r.body.services).toHaveLength(1);
    const s = r.body.services[0];
    expect(s).toMatchObject({ name: 'polly', bindable: true, plan_updateable: true, requires: ['volume_mount'], instances_retrievable: true, bindings_retrievable: true });
    const names = s.plans.map((p: { name: string }) => p.name).sort();
    expect(names).toEqual(['bronze', 'default', 'gold', 'slow', 'xfs']);
    const gold = s.plans.find((p: { name: string }) => p.name === 'gold');
    expect(gold.description).toBe('Gold volumes');
    expect(gold.schemas.service_instance.create.parameters.properties.size).toBeDefined();
    expect(gold.schemas.service_instance.create.parameters.additionalProperties).toBe(false);
    expect(gold.schemas.service_binding.create.parameters.properties).toHaveProperty('mount');
    // Plan ids are stable, and another space sees its own restricted profile.
    expect((await osb('GET', '/v2/catalog')).body.services[0].plans.find((p: { name: string }) => p.name === 'gold').id).toBe(gold.id);
    const b = await osb('GET', '/v2/catalog', { user: 'space-b' });
    expect(b.body.services[0].plans.map((p: { name: string }) => p.name)).toContain('b-only');
    expect(b.body.services[0].id).not.toBe(s.id);
    expect(b.body.services[0].plans.find((p: { name: string }) => p.name === 'gold').id).not.toBe(gold.id);
  });
});

describe('OSB: provisioning', () => {
  it('is asynchronous: without accepts_incomplete it is 422 AsyncRequired and nothing is made', async () => {
    const id = randomUUID();
    const r = await osb('PUT', `/v2/service_instances/${id}`, { body: { service_id: serviceId, plan_id: plans.gold, organization_guid: 'o', space_guid: 's' } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ error: 'AsyncRequired' });
    expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(404);
    expect((await osb('GET', `/v2/service_instances/${id}/last_operation`)).status).toBe(404);
  });

  it('refuses malformed requests with 400', async () => {
    const id = randomUUID();
    const cases: Array<[string, unknown]> = [
      ['no service_id', { plan_id: plans.gold }],
      ['other service_id', { service_id: 'not-ours', plan_id: plans.gold }],
      ['no plan_id', { service_id: serviceId }],
      ['unknown plan', { service_id: serviceId, plan_id: 'no-such-plan' }],
      ['another space’s plan', { service_id: serviceId, plan_id: plans['b-only'] }],
      ['bad size', { service_id: serviceId, plan_id: plans.gold, parameters: { size: 'lots' } }],
      ['size off the plan', { service_id: serviceId, plan_id: plans.gold, parameters: { size: '20GiB' } }],
      ['unknown parameter', { service_id: serviceId, plan_id: plans.gold, parameters: { colour: 'red' } }],
      ['parameters not an object', { service_id: serviceId, plan_id: plans.gold, parameters: [1] }],
    ];
    for (const [what, body] of cases) {
      const r = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, { body });
      expect(r.status, what).toBe(400);
      expect(typeof r.body.description, what).toBe('string');
    }
    const bad = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, { raw: '{"service_id":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(404);
  });

  it('answers 202 with an operation, polled to succeeded; then 200 for the same request and 409 for a different one', async () => {
    const id = randomUUID();
    const first = await provision(id, 'gold', { size: '64MiB' });
    expect(first.status).toBe(202);
    expect(typeof first.body.operation).toBe('string');
    const done = await waitFor(id, first.body.operation);
    expect(done.state).toBe('succeeded');
    const v = await volumeOf(id);
    expect(v).toMatchObject({ service: 'space-a', profile: 'gold', sizeBytes: 64 * MiB, status: 'available' });
    expect((await provision(id, 'gold', { size: '64MiB' })).status).toBe(200);
    expect((await provision(id, 'bronze', { size: '64MiB' })).status).toBe(409);
    expect((await provision(id, 'gold', { size: '128MiB' })).status).toBe(409);
    const got = await osb('GET', `/v2/service_instances/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ service_id: serviceId, plan_id: plans.gold, parameters: { size: '64MiB' } });
    // The polled operation must be the one handed out.
    expect((await osb('GET', `/v2/service_instances/${id}/last_operation?operation=other`)).status).toBe(400);
  });

  it('a repeat while provisioning runs is 202 with the same operation; the instance is not fetchable until done', async () => {
    const fake = fakeDriverFor(SLOW_POOL);
    fake?.setLatency(400);
    try {
      const id = randomUUID();
      const first = await provision(id, 'slow');
      expect(first.status).toBe(202);
      const again = await provision(id, 'slow');
      expect(again.status).toBe(202);
      expect(again.body.operation).toBe(first.body.operation);
      expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(404);
      expect((await osb('GET', `/v2/service_instances/${id}/last_operation`)).body.state).toBe('in progress');
      expect((await waitFor(id, first.body.operation)).state).toBe('succeeded');
      // While an update runs, a fetch is 422 ConcurrencyError, and so is a deprovision.
      const upd = await osb('PATCH', `/v2/service_instances/${id}?accepts_incomplete=true`, { body: { service_id: serviceId, parameters: { size: '2GiB' } } });
      expect(upd.status).toBe(202);
      const fetch = await osb('GET', `/v2/service_instances/${id}`);
      expect(fetch.status).toBe(422);
      expect(fetch.body.error).toBe('ConcurrencyError');
      const del = await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true&service_id=${serviceId}&plan_id=${plans.slow}`);
      expect(del.status).toBe(422);
      expect(del.body.error).toBe('ConcurrencyError');
      expect((await waitFor(id, upd.body.operation)).state).toBe('succeeded');
    } finally {
      fake?.setLatency(0);
    }
  });

  it('reports a failed provision in last_operation and lets the platform retry it', async () => {
    const fake = fakeDriverFor(SLOW_POOL);
    fake?.failNext('create', new PollyError('BACKEND_FAILED', 'injected: disk on fire'), {});
    const id = randomUUID();
    const first = await provision(id, 'slow');
    expect(first.status).toBe(202);
    const failed = await waitFor(id, first.body.operation);
    expect(failed.state).toBe('failed');
    expect(failed.description).toContain('disk on fire');
    expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(404);
    const retry = await provision(id, 'slow');
    expect(retry.status).toBe(202);
    expect(retry.body.operation).not.toBe(first.body.operation);
    expect((await waitFor(id, retry.body.operation)).state).toBe('succeeded');
  });

  it('records the originating identity with the events it causes', async () => {
    const id = randomUUID();
    const who = Buffer.from(JSON.stringify({ user_id: 'user-683ea748' })).toString('base64');
    const r = await osb('PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, {
      headers: { 'x-broker-api-originating-identity': `cloudfoundry ${who}` },
      body: { service_id: serviceId, plan_id: plans.gold, organization_guid: 'o', space_guid: 's' },
    });
    expect(r.status).toBe(202);
    await waitFor(id, r.body.operation);
    const events = await polly.call('GET', `/v1/events?type=osb&object=${id}`);
    const provisioning = events.body.items.find((e: { type: string }) => e.type === 'osb.instance.provisioning');
    expect(provisioning.data.originatingIdentity).toEqual({ platform: 'cloudfoundry', value: { user_id: 'user-683ea748' } });
    expect(events.body.items.map((e: { type: string }) => e.type)).toContain('osb.instance.provisioned');
    const bad = await osb('PUT', `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`, {
      headers: { 'x-broker-api-originating-identity': 'cloudfoundry not-base64-json' },
      body: { service_id: serviceId, plan_id: plans.gold },
    });
    expect(bad.status).toBe(400);
  });
});

describe('OSB: update', () => {
  it('grows the volume and changes the plan where the pool allows, asynchronously', async () => {
    const id = randomUUID();
    await provisioned(id, 'gold', { size: '32MiB' });
    const patch = (body: Record<string, unknown>, async = true) =>
      osb('PATCH', `/v2/service_instances/${id}${async ? '?accepts_incomplete=true' : ''}`, { body: { service_id: serviceId, ...body } });
    expect((await patch({ parameters: { size: '64MiB' } }, false)).body).toMatchObject({ error: 'AsyncRequired' });
    const grow = await patch({ parameters: { size: '64MiB' } });
    expect(grow.status).toBe(202);
    expect((await waitFor(id, grow.body.operation)).state).toBe('succeeded');
    expect((await volumeOf(id)).sizeBytes).toBe(64 * MiB);
    expect((await patch({ parameters: { size: '64MiB' } })).status).toBe(200); // no change
    const shrink = await patch({ parameters: { size: '16MiB' } });
    expect(shrink.status).toBe(422);
    expect(shrink.body.description).toContain('shrink');
    const plan = await patch({ plan_id: plans.bronze });
    expect(plan.status).toBe(202);
    expect((await waitFor(id, plan.body.operation)).state).toBe('succeeded');
    expect((await volumeOf(id)).profile).toBe('bronze');
    expect((await osb('GET', `/v2/service_instances/${id}`)).body.plan_id).toBe(plans.bronze);
    // A plan whose pools do not include the volume's cannot take it in place.
    const elsewhere = await patch({ plan_id: plans.slow });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.description).toContain('pool local');
    expect((await patch({ plan_id: 'no-such-plan' })).status).toBe(400);
    expect((await patch({ parameters: { colour: 'red' } })).status).toBe(400);
    expect((await osb('PATCH', `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`, { body: { service_id: serviceId, plan_id: plans.gold } })).status).toBe(404);
  });
});

describe('OSB: binding', () => {
  it('binds apps only, returns volume_mounts, is idempotent, and unbinds', async () => {
    const id = randomUUID();
    await provisioned(id, 'gold', { size: '16MiB' });
    const vol = await volumeOf(id);
    const path = `/v2/service_instances/${id}/service_bindings`;
    const noApp = await osb('PUT', `${path}/${randomUUID()}`, { body: bindBody('gold', {}, null) });
    expect(noApp.status).toBe(422);
    expect(noApp.body.error).toBe('RequiresApp');
    expect((await osb('PUT', `${path}/${randomUUID()}`, { body: bindBody('gold', { mount: 'relative' }) })).status).toBe(400);
    expect((await osb('PUT', `${path}/${randomUUID()}`, { body: bindBody('gold', { uid: '1000' }) })).status).toBe(400);
    expect((await osb('PUT', `/v2/service_instances/${randomUUID()}/service_bindings/${randomUUID()}`, { body: bindBody('gold') })).status).toBe(404);

    const bid = randomUUID();
    const bound = await osb('PUT', `${path}/${bid}`, { body: bindBody('gold', { mount: '/data' }) });
    expect(bound.status).toBe(201);
    expect(bound.body.credentials).toEqual({});
    expect(bound.body.volume_mounts).toEqual([
      {
        driver: 'polly',
        container_dir: '/data',
        mode: 'rw',
        device_type: 'shared',
        device: { volume_id: vol.id, mount_config: { access_mode: 'RWX', readonly: false, instance_id: id, binding_id: bid } },
      },
    ]);
    expect(JSON.stringify(bound.body)).not.toMatch(/token|password|secret/i);
    expect((await osb('PUT', `${path}/${bid}`, { body: bindBody('gold', { mount: '/data' }) })).status).toBe(200);
    expect((await osb('PUT', `${path}/${bid}`, { body: bindBody('gold', { mount: '/other' }) })).status).toBe(409);
    const got = await osb('GET', `${path}/${bid}`);
    expect(got.status).toBe(200);
    expect(got.body.volume_mounts).toEqual(bound.body.volume_mounts);
    expect((await osb('GET', `${path}/${randomUUID()}`)).status).toBe(404);

    const ro = await osb('PUT', `${path}/${randomUUID()}`, { body: bindBody('gold', { readonly: true }, 'app-guid-2') });
    expect(ro.status).toBe(201);
    expect(ro.body.volume_mounts[0]).toMatchObject({ mode: 'r', container_dir: `/var/vcap/data/${id}`, device: { mount_config: { access_mode: 'ROX', readonly: true } } });

    // Deprovisioning a bound instance is refused; unbinding is 200, then 410.
    const del = `/v2/service_instances/${id}?accepts_incomplete=true&service_id=${serviceId}&plan_id=${plans.gold}`;
    expect((await osb('DELETE', del)).status).toBe(422);
    const unbind = `${path}/${bid}?service_id=${serviceId}&plan_id=${plans.gold}`;
    expect((await osb('DELETE', `${path}/${bid}`)).status).toBe(400);
    expect((await osb('DELETE', unbind)).status).toBe(200);
    expect((await osb('DELETE', unbind)).status).toBe(410);
    expect((await osb('GET', `${path}/${bid}`)).status).toBe(404);
    const roId = ro.body.volume_mounts[0].device.mount_config.binding_id as string;
    expect((await osb('DELETE', `${path}/${roId}?service_id=${serviceId}&plan_id=${plans.gold}`)).status).toBe(200);
  });
});

describe('OSB: deprovisioning', () => {
  it('is asynchronous, deletes the volume, and is 410 once gone', async () => {
    const id = randomUUID();
    await provisioned(id, 'gold');
    const vol = await volumeOf(id);
    const q = `service_id=${serviceId}&plan_id=${plans.gold}`;
    expect((await osb('DELETE', `/v2/service_instances/${id}?${q}`)).body).toMatchObject({ error: 'AsyncRequired' });
    expect((await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true`)).status).toBe(400);
    expect((await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true&service_id=${serviceId}&plan_id=${plans.bronze}`)).status).toBe(400);
    const r = await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true&${q}`);
    expect(r.status).toBe(202);
    expect((await waitFor(id, r.body.operation)).state).toBe('succeeded');
    expect((await polly.call('GET', `/v1/volumes/${vol.id}`)).status).toBe(404);
    expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(404);
    const again = await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true&${q}`);
    expect(again.status).toBe(410);
    expect(again.body).toEqual({});
    // The id may be provisioned afresh.
    await provisioned(id, 'gold');
  });
});

describe('OSB: two spaces', () => {
  it('cannot see, bind, update or delete each other’s instances', async () => {
    const id = randomUUID();
    await provisioned(id, 'gold');
    const q = `service_id=${serviceIdB}&plan_id=${plansB.gold}`;
    const asB = { user: 'space-b' };
    expect((await osb('GET', `/v2/service_instances/${id}`, asB)).status).toBe(404);
    expect((await osb('GET', `/v2/service_instances/${id}/last_operation`, asB)).status).toBe(404);
    const bBind = { service_id: serviceIdB, plan_id: plansB.gold, bind_resource: { app_guid: 'app-b' } };
    expect((await osb('PUT', `/v2/service_instances/${id}/service_bindings/${randomUUID()}`, { ...asB, body: bBind })).status).toBe(404);
    expect((await osb('PATCH', `/v2/service_instances/${id}?accepts_incomplete=true`, { ...asB, body: { service_id: serviceIdB, parameters: { size: '2GiB' } } })).status).toBe(404);
    // Space A's ids mean nothing to space B's registration.
    expect((await osb('GET', `/v2/service_instances/${id}/service_bindings/${randomUUID()}`, asB)).status).toBe(404);
    expect((await osb('PUT', `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`, { ...asB, body: { service_id: serviceId, plan_id: plans.gold } })).status).toBe(400);
    expect((await osb('DELETE', `/v2/service_instances/${id}?accepts_incomplete=true&${q}`, asB)).status).toBe(410);
    expect((await provision(id, 'gold', {}, 'space-b')).status).toBe(409);
    // Space A's instance is untouched.
    expect((await osb('GET', `/v2/service_instances/${id}`)).status).toBe(200);
    expect((await polly.call('GET', '/v1/volumes?service=space-b')).body.items).toHaveLength(0);
  });
});
