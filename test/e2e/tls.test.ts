import { execFile } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { credentials, makeGenericClientConstructor, type ChannelCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from '../../src/agent/server-client.js';
import { csiService } from '../../src/api/csi/proto.js';
import { freePort, killAll, runPolly, spawnPolly, waitForOutput } from '../cli/process.js';

const run = promisify(execFile);
const TOKEN = `tls-admin-token-${process.pid}-0123456789abcdef`;
let tmp = '';
let url = '';
let ca = '';
let csiPort = 0;
let server: ReturnType<typeof spawnPolly>;

/** A server certificate for localhost/127.0.0.1 signed by the test CA, with a recognisable serial. */
async function issue(name: string, serial: string): Promise<void> {
  const ext = join(tmp, `${name}.ext`);
  await writeFile(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, `${name}.key`), '-out', join(tmp, `${name}.csr`), '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', join(tmp, `${name}.csr`), '-CA', join(tmp, 'ca.pem'), '-CAkey', join(tmp, 'ca.key'), '-set_serial', `0x${serial}`, '-days', '2', '-extfile', ext, '-out', join(tmp, `${name}.pem`)]);
}

/** The serial of the certificate a fresh TLS connection is shown (`h2` for the gRPC listener). */
function servedSerial(port: number, alpn?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...(alpn ? { ALPNProtocols: [alpn] } : {}) }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial.toLowerCase());
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), `polly-tls-${process.pid}-`));
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, 'ca.key'), '-out', join(tmp, 'ca.pem'), '-subj', '/CN=polly-test-ca', '-days', '2']);
  ca = readFileSync(join(tmp, 'ca.pem'), 'utf8');
  await issue('first', 'aa01');
  await issue('second', 'bb02');
  await rename(join(tmp, 'first.pem'), join(tmp, 'server.pem'));
  await rename(join(tmp, 'first.key'), join(tmp, 'server.key'));
  const port = await freePort();
  await writeFile(
    join(tmp, 'polly.yml'),
    [
      `listen: 127.0.0.1:${port}`,
      `dataDir: ${join(tmp, 'data')}`,
      `adminToken: ${TOKEN}`,
      'tls:',
      `  certFile: ${join(tmp, 'server.pem')}`,
      `  keyFile: ${join(tmp, 'server.key')}`,
      'csi:',
      '  - endpoint: tcp://127.0.0.1:0',
      '',
    ].join('\n'),
  );
  server = spawnPolly(['server', '--config', join(tmp, 'polly.yml')], {}, tmp);
  const csiListening = waitForOutput(server, /"listening":"tcp:\/\/127\.0\.0\.1:(\d+)","tls":true[^\n]*"msg":"CSI listening"/, 90_000);
  url = (await waitForOutput(server, /serving (https:\/\/\S+)/, 90_000))[1]!;
  csiPort = Number((await csiListening)[1]);
}, 120_000);
afterAll(async () => {
  killAll();
  await rm(tmp, { recursive: true, force: true });
});

/** CSI Identity.GetPluginInfo over the given channel credentials. */
function pluginInfo(creds: ChannelCredentials): Promise<{ name: string }> {
  const Identity = makeGenericClientConstructor(csiService('Identity'), 'Identity');
  const client = new Identity(`localhost:${csiPort}`, creds);
  return new Promise<{ name: string }>((resolve, reject) => {
    client.makeUnaryRequest(
      '/csi.v1.Identity/GetPluginInfo',
      (m: object) => Buffer.from(csiService('Identity').GetPluginInfo!.requestSerialize(m)),
      (b: Buffer) => csiService('Identity').GetPluginInfo!.responseDeserialize(b) as { name: string },
      {},
      { deadline: Date.now() + 10_000 },
      (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)),
    );
  }).finally(() => client.close());
}

describe('TLS on the REST listener', () => {
  it('serves https; the CLI trusts it only with --ca (or POLLY_CA_FILE), and so does the agent client', async () => {
    expect(url.startsWith('https://')).toBe(true);
    const env = { POLLY_URL: url, POLLY_TOKEN: TOKEN, POLLY_DATA_DIR: join(tmp, 'nowhere') };
    const untrusted = await runPolly(['pool', 'ls', '-o', 'json'], env, tmp);
    expect(untrusted.code).not.toBe(0);
    const trusted = await runPolly(['pool', 'ls', '-o', 'json', '--ca', join(tmp, 'ca.pem')], env, tmp);
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    expect(JSON.parse(trusted.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'local' })]));
    const byEnv = await runPolly(['pool', 'ls', '-o', 'json'], { ...env, POLLY_CA_FILE: join(tmp, 'ca.pem') }, tmp);
    expect(byEnv.code).toBe(0);

    const agentClient = new ServerClient(url, TOKEN, { ca });
    try {
      expect((await agentClient.call<{ items: Array<{ name: string }> }>('GET', '/v1/pools')).items.map((p) => p.name)).toContain('local');
    } finally {
      await agentClient.close();
    }
    const blind = new ServerClient(url, TOKEN);
    try {
      await expect(blind.call('GET', '/v1/pools')).rejects.toThrow();
    } finally {
      await blind.close();
    }
  });

  it('SIGHUP reloads rotated certificate files without dropping the listener', async () => {
    const port = Number(new URL(url).port);
    expect(await servedSerial(port)).toBe('aa01');
    // Rotate as cert-manager or certbot would: replace the files, then signal.
    await rename(join(tmp, 'second.pem'), join(tmp, 'server.pem'));
    await rename(join(tmp, 'second.key'), join(tmp, 'server.key'));
    const reloaded = waitForOutput(server, /TLS certificate reloaded/);
    server.kill('SIGHUP');
    await reloaded;
    expect(server.exitCode).toBeNull();
    expect(await servedSerial(port)).toBe('bb02');
    // The CSI listener took the same pair, on the same port.
    expect(await servedSerial(csiPort, 'h2')).toBe('bb02');
    expect((await pluginInfo(credentials.createSsl(Buffer.from(ca)))).name).toBeTruthy();
  });

  it('serves CSI over TCP with the same certificate; a plaintext or untrusting client is refused', async () => {
    expect(await servedSerial(csiPort, 'h2')).toMatch(/^(aa01|bb02)$/);
    const info = await pluginInfo(credentials.createSsl(Buffer.from(ca)));
    expect(info.name).toBeTruthy();
    await expect(pluginInfo(credentials.createInsecure())).rejects.toThrow();
    await expect(pluginInfo(credentials.createSsl())).rejects.toThrow();
  });
});
