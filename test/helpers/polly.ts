import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { loadConfig, type PollyConfigInput } from '../../src/config/config.js';
import { PollyServer } from '../../src/server.js';

export interface TestPolly {
  server: PollyServer;
  url: string;
  dataDir: string;
  adminToken: string;
  /** Real HTTP to the running server; returns status, parsed JSON body (or null) and headers. */
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<HttpResult>;
  stop(): Promise<void>;
}

export interface HttpResult {
  status: number;
  // Tests inspect arbitrary JSON responses.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** Starts a real Polly server on a free loopback port with a fresh data dir; `stop()` removes everything. */
/** A clock tests move by hand, so expiry is tested without sleeping. */
export class ManualClock {
  #ms = Date.now();
  now(): Date {
    return new Date(this.#ms);
  }
  advance(seconds: number): void {
    this.#ms += seconds * 1000;
  }
}

export async function startPolly(
  input: PollyConfigInput | ((dataDir: string) => PollyConfigInput) = {},
  opts: { clock?: ManualClock } = {},
): Promise<TestPolly> {
  const dataDir = await mkdtemp(join(tmpdir(), 'polly-test-'));
  const doc = typeof input === 'function' ? input(dataDir) : input;
  const config = loadConfig({
    document: {
      listen: '127.0.0.1:0',
      dataDir,
      adminToken: ADMIN_TOKEN,
      pools: [{ name: 'local', driver: 'local', path: join(dataDir, 'pool') }],
      ...doc,
    },
    env: {},
  });
  let server: PollyServer;
  try {
    server = await PollyServer.create(config, { logger: pino({ level: 'silent' }), ...(opts.clock ? { clock: opts.clock } : {}) });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true }); // a server that never started leaves nothing behind
    throw err;
  }
  try {
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = server.url;
  const call: TestPolly['call'] = async (method, path, opts = {}) => {
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await request(`${url}${path}`, { method: method as 'GET', headers, body });
    const text = await res.body.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  };
  return {
    server,
    url,
    dataDir,
    adminToken: ADMIN_TOKEN,
    call,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a service and returns a token for it. */
export async function newService(polly: TestPolly, name: string): Promise<string> {
  const created = await polly.call('POST', '/v1/services', { body: { name } });
  if (created.status !== 201) throw new Error(`service create: ${created.status} ${JSON.stringify(created.body)}`);
  const tok = await polly.call('POST', `/v1/services/${name}/tokens`, { body: {} });
  if (tok.status !== 201) throw new Error(`token: ${tok.status} ${JSON.stringify(tok.body)}`);
  return tok.body.token as string;
}
