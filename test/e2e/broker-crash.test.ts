import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const ADMIN = 'broker-crash-admin-token-0123456789';
const PASS = 'crash-space-broker-password';
let dataDir = '';
const servers: ServerProcess[] = [];

afterAll(async () => {
  for (const s of servers) await s.kill9().catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function osb(base: string, method: 'GET' | 'PUT', path: string, body?: unknown) {
  const res = await request(`${base}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`crash-space:${PASS}`).toString('base64')}`,
      'x-broker-api-version': '2.17',
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as any };
}

describe('broker: kill -9 during an asynchronous provision', () => {
  it('the restarted server finishes the operation; the instance gets exactly one volume', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'polly-test-osbcrash-'));
    const port = await freePort();
    const config = join(dataDir, 'polly.yml');
    await writeFile(
      config,
      stringify({
        // A slow backend, so that the provision is still running when the server dies.
        pools: [{ name: 'slow', driver: 'fake', parameters: { latencyMs: '1500' } }],
        profiles: [{ name: 'gold', pools: ['slow'] }],
        osb: { listen: `127.0.0.1:${port}`, credentials: [{ username: 'crash-space', password: PASS, service: 'crash-space' }] },
      }),
    );
    const env = { POLLY_CONFIG: config, POLLY_DATA_DIR: dataDir, POLLY_LISTEN: '127.0.0.1:0', POLLY_ADMIN_TOKEN: ADMIN };
    const base = `http://127.0.0.1:${port}`;
    const first = await spawnServer(env, 120_000);
    servers.push(first);
    const catalog = await osb(base, 'GET', '/v2/catalog');
    const serviceId = catalog.body.services[0].id as string;
    const planId = catalog.body.services[0].plans.find((p: { name: string }) => p.name === 'gold').id as string;
    const id = randomUUID();
    const body = { service_id: serviceId, plan_id: planId, organization_guid: 'o', space_guid: 's', parameters: { size: '1GiB' } };
    const accepted = await osb(base, 'PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body);
    expect(accepted.status).toBe(202);
    await first.kill9();

    const second = await spawnServer(env, 120_000);
    servers.push(second);
    // The platform polls the operation it was given, and gets its outcome.
    let state = 'in progress';
    for (let i = 0; i < 300 && state === 'in progress'; i++) {
      const op = await osb(base, 'GET', `/v2/service_instances/${id}/last_operation?operation=${accepted.body.operation}`);
      expect(op.status).toBe(200);
      state = op.body.state;
      if (state === 'in progress') await sleep(50);
    }
    expect(state).toBe('succeeded');
    expect((await osb(base, 'PUT', `/v2/service_instances/${id}?accepts_incomplete=true`, body)).status).toBe(200);
    const got = await osb(base, 'GET', `/v2/service_instances/${id}`);
    expect(got.status).toBe(200);
    const volumes = await request(`${second.url}/v1/volumes?service=crash-space`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const items = ((await volumes.body.json()) as { items: Array<{ id: string; status: string; sizeBytes: number }> }).items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: got.body.metadata.labels['polly-volume'], status: 'available', sizeBytes: 2 ** 30 });
    expect(await second.stop()).toBe(0);
  }, 300_000);
});
