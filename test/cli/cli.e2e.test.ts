import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollyEvent, Snapshot, Volume } from '../../src/cli/types.js';
import { loadConfig } from '../../src/config/config.js';
import { PollyServer } from '../../src/server.js';
import { exitCode, freePort, killAll, runPolly, spawnPolly, waitForOutput } from './process.js';

const MiB = 1024 * 1024;
let server: PollyServer | undefined;
let tmp = '';
let adminToken = '';
let aliceToken = '';
let env: Record<string, string> = {};

/** `polly ARGS…` against the test server, with the admin token unless another is given. */
const polly = (args: string[], token = adminToken, extra: Record<string, string> = {}) =>
  runPolly(args, { ...env, POLLY_TOKEN: token, ...extra }, tmp);
const json = <T>(text: string) => JSON.parse(text) as T;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'polly-cli-test-'));
  const config = loadConfig({
    document: { listen: '127.0.0.1:0', dataDir: tmp, pools: [{ name: 'local', driver: 'local', path: join(tmp, 'pool') }] },
    env: {},
  });
  server = await PollyServer.create(config, { logger: pino({ level: 'silent' }) });
  await server.start();
  adminToken = readFileSync(server.adminTokenFile ?? join(tmp, 'admin.token'), 'utf8').trim();
  // POLLY_DATA_DIR points where no admin.token exists, so only the token we pass is used.
  env = { POLLY_URL: server.url, POLLY_DATA_DIR: join(tmp, 'nowhere') };
});

