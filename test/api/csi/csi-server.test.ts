import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseEndpoint, startCsiServer } from '../../../src/api/csi/csi-server.js';
import type * as csi from '../../../src/api/csi/proto.js';
import { startPolly, type TestPolly } from '../../helpers/polly.js';
import { CsiClient } from './csi-harness.js';

let polly: TestPolly;
let dir: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake' }] });
});
afterAll(async () => {
  await polly?.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'polly-csi-server-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that listens on `socket` and is killed with SIGKILL leaves the socket file behind. */
async function leaveStaleSocket(socket: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`listener exited early (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

async function pluginName(endpoint: string): Promise<string> {
  const client = new CsiClient(endpoint);
  try {
    return (await client.identity<csi.GetPluginInfoResponse>('GetPluginInfo')).name;
  } finally {
    client.close();
  }
}

describe('startCsiServer', () => {
  it('serves a unix socket, creating its directory, and removes it on stop', async () => {
    const socket = join(dir, 'plugins', 'polly.csi.dev', 'csi.sock');
    const server = await startCsiServer(polly.server.app, { endpoint: `unix://${socket}` });
    expect(await pluginName(server.endpoint)).toBe('polly.csi.dev');
    await server.stop();
    expect(existsSync(socket)).toBe(false);
    await server.stop(); // twice is fine
  });

  it('replaces a stale socket file left by a dead process', async () => {
    const socket = join(dir, 'csi.sock');
    await leaveStaleSocket(socket);
    expect(existsSync(socket)).toBe(true);
    const server = await startCsiServer(polly.server.app, { endpoint: `unix://${socket}` });
    expect(await pluginName(server.endpoint)).toBe('polly.csi.dev');
    await server.stop();
  });

  it('refuses a socket another process still listens on, and a file that is not a socket', async () => {
    const socket = join(dir, 'busy.sock');
    const live = await startCsiServer(polly.server.app, { endpoint: `unix://${socket}` });
    await expect(startCsiServer(polly.server.app, { endpoint: `unix://${socket}` })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await pluginName(live.endpoint)).toBe('polly.csi.dev');
    await live.stop();

    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'precious');
    await expect(startCsiServer(polly.server.app, { endpoint: `unix://${file}` })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(existsSync(file)).toBe(true);
  });

  it('serves tcp on a free port', async () => {
    const server = await startCsiServer(polly.server.app, { endpoint: 'tcp://127.0.0.1:0' });
    expect(server.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(server.endpoint).not.toBe('tcp://127.0.0.1:0');
    expect(await pluginName(server.endpoint)).toBe('polly.csi.dev');
    await server.stop();
  });
});

describe('parseEndpoint', () => {
  it.each([
    ['unix:///run/csi/csi.sock', { kind: 'unix', path: '/run/csi/csi.sock' }],
    ['tcp://127.0.0.1:10000', { kind: 'tcp', host: '127.0.0.1', port: 10000 }],
    ['tcp://[::1]:10000', { kind: 'tcp', host: '::1', port: 10000 }],
  ])('%s', (endpoint, expected) => {
    expect(parseEndpoint(endpoint)).toEqual(expected);
  });

  it.each(['unix://relative/csi.sock', '/run/csi.sock', 'tcp://127.0.0.1', 'tcp://127.0.0.1:99999', 'http://127.0.0.1:80'])('refuses %s', (endpoint) => {
    expect(() => parseEndpoint(endpoint)).toThrow(/CSI endpoint/);
  });
});
