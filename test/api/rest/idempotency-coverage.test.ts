import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_IDEMPOTENT } from '../../../src/api/rest/idempotency-exclusions.js';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

/**
 * The contract "every mutating REST operation is idempotent by Idempotency-Key", checked against the
 * document a real server serves, so that it cannot go stale: a new POST/PUT/PATCH/DELETE either honours
 * the header (proved by asking it, not by reading code) or is listed here with why.
 */
const EXCLUDED: Readonly<Record<string, string>> = {
  // Its answer is the node's current leases, fencing tokens and node-scoped secrets: a replayed answer
  // would be stale fencing state; a repeated heartbeat is harmless by itself.
  'POST /v1/nodes/{id}/heartbeat': 'current state, never replayed',
  // Reads only (POST for its body); nothing changes.
  'POST /v1/placement/explain': 'reads only',
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MUTATING = ['post', 'put', 'patch', 'delete'];

let polly: TestPolly;
let doc: Json;
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  polly = await startPolly();
  const res = await polly.call('GET', '/openapi.json', { token: null });
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(async () => {
  await polly?.stop();
});

interface Operation {
  key: string;
  method: string;
  path: string;
  op: Json;
}

function mutatingOperations(): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of MUTATING) {
      const op = (item as Json)[method];
      if (isObject(op)) out.push({ key: `${method.toUpperCase()} ${path}`, method, path, op });
    }
  }
  return out;
}

function resolve(schema: unknown): Json {
  let s = schema as Json;
  while (isObject(s) && typeof s.$ref === 'string') {
    const [, , section, name] = s.$ref.split('/');
    s = ((doc.components as Json)[section as string] as Json)[name as string] as Json;
  }
  return s;
}

function declaresIdempotencyKey(op: Json): boolean {
  return ((op.parameters as unknown[] | undefined) ?? []).some((p) => {
    const param = resolve(p);
    return param.in === 'header' && String(param.name).toLowerCase() === 'idempotency-key';
  });
}

/** A smallest value the schema accepts (required properties only), so the request passes validation. */
function sample(schema: unknown): unknown {
  const s = resolve(schema);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (variants) return sample(variants.find((v) => resolve(v).type !== 'null') ?? variants[0]);
  if (Array.isArray(s.allOf)) return Object.assign({}, ...s.allOf.map((p) => sample(p) as Json));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Json;
      return Object.fromEntries(((s.required ?? []) as string[]).map((k) => [k, sample(props[k])]));
    }
    case 'array':
      return Array.from({ length: Number(s.minItems ?? 0) }, () => sample(s.items));
    case 'integer':
    case 'number':
      return Math.max(Number(s.minimum ?? 1), 1);
    case 'boolean':
      return false;
    case 'string': {
      if (s.format === 'date-time') return new Date().toISOString();
      const length = Math.max(Number(s.minLength ?? 1), 1);
      const candidates = ['a'.repeat(length), `probe-${run}`, '1'.repeat(length)];
      const pattern = typeof s.pattern === 'string' ? new RegExp(s.pattern) : undefined;
      return candidates.find((c) => !pattern || pattern.test(c)) ?? candidates[0];
    }
    default:
      return null;
  }
}

/** The request a client could send to this operation, with placeholder path parameters. */
function requestFor(operation: Operation): { path: string; body: unknown } {
  let path = operation.path;
  for (const p of ((operation.op.parameters as unknown[] | undefined) ?? []).map(resolve)) {
    if (p.in === 'path') path = path.replace(`{${String(p.name)}}`, encodeURIComponent(`probe-${run}`));
  }
  const content = (resolve(operation.op.requestBody ?? {}).content ?? {}) as Json;
  const media = content['application/json'] as Json | undefined;
  return { path, body: media ? (sample(media.schema) ?? {}) : undefined };
}

