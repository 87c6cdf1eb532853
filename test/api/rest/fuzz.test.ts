import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { seededRandom } from '../../helpers/random.js';

/**
 * Generated requests over every route `/openapi.json` documents: schema-shaped bodies, then mutated
 * (wrong types, unknown keys, nulls, huge numbers, deep nesting, long strings), odd path parameters and
 * query values, with and without Idempotency-Key. Deterministic (a fixed seed), bounded in count and in
 * time. Every reply must be below 500, and every non-2xx must carry `{"error":{"code","message"}}`.
 */
const SEED = 0x5eed_1234;
const REQUESTS = 3000;
const TIME_BUDGET_MS = 40_000;
const CONCURRENCY = 6;

let polly: TestPolly;
let serviceToken: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
  serviceToken = await newService(polly, 'fuzzed');
});
afterAll(async () => {
  await polly?.stop();
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: Json[];
  const?: Json;
  additionalProperties?: boolean | Schema;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  $ref?: string;
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

describe('fuzzing every route of /openapi.json', () => {
  it(`${REQUESTS} generated requests: no 5xx, the error shape on every non-2xx`, async () => {
    const spec = (await polly.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };
    const components = spec.components?.schemas ?? {};
    const ops = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(ops.length).toBeGreaterThan(40);
    const rand = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const chance = (p: number) => rand() < p;

    const strings = ['a', 'mem', 'default', 'fuzzed', 'x'.repeat(300), 'ünï©ødé', '', ' ', '../etc', 'a=b', '%ZZ', '\u0000', '-1', 'vol-', 'null', '0'];
    const randomString = (): string => (chance(0.5) ? pick(strings) : Math.floor(rand() * 1e9).toString(36));
    const numbers = [0, -1, 1, 4096, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER];
    const junk = (): Json => pick<() => Json>([() => null, () => true, () => pick(numbers), () => randomString(), () => [], () => ({}), () => [[[[1]]]]])();

    const gen = (s: Schema | undefined, depth: number): Json => {
      if (!s || depth > 5) return junk();
      if (s.$ref) return gen(components[s.$ref.replace('#/components/schemas/', '')], depth); // named component schemas
      if (chance(0.08)) return junk(); // a wrong type now and then
      if (s.const !== undefined) return s.const;
      if (s.enum) return pick(s.enum);
      const alts = s.anyOf ?? s.oneOf;
      if (alts) return gen(pick(alts), depth + 1);
      const type = Array.isArray(s.type) ? pick(s.type) : s.type;
      switch (type) {
        case 'object': {
          const out: Record<string, Json> = {};
          for (const [k, v] of Object.entries(s.properties ?? {})) if ((s.required ?? []).includes(k) || chance(0.5)) out[k] = gen(v, depth + 1);
          if (chance(0.1)) out[randomString() || 'extra'] = junk();
          if (!s.properties && chance(0.7)) for (let i = Math.floor(rand() * 4); i > 0; i--) out[`k${i}`] = typeof s.additionalProperties === 'object' ? gen(s.additionalProperties, depth + 1) : randomString();
          return out;
        }
        case 'array':
          return Array.from({ length: chance(0.05) ? 2000 : Math.floor(rand() * 4) }, () => gen(s.items, depth + 1));
        case 'integer':
          return chance(0.7) ? Math.floor(rand() * (chance(0.5) ? 10 : 1e10)) : pick(numbers);
        case 'number':
          return chance(0.7) ? rand() * 100 : pick(numbers);
        case 'boolean':
          return chance(0.5);
        case 'null':
          return null;
        case 'string':
          return chance(0.6) ? `f${Math.floor(rand() * 1e6).toString(36)}` : randomString();
        default:
          return junk();
      }
    };
    const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);

    let sent = 0;
    let fiveHundreds = 0;
    const byStatus = new Map<number, number>();
    const problems: string[] = [];
    const deadline = Date.now() + TIME_BUDGET_MS;
    const one = async () => {
      const { path, method, op } = pick(ops);
      const url = path.replace(/\{[^}]+\}/g, () => encodeURIComponent(randomString()).replace('%25ZZ', '%ZZ') || 'x');
      const query = (op.parameters ?? [])
        .filter((p) => p.in === 'query' && chance(0.5))
        .map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(gen(p.schema, 0)))}`)
        .join('&');
      const headers: Record<string, string> = { authorization: `Bearer ${chance(0.5) ? ADMIN_TOKEN : chance(0.9) ? serviceToken : 'wrong'}` };
      if (chance(0.3)) headers['idempotency-key'] = `fz-${Math.floor(rand() * 50)}`;
      let body: string | undefined;
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      if (method !== 'GET' && (bodySchema || chance(0.2))) {
        const roll = rand();
        body = roll < 0.05 ? deep(5000) : roll < 0.08 ? '{"broken":' : JSON.stringify(gen(bodySchema, 0));
        headers['content-type'] = chance(0.95) ? 'application/json' : pick(['text/plain', 'application/xml', 'application/json; charset=utf-8']);
      }
      const res = await request(`${polly.url}${url}${query ? `?${query}` : ''}`, { method: method as 'GET', headers, body });
      const text = await res.body.text();
      sent++;
      byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
      const what = `${method} ${url}${query ? `?${query}` : ''} ${body?.slice(0, 200) ?? ''} → ${res.statusCode} ${text.slice(0, 300)}`;
      if (res.statusCode >= 500) {
        fiveHundreds++;
        problems.push(what);
      } else if (res.statusCode >= 300) {
        let ok = false;
        try {
          const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          ok = Object.keys(parsed).length === 1 && typeof parsed.error?.code === 'string' && typeof parsed.error?.message === 'string';
        } catch {
          ok = false;
        }
        if (!ok) problems.push(`not the error shape: ${what}`);
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < REQUESTS && Date.now() < deadline) await one();
      }),
    );
    console.log(`fuzz: ${sent} requests over ${ops.length} operations, ${fiveHundreds} 5xx, statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`);
    expect(problems.slice(0, 10)).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(Math.min(REQUESTS, 500));
  }, 90_000);
});
