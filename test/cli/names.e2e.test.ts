import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment, Snapshot, Volume } from '../../src/cli/types.js';
import { loadConfig } from '../../src/config/config.js';
import { PollyServer } from '../../src/server.js';
import { killAll, POLLY_BIN, runPolly } from './process.js';

/**
 * Names on the command line: every volume and snapshot argument takes a name as well as an id, looked up
 * in the caller's service (the admin picks one with --service); `polly attachment`; shell completion run
 * by real bash, zsh and fish. The real CLI against a real server.
 */

let server: PollyServer | undefined;
let tmp = '';
let adminToken = '';
const tokens: Record<string, string> = {};
let env: Record<string, string> = {};
const run = promisify(execFile);

const polly = (args: string[], token = adminToken) => runPolly(args, { ...env, POLLY_TOKEN: token }, tmp);
const json = <T>(text: string) => JSON.parse(text) as T;
const api = async (path: string, token = adminToken, init: RequestInit = {}) => {
  const res = await fetch(`${server!.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as { items: Array<{ id: string; service: string; name: string }> } };
};

const ids: Record<string, string> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'polly-cli-names-'));
  const config = loadConfig({
    document: { listen: '127.0.0.1:0', dataDir: tmp, pools: [{ name: 'local', driver: 'local', path: join(tmp, 'pool') }] },
    env: {},
  });
  server = await PollyServer.create(config, { logger: pino({ level: 'silent' }) });
  await server.start();
  adminToken = readFileSync(server.adminTokenFile ?? join(tmp, 'admin.token'), 'utf8').trim();
  env = { POLLY_URL: server.url, POLLY_DATA_DIR: join(tmp, 'nowhere') };
  for (const service of ['alice', 'bob']) {
    expect((await polly(['service', 'create', service])).code).toBe(0);
    tokens[service] = (await polly(['service', 'token', service])).stdout.trim();
    // Both services name a volume pg-data: unique per service, ambiguous for the admin.
    const v = await polly(['volume', 'create', 'pg-data', '--size', '16MiB', '-o', 'json'], tokens[service]);
    expect(v.stderr).toBe('');
    ids[service] = json<Volume>(v.stdout).id;
  }
});

afterAll(async () => {
  killAll();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('GET /v1/volumes?name= and /v1/snapshots?name=', () => {
  it('finds a volume by its exact name in the caller scope', async () => {
    const admin = await api('/v1/volumes?name=pg-data');
    expect(admin.body.items.map((v) => v.service).sort()).toEqual(['alice', 'bob']);
    expect((await api('/v1/volumes?name=pg-data&service=bob')).body.items.map((v) => v.id)).toEqual([ids.bob]);
    expect((await api('/v1/volumes?name=pg-data', tokens.alice)).body.items.map((v) => v.id)).toEqual([ids.alice]);
    expect((await api('/v1/volumes?name=pg', tokens.alice)).body.items).toEqual([]);
  });
});

describe('volume names on the command line', () => {
  it('a service token resolves a name in its own service, wherever an id is taken', async () => {
    const got = await polly(['volume', 'get', 'pg-data', '-o', 'json'], tokens.alice);
    expect(got.stderr).toBe('');
    expect(json<Volume>(got.stdout).id).toBe(ids.alice);

    expect((await polly(['volume', 'label', 'pg-data', 'tier=gold'], tokens.alice)).stdout).toMatch(/Labels:\s+tier=gold/);
    expect((await polly(['volume', 'expand', 'pg-data', '--size', '32MiB'], tokens.alice)).stdout).toMatch(/Size:\s+32\.0 MiB/);
    expect((await polly(['volume', 'ls', '--name', 'pg-data', '-o', 'json'], tokens.alice)).stdout).toContain(ids.alice);

    const snap = await polly(['volume', 'snapshot', 'pg-data', 'nightly', '-o', 'json'], tokens.alice);
    expect(json<Snapshot>(snap.stdout)).toMatchObject({ name: 'nightly', volumeId: ids.alice });
    expect((await polly(['snapshot', 'ls', '--volume', 'pg-data'], tokens.alice)).stdout).toMatch(/\snightly\s/);
    expect((await polly(['snapshot', 'get', 'nightly'], tokens.alice)).stdout).toMatch(new RegExp(`Volume:\\s+${ids.alice}`));

    const restored = await polly(['volume', 'create', 'restored', '--size', '32MiB', '--from-snapshot', 'nightly', '-o', 'json'], tokens.alice);
    expect(restored.stderr).toBe('');
    expect(json<Volume>(restored.stdout).source).toMatchObject({ kind: 'snapshot' });
    const clone = await polly(['volume', 'create', 'clone', '--size', '32MiB', '--from-volume', 'pg-data', '-o', 'json'], tokens.alice);
    expect(json<Volume>(clone.stdout).source).toMatchObject({ kind: 'volume', id: ids.alice });

    expect((await polly(['snapshot', 'rm', 'nightly'], tokens.alice)).stdout).toBe('deleted snapshot nightly\n');
    const removed = await polly(['volume', 'rm', 'restored', 'clone'], tokens.alice);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe('deleted volume restored\ndeleted volume clone\n');
  });

  it('the admin picks the service with --service; without it a shared name is ambiguous', async () => {
    const ambiguous = await polly(['volume', 'get', 'pg-data']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toBe('polly: VOLUME_NAME_AMBIGUOUS: volume name "pg-data" is used in services alice, bob: pick one with --service, or give the id\n');

    const bob = await polly(['volume', 'get', 'pg-data', '--service', 'bob', '-o', 'json']);
    expect(json<Volume>(bob.stdout)).toMatchObject({ id: ids.bob, service: 'bob' });
    // A name found in one service only needs no --service.
    await polly(['volume', 'create', 'only-bob', '--size', '16MiB'], tokens.bob);
    expect((await polly(['volume', 'get', 'only-bob', '-o', 'json'])).stdout).toContain('"service": "bob"');
    expect((await polly(['volume', 'rm', 'only-bob'])).code).toBe(0);
  });

  it('an unknown name is VOLUME_NOT_FOUND / SNAPSHOT_NOT_FOUND; names of another service are not visible', async () => {
    const missing = await polly(['volume', 'get', 'nope', '--service', 'bob']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('polly: VOLUME_NOT_FOUND: no volume named "nope" in service bob\n');
    expect((await polly(['snapshot', 'rm', 'nope'], tokens.alice)).stderr).toBe('polly: SNAPSHOT_NOT_FOUND: no snapshot named "nope"\n');
    // bob's only-bob is gone, and alice never sees bob's names.
    expect((await polly(['volume', 'get', 'only-bob'], tokens.alice)).stderr).toMatch(/^polly: VOLUME_NOT_FOUND: /);
    // A service token's scope is its own service, whatever --service says.
    expect(json<Volume>((await polly(['volume', 'get', 'pg-data', '--service', 'bob', '-o', 'json'], tokens.alice)).stdout).id).toBe(ids.alice);
    // An id is taken as an id.
    expect((await polly(['volume', 'get', ids.bob ?? ''], tokens.alice)).stderr).toMatch(/^polly: VOLUME_NOT_FOUND: volume vol-/);
  });

  it('snapshot names are ambiguous for the admin across services too', async () => {
    for (const service of ['alice', 'bob']) await polly(['volume', 'snapshot', 'pg-data', 'weekly'], tokens[service]);
    const res = await polly(['snapshot', 'get', 'weekly']);
    expect(res.stderr).toMatch(/^polly: SNAPSHOT_NAME_AMBIGUOUS: snapshot name "weekly" is used in services alice, bob/);
    expect((await polly(['snapshot', 'rm', 'weekly', '--service', 'alice'])).code).toBe(0);
    expect((await polly(['snapshot', 'rm', 'weekly'])).code).toBe(0); // only bob's is left
  });
});

describe('polly attachment', () => {
  it('attaches by volume name, lists with the volume name, node, mode, token and lease, and detaches', async () => {
    const reg = await fetch(`${server!.url}/v1/nodes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'names-node-1', hostname: 'names-node-1.example' }),
    });
    expect(reg.status).toBe(200);
    const made = await polly(['attachment', 'create', 'pg-data', '--node', 'names-node-1', '--access-mode', 'rwo', '-o', 'json'], tokens.alice);
    expect(made.stderr).toBe('');
    const a = json<Attachment>(made.stdout);
    expect(a).toMatchObject({ volumeId: ids.alice, node: 'names-node-1', accessMode: 'RWO', status: 'live' });

    const ls = await polly(['attachment', 'ls'], tokens.alice);
    expect(ls.code).toBe(0);
    const [head, row, ...rest] = ls.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ID\s+VOLUME\s+SERVICE\s+NODE\s+MODE\s+TOKEN\s+STATUS\s+LEASE\s+AGE$/);
    expect(row).toMatch(new RegExp(`^${a.id}\\s+pg-data\\s+alice\\s+names-node-1\\s+RWO\\s+${a.fencingToken}\\s+live\\s+in \\d+s\\s+\\d+s$`));
    expect(rest).toEqual([]);
    expect((await polly(['attachment', 'ls'], tokens.bob)).stdout).toBe('');
    expect((await polly(['attachment', 'ls', '--volume', 'pg-data', '--service', 'bob', '-o', 'json'])).stdout.trim()).toBe('[]');
    expect(json<Attachment[]>((await polly(['attachment', 'ls', '--volume', 'pg-data', '-o', 'json'], tokens.alice)).stdout).map((x) => x.id)).toEqual([a.id]);

    const got = await polly(['attachment', 'get', a.id], tokens.alice);
    expect(got.stdout).toMatch(new RegExp(`Volume:\\s+pg-data \\(${ids.alice}\\)`));
    expect(got.stdout).toMatch(/Access mode:\s+RWO/);

    expect((await polly(['attachment', 'rm', a.id], tokens.alice)).stdout).toBe(`detached attachment ${a.id}\n`);
    expect((await polly(['attachment', 'ls'], tokens.alice)).stderr).toBe('No attachments.\n');
  });
});