describe('Idempotency-Key coverage, from the served OpenAPI document', () => {
  it('every mutating operation declares the header, but the commented exclusions', () => {
    const ops = mutatingOperations();
    expect(ops.length).toBeGreaterThanOrEqual(36); // 36 when this was written; the document is the source
    const undeclared = ops.filter((o) => !declaresIdempotencyKey(o.op)).map((o) => o.key).sort();
    expect(undeclared).toEqual(Object.keys(EXCLUDED).sort());
    // The server's own list says the same (widening it means editing this test too).
    expect(Object.keys(NOT_IDEMPOTENT).sort()).toEqual(Object.keys(EXCLUDED).sort());
  });

  it('every declared operation honours it: a key used for another request is refused before anything runs', async () => {
    const key = `coverage-${run}`;
    const seeded = await polly.call('POST', '/v1/services', { body: { name: `seed-${run}` }, headers: { 'idempotency-key': key } });
    expect(seeded.status).toBe(201);

    const answers: Record<string, string> = {};
    for (const operation of mutatingOperations()) {
      const { path, body } = requestFor(operation);
      const res = await polly.call(operation.method.toUpperCase(), path, { body, headers: { 'idempotency-key': key } });
      answers[operation.key] = `${res.status} ${res.body?.error?.code ?? ''}`.trim();
    }
    const expected = Object.fromEntries(
      mutatingOperations().map((o) => [o.key, EXCLUDED[o.key] === undefined ? '422 IDEMPOTENCY_KEY_REUSED' : answers[o.key]]),
    );
    expect(answers).toEqual(expected);
    for (const excluded of Object.keys(EXCLUDED)) expect(answers[excluded]).not.toBe('422 IDEMPOTENCY_KEY_REUSED');
    // Nothing ran: no probe made a service, a node, a pool or a profile; the seed is there once.
    expect((await polly.call('GET', '/v1/services')).body.items.map((x: { name: string }) => x.name)).toEqual([`seed-${run}`]);
    expect((await polly.call('GET', '/v1/nodes')).body.items).toEqual([]);
    expect((await polly.call('GET', '/v1/pools')).body.items.map((x: { name: string }) => x.name)).toEqual(['local']);
    expect((await polly.call('GET', '/v1/profiles')).body.items.map((x: { name: string }) => x.name)).toEqual(['default']);
  });
});

const keyed = (key: string) => ({ 'idempotency-key': key });

async function eventCount(type: string, object: string, by: 'object' | 'service' = 'object'): Promise<number> {
  const res = await polly.call('GET', `/v1/events?type=${type}&${by}=${encodeURIComponent(object)}&after=0&limit=1000`);
  expect(res.status).toBe(200);
  return res.body.items.length;
}

