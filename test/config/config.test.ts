import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { PollyError } from '../../src/core/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'polly-test-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PollyError);
    return (err as PollyError).message;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  it('has embedded defaults: SQLite and a local pool under ./data, REST on 127.0.0.1:7978', () => {
    const c = loadConfig({ env: {} });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7978 });
    expect(c.dataDir).toBe(resolve('data'));
    expect(c.databaseUrl).toBe(`sqlite:${resolve('data', 'polly.db')}`);
    expect(c.pools).toEqual([{ name: 'local', driver: 'local' }]);
    expect(c.profiles.map((p) => p.name)).toEqual(['default']);
    expect(c.adminToken).toBeUndefined();
  });

  it('reads a YAML file and lets POLLY_* environment variables override it', async () => {
    const path = await file(
      'ok.yml',
      `listen: 0.0.0.0:9000
dataDir: /srv/polly
pools:
  - name: fast
    driver: btrfs
    path: /srv/fast
    labels: {media: ssd}
    topology: {zone: a}
profiles:
  - name: gold
    media: ssd
    maxBytes: 1099511627776
services:
  - name: k8s-prod
    tokens: [k8s-prod-token-0123456789]
`,
    );
    const c = loadConfig({ file: path, env: { POLLY_LISTEN: '127.0.0.1:7000', POLLY_DATABASE_URL: 'postgres://u:p@db/polly' } });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(c.dataDir).toBe('/srv/polly');
    expect(c.databaseUrl).toBe('postgres://u:p@db/polly');
    expect(c.pools[0]).toMatchObject({ name: 'fast', driver: 'btrfs', path: '/srv/fast', topology: { zone: 'a' } });
    expect(c.profiles.map((p) => p.name)).toEqual(['default', 'gold']);
    expect(c.services[0]?.tokens).toEqual(['k8s-prod-token-0123456789']);
  });

  it('POLLY_CONFIG names the file', async () => {
    const path = await file('env.yml', 'listen: 127.0.0.1:7111\n');
    expect(loadConfig({ env: { POLLY_CONFIG: path } }).listen.port).toBe(7111);
  });

  it('names unknown keys, at any depth', async () => {
    const path = await file('unknown.yml', 'listn: 1.2.3.4:5\npools:\n  - name: a\n    driver: local\n    sise: 3\n');
    const msg = failure(() => loadConfig({ file: path, env: {} }));
    expect(msg).toContain(path);
    expect(msg).toContain('listn: unknown key');
    expect(msg).toContain('pools.0.sise: unknown key');
  });

  it('names bad values', async () => {
    const path = await file('bad.yml', 'pools:\n  - name: "-bad"\n    driver: 7\n    overSubscriptionRatio: 0.5\n');
    const msg = failure(() => loadConfig({ file: path, env: {} }));
    expect(msg).toContain('pools.0.name');
    expect(msg).toContain('pools.0.driver');
    expect(msg).toContain('pools.0.overSubscriptionRatio');
  });

  it('refuses a missing file, broken YAML, bad listen addresses, short admin tokens and duplicate names', async () => {
    expect(failure(() => loadConfig({ file: join(dir, 'nope.yml'), env: {} }))).toContain('file not found');
    const broken = await file('broken.yml', 'pools: [\n');
    expect(failure(() => loadConfig({ file: broken, env: {} }))).toContain('not valid YAML');
    expect(failure(() => loadConfig({ env: { POLLY_LISTEN: 'localhost' } }))).toContain('listen');
    expect(failure(() => loadConfig({ env: { POLLY_LISTEN: '1.2.3.4:99999' } }))).toContain('listen');
    expect(failure(() => loadConfig({ env: { POLLY_ADMIN_TOKEN: 'short' } }))).toContain('at least 16');
    const dup = await file('dup.yml', 'pools:\n  - {name: a, driver: local}\n  - {name: a, driver: fake}\n');
    expect(failure(() => loadConfig({ file: dup, env: {} }))).toContain('declared twice');
  });

  it('serves CSI over TLS on tcp endpoints when the server has a certificate, and names a csi tls that cannot be', async () => {
    const tls = 'tls:\n  certFile: /etc/polly/tls.crt\n  keyFile: /etc/polly/tls.key\n';
    const both = await file('csi-tls.yml', `${tls}csi:\n  - endpoint: tcp://0.0.0.0:9820\n  - endpoint: unix:///run/polly/csi.sock\n  - endpoint: tcp://127.0.0.1:9821\n    tls: false\n`);
    expect(loadConfig({ file: both, env: {} }).csi.map((c) => c.tls)).toEqual([true, false, false]);
    const plain = await file('csi-plain.yml', 'csi:\n  - endpoint: tcp://0.0.0.0:9820\n');
    expect(loadConfig({ file: plain, env: {} }).csi[0]?.tls).toBe(false);
    const noCert = await file('csi-nocert.yml', 'csi:\n  - endpoint: tcp://0.0.0.0:9820\n    tls: true\n');
    expect(failure(() => loadConfig({ file: noCert, env: {} }))).toContain('csi.0.tls: set tls.certFile and tls.keyFile first');
    const onUnix = await file('csi-unix.yml', `${tls}csi:\n  - endpoint: unix:///run/polly/csi.sock\n    tls: true\n`);
    expect(failure(() => loadConfig({ file: onUnix, env: {} }))).toContain('csi.0.tls: only tcp:// endpoints serve TLS');
  });
});