describe('shell completion', () => {
  let bin = '';

  beforeAll(async () => {
    // The scripts call `polly complete -- WORDS`: put a `polly` that runs these sources on PATH.
    bin = join(tmp, 'bin');
    await mkdir(bin, { recursive: true });
    writeFileSync(join(bin, 'polly'), `#!/bin/sh\nexec "${process.execPath}" "${POLLY_BIN}" "$@"\n`);
    chmodSync(join(bin, 'polly'), 0o755);
  });

  const shellEnv = () => ({ PATH: `${bin}:${process.env.PATH}`, HOME: tmp, NO_COLOR: '1', POLLY_URL: 'http://127.0.0.1:9', POLLY_DATA_DIR: join(tmp, 'nowhere') });

  it('polly complete answers subcommands, options and option choices without a server', async () => {
    const sub = await runPolly(['complete', '--', 'volume', 'g'], { POLLY_URL: 'http://127.0.0.1:9' });
    expect(sub.stdout).toBe('get\tShow one volume\n:4\n');
    const status = await runPolly(['complete', '--', 'volume', 'ls', '--status', ''], {});
    expect(status.stdout.split('\n').map((l) => l.split('\t')[0])).toEqual(expect.arrayContaining(['available', 'attached', 'error']));
    const top = await runPolly(['complete', '--', 'att'], {});
    expect(top.stdout).toMatch(/^attachment\t/);
    const usage = await runPolly(['completion', 'tcsh'], {});
    expect(usage.code).toBe(2);
  });

  it('completes the names of the caller volumes, read from the server', async () => {
    const alice = { POLLY_URL: server!.url, POLLY_TOKEN: tokens.alice ?? '', POLLY_DATA_DIR: join(tmp, 'nowhere') };
    const args = await runPolly(['complete', '--', 'volume', 'get', ''], alice);
    expect(args.stdout).toBe('pg-data\tvolume\n:4\n');
    const option = await runPolly(['complete', '--', 'volume', 'create', 'x', '--from-volume', ''], alice);
    expect(option.stdout.split('\n')[0]).toBe('pg-data\tvolume');
    // The admin sees every service's names, each once.
    const admin = await runPolly(['complete', '--', 'volume', 'rm', ''], { ...alice, POLLY_TOKEN: adminToken });
    expect(admin.stdout).toBe('pg-data\tvolume\n:4\n');
    await polly(['volume', 'snapshot', 'pg-data', 'hourly'], tokens.alice);
    expect((await runPolly(['complete', '--', 'snapshot', 'get', ''], alice)).stdout).toBe('hourly\tsnapshot\n:4\n');
  });

  it('bash (with bash-completion) completes `polly volume g` and `polly attachment l`', async () => {
    const script = join(tmp, 'polly.bash');
    writeFileSync(script, (await runPolly(['completion', 'bash'], {})).stdout);
    const complete = (line: string) =>
      [
        'source /usr/share/bash-completion/bash_completion',
        `source ${script}`,
        `COMP_LINE='${line}'; COMP_POINT=\${#COMP_LINE}; read -ra COMP_WORDS <<< "$COMP_LINE"; COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))`,
        '__polly_complete',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
    expect((await run('bash', ['-c', complete('polly volume g')], { env: shellEnv() })).stdout.trim()).toBe('get');
    expect((await run('bash', ['-c', complete('polly attachment l')], { env: shellEnv() })).stdout.trim()).toBe('ls');
    expect((await run('bash', ['-c', complete('polly completion f')], { env: shellEnv() })).stdout.trim()).toBe('fish');
  });

  it('fish completes from the script it loads', async () => {
    const script = join(tmp, 'polly.fish');
    writeFileSync(script, (await runPolly(['completion', 'fish'], {})).stdout);
    const { stdout } = await run('fish', ['--no-config', '-c', `source ${script}; complete -C 'polly snapshot '`], { env: shellEnv() });
    expect(stdout.split('\n').map((l) => l.split('\t')[0])).toEqual(expect.arrayContaining(['ls', 'get', 'rm']));
  });

  it('zsh (compinit, on a pseudo-terminal) completes `polly volume ge` to `polly volume get`', async () => {
    const script = join(tmp, '_polly');
    writeFileSync(script, (await runPolly(['completion', 'zsh'], {})).stdout);
    await run('zsh', ['-n', script]);
    // An interactive zsh on a zpty: type the words and TAB, then read the line zsh redraws.
    const driver = join(tmp, 'complete.zsh');
    writeFileSync(
      driver,
      [
        'zmodload zsh/zpty',
        `zpty z 'zsh -f -i'`,
        `zpty -w z 'PS1="> "; autoload -U compinit; compinit -u; source ${script}'`,
        "zpty -wn z $'polly volume ge\\t'",
        'buf=""',
        'for i in {1..300}; do',
        '  zpty -rt z chunk && buf+=$chunk',
        '  [[ $buf == *"polly volume get"* ]] && break',
        '  sleep 0.1',
        'done',
        'zpty -d z',
        '[[ $buf == *"polly volume get"* ]] && print completed || print -r -- "no completion: ${(V)buf}"',
      ].join('\n'),
    );
    const { stdout } = await run('zsh', ['-f', driver], { env: shellEnv(), timeout: 60_000 });
    expect(stdout.trim()).toBe('completed');
  });
});