describe('newly covered routes replay and change nothing', () => {
  it('POST /v1/nodes: a repeat replays the first registration (one event); another body is refused', async () => {
    const id = `node-${run}`;
    const key = `reg-${run}`;
    const body = { id, hostname: `host-${run}`, topology: { zone: 'z1' } };
    const first = await polly.call('POST', '/v1/nodes', { body, headers: keyed(key) });
    expect(first.status).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await polly.call('POST', '/v1/nodes', { body, headers: keyed(key) });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await eventCount('node.registered', id)).toBe(1);

    const other = await polly.call('POST', '/v1/nodes', { body: { ...body, hostname: 'elsewhere' }, headers: keyed(key) });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await polly.call('GET', `/v1/nodes/${id}`)).body.hostname).toBe(`host-${run}`);
    expect(await eventCount('node.registered', id)).toBe(1);
  });

  it('a node credential registering its node: replayed in its own scope', async () => {
    const id = `cred-node-${run}`;
    await polly.call('POST', '/v1/nodes', { body: { id, hostname: 'h' } });
    const cred = await polly.call('POST', `/v1/nodes/${id}/credentials`, { body: {} });
    expect(cred.status).toBe(201);
    const key = `node-reg-${run}`;
    const body = { id, hostname: 'h2' };
    const first = await polly.call('POST', '/v1/nodes', { token: cred.body.token, body, headers: keyed(key) });
    expect(first.status).toBe(200);
    const again = await polly.call('POST', '/v1/nodes', { token: cred.body.token, body, headers: keyed(key) });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await eventCount('node.registered', id)).toBe(2); // the admin's registration and this one
  });

  it('PUT quota: a repeat replays the first answer and does not undo a later change', async () => {
    const svc = `quota-${run}`;
    await newService(polly, svc);
    const key = `quota-${run}`;
    const first = await polly.call('PUT', `/v1/services/${svc}/quota`, { body: { maxVolumes: 3 }, headers: keyed(key) });
    expect(first.status).toBe(200);
    expect(first.body.maxVolumes).toBe(3);
    // Somebody else changes it meanwhile; a late retry of the first request must not put 3 back.
    expect((await polly.call('PUT', `/v1/services/${svc}/quota`, { body: { maxVolumes: 7 } })).status).toBe(200);
    const again = await polly.call('PUT', `/v1/services/${svc}/quota`, { body: { maxVolumes: 3 }, headers: keyed(key) });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await polly.call('GET', `/v1/services/${svc}/quota`)).body.maxVolumes).toBe(7);
    expect(await eventCount('quota.updated', svc)).toBe(2);

    const other = await polly.call('PUT', `/v1/services/${svc}/quota`, { body: { maxVolumes: 4 }, headers: keyed(key) });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('offer revoke: a repeat replays 200 instead of refusing the closed offer', async () => {
    const svc = `offers-${run}`;
    const token = await newService(polly, svc);
    const offer = (await polly.call('GET', '/v1/offers', { token })).body.items[0];
    expect(offer?.status).toBe('open');
    const key = `revoke-${run}`;
    const first = await polly.call('POST', `/v1/offers/${offer.id}/revoke`, { headers: keyed(key) });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('revoked');
    const again = await polly.call('POST', `/v1/offers/${offer.id}/revoke`, { headers: keyed(key) });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await eventCount('offer.revoked', offer.id)).toBe(1);
    // Without the key a second revoke is a new request, which the closed offer refuses.
    expect((await polly.call('POST', `/v1/offers/${offer.id}/revoke`)).status).not.toBe(200);
  });

  it('DELETE service: a repeat replays 204 instead of 404', async () => {
    const svc = `gone-${run}`;
    expect((await polly.call('POST', '/v1/services', { body: { name: svc } })).status).toBe(201);
    const key = `delete-${run}`;
    const first = await polly.call('DELETE', `/v1/services/${svc}`, { headers: keyed(key) });
    expect(first.status).toBe(204);
    const again = await polly.call('DELETE', `/v1/services/${svc}`, { headers: keyed(key) });
    expect(again.status).toBe(204);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBeNull();
  });

  it('the query is part of the request: the same key with ?force=true is another request', async () => {
    const key = `force-${run}`;
    const body = { name: `prof-${run}` };
    expect((await polly.call('POST', '/v1/profiles', { body, headers: keyed(key) })).status).toBe(201);
    const forced = await polly.call('POST', '/v1/profiles?force=true', { body, headers: keyed(key) });
    expect(forced.status).toBe(422);
    expect(forced.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a replayed secret goes to the caller that got it only: keys are scoped per identity', async () => {
    const svc = `secret-${run}`;
    const serviceToken = await newService(polly, svc);
    const key = `token-${run}`;
    const issued = await polly.call('POST', `/v1/services/${svc}/tokens`, { body: { description: 'ci' }, headers: keyed(key) });
    expect(issued.status).toBe(201);
    // The same key from the service's own token is its own request (refused: admin only), never the reply.
    const stranger = await polly.call('POST', `/v1/services/${svc}/tokens`, { token: serviceToken, body: { description: 'ci' }, headers: keyed(key) });
    expect(stranger.status).toBe(403);
    expect(JSON.stringify(stranger.body)).not.toContain(issued.body.token);
    // The admin retrying gets the same token, and no second one was made.
    const retry = await polly.call('POST', `/v1/services/${svc}/tokens`, { body: { description: 'ci' }, headers: keyed(key) });
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.token).toBe(issued.body.token);
    expect(await eventCount('token.created', svc, 'service')).toBe(2); // newService's token and this one
  });
});