afterAll(async () => {
  killAll();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('services', () => {
  it('creates, lists and issues a token shown once', async () => {
    const created = await polly(['service', 'create', 'alice', '--label', 'team=storage']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Name:\s+alice/);

    const ls = await polly(['service', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^NAME\s+LABELS\s+AGE\nalice\s+team=storage\s+\d+s$/m);

    const token = await polly(['service', 'token', 'alice', '--description', 'cli test']);
    expect(token.code).toBe(0);
    aliceToken = token.stdout.trim();
    expect(aliceToken).not.toMatch(/\s/);
    expect(aliceToken.length).toBeGreaterThanOrEqual(16);
    expect(token.stderr).toMatch(/for service alice: store it now, it is not shown again/);

    const asJson = await polly(['service', 'get', 'alice', '-o', 'json']);
    expect(json<{ name: string; labels: object }>(asJson.stdout)).toMatchObject({ name: 'alice', labels: { team: 'storage' } });
  });
});

describe('volumes with a service token', () => {
  let id = '';

  it('creates a volume and prints it as JSON', async () => {
    const res = await polly(['volume', 'create', 'data', '--size', '64MiB', '--label', 'app=db', '--field', 'owner=ops', '-o', 'json'], aliceToken);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const v = json<Volume>(res.stdout);
    expect(v).toMatchObject({ name: 'data', service: 'alice', pool: 'local', sizeBytes: 64 * MiB, status: 'available', labels: { app: 'db' }, fields: { owner: 'ops' } });
    id = v.id;
  });

  it('lists it as a table and as JSON, and shows it as YAML', async () => {
    const table = await polly(['volume', 'ls'], aliceToken);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+SERVICE\s+POOL\s+SIZE\s+STATUS\s+LABELS\s+AGE$/);
    expect(lines[1]).toMatch(new RegExp(`^${id}\\s+data\\s+alice\\s+local\\s+64\\.0 MiB\\s+available\\s+app=db\\s+\\d+s$`));
    expect(table.stdout).not.toContain('\u001b['); // not a TTY: no colours

    const list = json<Volume[]>((await polly(['volume', 'ls', '-o', 'json', '--label', 'app=db'], aliceToken)).stdout);
    expect(list.map((v) => v.id)).toEqual([id]);
    expect(json<Volume[]>((await polly(['volume', 'ls', '-o', 'json', '--label', 'app=web'], aliceToken)).stdout)).toEqual([]);

    const yaml = await polly(['volume', 'get', id, '-o', 'yaml'], aliceToken);
    expect(parseYaml(yaml.stdout)).toMatchObject({ id, name: 'data', sizeBytes: 64 * MiB });
  });

  it('relabels: sets and removes keys, keeping the others', async () => {
    const res = await polly(['volume', 'label', id, 'tier=gold', 'zone=a', '--remove', 'app', '-o', 'json'], aliceToken);
    expect(res.code).toBe(0);
    expect(json<Volume>(res.stdout).labels).toEqual({ tier: 'gold', zone: 'a' });
    const again = await polly(['volume', 'label', id, '--remove', 'zone', '-o', 'json'], aliceToken);
    expect(json<Volume>(again.stdout).labels).toEqual({ tier: 'gold' });
  });

  it('expands', async () => {
    const res = await polly(['volume', 'expand', id, '--size', '128MiB'], aliceToken);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Size:\s+128\.0 MiB \(134217728 bytes\)/);
  });

  it('snapshots, lists and deletes the snapshot', async () => {
    const snap = await polly(['volume', 'snapshot', id, 'before-upgrade', '-o', 'json'], aliceToken);
    expect(snap.code).toBe(0);
    const s = json<Snapshot>(snap.stdout);
    expect(s).toMatchObject({ name: 'before-upgrade', volumeId: id, service: 'alice' });

    const ls = await polly(['snapshot', 'ls', '--volume', id], aliceToken);
    expect(ls.stdout).toMatch(new RegExp(`^${s.id}\\s+before-upgrade\\s+${id}\\s`, 'm'));
    expect((await polly(['snapshot', 'get', s.id], aliceToken)).stdout).toMatch(/Name:\s+before-upgrade/);

    const removed = await polly(['snapshot', 'rm', s.id], aliceToken);
    expect(removed.code).toBe(0);
    expect(removed.stdout.trim()).toBe(`deleted snapshot ${s.id}`);
  });

  it('pages with --limit and follows the cursor with --all', async () => {
    for (const name of ['p1', 'p2']) expect((await polly(['volume', 'create', name, '--size', '1MiB'], aliceToken)).code).toBe(0);
    const one = await polly(['volume', 'ls', '--limit', '1', '-o', 'json'], aliceToken);
    expect(json<Volume[]>(one.stdout)).toHaveLength(1);
    expect(one.stderr).toContain('more volumes');
    const all = await polly(['volume', 'ls', '--limit', '1', '--all', '-o', 'json'], aliceToken);
    expect(json<Volume[]>(all.stdout).map((v) => v.name).sort()).toEqual(['data', 'p1', 'p2']);
    expect(all.stderr).toBe('');
  });

  it('deletes volumes; a missing one then exits 1 with its error code', async () => {
    const ids = json<Volume[]>((await polly(['volume', 'ls', '-o', 'json'], aliceToken)).stdout).map((v) => v.id);
    const res = await polly(['volume', 'rm', ...ids], aliceToken);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`deleted volume ${id}`);

    const missing = await polly(['volume', 'get', id], aliceToken);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^polly: VOLUME_NOT_FOUND: .*\n$/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('records events, listed as JSON and followed live', async () => {
    const listed = json<PollyEvent[]>((await polly(['events', '--type', 'volume.created', '-o', 'json'], aliceToken)).stdout);
    expect(listed.map((e) => e.type)).toContain('volume.created');
    // Each event names who did it (alice's token) and the request it came from.
    const mine = listed.find((e) => e.service === 'alice');
    expect(mine?.actor).toMatchObject({ kind: 'service', service: 'alice', tokenId: expect.stringMatching(/^tok-/) });
    expect(mine?.requestId).toMatch(/^req-/);
    const table = (await polly(['events', '--type', 'volume.created'], aliceToken)).stdout;
    expect(table.split('\n')[0]).toMatch(/ACTOR\s+REQUEST/);
    expect(table).toMatch(/service:alice\/tok-\S+\s+req-/);

    const follower = spawnPolly(['events', '--follow', '--type', 'volume', '--after', '0'], { ...env, POLLY_TOKEN: aliceToken }, tmp);
    await waitForOutput(follower, /volume\.created\s+alice\s+vol-/);
    const live = waitForOutput(follower, /volume\.created\s+alice\s+vol-\S+\s+.*"live"/);
    expect((await polly(['volume', 'create', 'live', '--size', '1MiB'], aliceToken)).code).toBe(0);
    await live;
    follower.kill('SIGINT');
    expect(await exitCode(follower)).toBe(0);
  });
});

describe('pools and version', () => {
  it('lists pools with human sizes', async () => {
    const res = await polly(['pool', 'ls']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^NAME\s+DRIVER\s+STATE\s+TOTAL\s+FREE\s+ALLOCATED\s+VOLUMES\s+USAGE$/m);
    expect(res.stdout).toMatch(/^local\s+local\s+enabled\s+[\d.]+ [KMGTP]?i?B\s+[\d.]+ [KMGTP]?i?B\s+[\d.]+ [KMGTP]?i?B\s+\d+\s+\[[#.]{10}\]\s+\d+%$/m);
    expect((await polly(['pool', 'get', 'local'])).stdout).toMatch(/Driver:\s+local/);
  });

  it('prints the client and the server version', async () => {
    const res = await polly(['version']);
    expect(res.stdout).toMatch(/^Client: \d+\.\d+\.\d+\nServer: \d+\.\d+\.\d+ \(http:\/\/127\.0\.0\.1:\d+\)\n$/);
  });
});

describe('errors', () => {
  it('rejects a bad size as a usage error, naming it', async () => {
    const res = await polly(['volume', 'create', 'x', '--size', '10 bananas'], aliceToken);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('"10 bananas" is not a size (use e.g. 10GiB');
  });

  it('exits 3 with a clear message when the server cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const res = await polly(['volume', 'ls'], adminToken, { POLLY_URL: url });
    expect(res.code).toBe(3);
    expect(res.stderr).toBe(`polly: cannot reach Polly at ${url}: connection refused\n`);
  });

  it('reports a missing token as UNAUTHENTICATED with a hint', async () => {
    const res = await polly(['volume', 'ls'], '');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^polly: UNAUTHENTICATED: .*POLLY_TOKEN/);
  });

  it('exits 2 on unknown commands and bad output formats', async () => {
    expect((await polly(['frobnicate'])).code).toBe(2);
    const bad = await polly(['-o', 'xml', 'pool', 'ls']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Allowed choices are table, json, yaml');
  });
});

describe('polly server', () => {
  it('starts, writes a 0600 admin token, serves the CLI and stops on SIGTERM', async () => {
    const dataDir = join(tmp, 'server-data');
    const port = await freePort();
    const child = spawnPolly(['server'], { POLLY_DATA_DIR: dataDir, POLLY_LISTEN: `127.0.0.1:${port}`, POLLY_LOG_LEVEL: 'info' }, tmp);
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const started = waitForOutput(child, /Admin token: (.+) \(export POLLY_TOKEN=\$\(cat .+\)\)\n/);
    const [, url] = (await waitForOutput(child, /^Polly \S+ serving (http:\/\/127\.0\.0\.1:\d+) \(store: sqlite .+polly\.db\)$/m)) as unknown as [string, string];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    await started;

    const tokenFile = join(dataDir, 'admin.token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const ls = await runPolly(['pool', 'ls'], { POLLY_URL: url, POLLY_TOKEN: token }, tmp);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^local\s+local\s+enabled/m);
    // Without --token the admin token file next to the local server is used.
    const implicit = await runPolly(['service', 'ls', '-o', 'json'], { POLLY_URL: url, POLLY_DATA_DIR: dataDir }, tmp);
    expect(implicit.code).toBe(0);
    expect(json<unknown[]>(implicit.stdout)).toEqual([]);

    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
    // stdout is the JSON log only (a collector parses every line); the operator's lines went to stderr.
    const lines = stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(stdout).not.toContain('Admin token:');
  });

  it('exits 2 with the message on a configuration error', async () => {
    const res = await runPolly(['server', '--config', join(tmp, 'missing.yml')], {}, tmp);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`polly: config ${join(tmp, 'missing.yml')}: file not found\n`);
  });
});

describe('nodes', () => {
  it('ls shows the self-fence deadline and re-grant time; fence ends attachments; unfence lifts it', async () => {
    const reg = await fetch(`${server!.url}/v1/nodes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'cli-node-1', hostname: 'cli-node-1.example' }),
    });
    expect(reg.status).toBe(200);
    const ls = await polly(['node', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^NODE\s+HOSTNAME\s+LAST HEARTBEAT\s+SELF-FENCE BY\s+RE-GRANT AFTER\s+LEASE\/MARGIN\/SKEW\s+FENCED$/m);
    expect(ls.stdout).toMatch(/cli-node-1\s+cli-node-1\.example\s+\d+s\s+\S+Z\s+\S+Z\s+30s\/5s\/2s\s+no/);
    const fenced = await polly(['node', 'fence', 'cli-node-1', '--reason', 'powered off']);
    expect(fenced.code).toBe(0);
    expect(fenced.stdout).toMatch(/Fenced:\s+fenced \S+ \(powered off\)/);
    expect(fenced.stdout).toMatch(/Ended attachments: none/);
    const denied = await polly(['node', 'fence', 'cli-node-1'], aliceToken);
    expect(denied.code).not.toBe(0);
    const unfenced = await polly(['node', 'unfence', 'cli-node-1']);
    expect(unfenced.code).toBe(0);
    expect(unfenced.stdout).toMatch(/Fenced:\s+no/);
    const got = await polly(['node', 'get', 'cli-node-1', '-o', 'json']);
    expect(json<{ fence: unknown }>(got.stdout).fence).toBeNull();
  });
});
