import { execFile } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from '../../src/agent/server-client.js';
import { freePort, killAll, runPolly, spawnPolly, waitForOutput } from '../cli/process.js';

const run = promisify(execFile);
const TOKEN = `tls-admin-token-${process.pid}-0123456789abcdef`;
let tmp = '';
let url = '';
let ca = '';
let server: ReturnType<typeof spawnPolly>;

/** A server certificate for localhost/127.0.0.1 signed by the test CA, with a recognisable serial. */
async function issue(name: string, serial: string): Promise<void> {
  const ext = join(tmp, `${name}.ext`);
  await writeFile(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, `${name}.key`), '-out', join(tmp, `${name}.csr`), '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', join(tmp, `${name}.csr`), '-CA', join(tmp, 'ca.pem'), '-CAkey', join(tmp, 'ca.key'), '-set_serial', `0x${serial}`, '-days', '2', '-extfile', ext, '-out', join(tmp, `${name}.pem`)]);
}

/** The serial of the certificate a fresh TLS connection is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
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
    [`listen: 127.0.0.1:${port}`, `dataDir: ${join(tmp, 'data')}`, `adminToken: ${TOKEN}`, 'tls:', `  certFile: ${join(tmp, 'server.pem')}`, `  keyFile: ${join(tmp, 'server.key')}`, ''].join('\n'),
  );
  server = spawnPolly(['server', '--config', join(tmp, 'polly.yml')], {}, tmp);
  url = (await waitForOutput(server, /serving (https:\/\/\S+)/))[1]!;
}, 120_000);
afterAll(async () => {
  killAll();
  await rm(tmp, { recursive: true, force: true });
});

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
  });
});
