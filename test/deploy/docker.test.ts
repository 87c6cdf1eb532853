import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DOCKER_SOCKET } from '../../src/api/docker/volume-plugin.js';

/**
 * deploy/docker, checked offline: config.json as Docker's managed-plugin config (v1: the fields
 * moby's `types.PluginConfig` knows, no others) with what Swarm's CSI cluster volumes need (both CSI
 * interfaces, the interface socket the agent serves, `/data/published` as the propagated mount,
 * CAP_SYS_ADMIN); every variable it sets is one Polly reads; the entrypoint is where the image puts
 * `polly`. polly.spec names the socket the agent's Docker plugin listens on.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'deploy', 'docker');

interface PluginEnv {
  name: string;
  description?: string;
  settable?: string[];
  value: string;
}
interface PluginConfig {
  description: string;
  documentation: string;
  entrypoint: string[];
  interface: { types: string[]; socket: string; protocolScheme?: string };
  network: { type: string };
  propagatedMount: string;
  linux: { capabilities: string[]; allowAllDevices?: boolean; devices?: unknown[] };
  mounts: Array<{ name?: string; description?: string; settable?: string[]; source: string; destination: string; type: string; options: string[] }>;
  env: PluginEnv[];
}

const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as PluginConfig;

const KNOWN = {
  top: ['args', 'description', 'documentation', 'entrypoint', 'env', 'interface', 'ipchost', 'linux', 'mounts', 'network', 'pidhost', 'propagatedMount', 'user', 'workdir', 'rootfs'],
  interface: ['types', 'socket', 'protocolScheme'],
  linux: ['capabilities', 'allowAllDevices', 'devices'],
  mount: ['name', 'description', 'settable', 'source', 'destination', 'type', 'options'],
  env: ['name', 'description', 'settable', 'value'],
};

function unknownKeys(obj: object, known: string[]): string[] {
  return Object.keys(obj).filter((k) => !known.includes(k));
}

/** Every POLLY_* variable the CLI, the agent and the config loader read. */
function variablesPollyReads(): Set<string> {
  const files = ['src/cli/commands/agent.ts', 'src/cli/program.ts', 'src/cli/context.ts', 'src/config/config.ts'];
  const out = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/POLLY_[A-Z_]+/g)) out.add(m[0]);
  }
  return out;
}

describe('deploy/docker/config.json (Swarm CSI cluster volumes, Docker >= 23)', () => {
  it('is a managed-plugin config: known fields only, of the right types', () => {
    expect(unknownKeys(config, KNOWN.top)).toEqual([]);
    expect(unknownKeys(config.interface, KNOWN.interface)).toEqual([]);
    expect(unknownKeys(config.linux, KNOWN.linux)).toEqual([]);
    for (const m of config.mounts) {
      expect(unknownKeys(m, KNOWN.mount)).toEqual([]);
      expect(m.type).toBe('bind');
      expect(m.source.startsWith('/') && m.destination.startsWith('/')).toBe(true);
    }
    for (const e of config.env) {
      expect(unknownKeys(e, KNOWN.env)).toEqual([]);
      expect(typeof e.value).toBe('string');
      for (const s of e.settable ?? []) expect(['value']).toContain(s);
    }
    expect(config.entrypoint.every((a) => typeof a === 'string')).toBe(true);
    expect(typeof config.description).toBe('string');
  });

  it('declares both CSI interfaces, on the socket the agent serves CSI on', () => {
    expect(config.interface.types).toEqual(['docker.csicontroller/1.0', 'docker.csinode/1.0']);
    // Docker looks for the interface socket under /run/docker/plugins in the plugin's filesystem.
    const env = new Map(config.env.map((e) => [e.name, e.value]));
    expect(env.get('POLLY_CSI_NODE_SOCKET')).toBe(`/run/docker/plugins/${config.interface.socket}`);
    expect(env.get('CSI_ENDPOINT')).toBe(`unix:///run/docker/plugins/${config.interface.socket}`);
    expect(basename(config.interface.socket)).toBe(config.interface.socket);
  });

  it('has what Swarm needs to publish volumes: /data/published propagated, CAP_SYS_ADMIN, host network and /dev', () => {
    expect(config.propagatedMount).toBe('/data/published');
    expect(config.linux.capabilities).toContain('CAP_SYS_ADMIN');
    expect(config.network.type).toBe('host');
    expect(config.mounts.find((m) => m.destination === '/dev')?.options).toContain('rbind');
  });

  it('runs the polly the image installs, with variables Polly reads, the secrets left to the operator', () => {
    const build = readFileSync(join(ROOT, 'deploy', 'image', 'build.sh'), 'utf8');
    expect(config.entrypoint[0]).toBe('/usr/local/bin/polly');
    expect(build).toContain('"$fs/usr/local/bin/polly"');
    expect(config.entrypoint[1]).toBe('agent');
    const reads = variablesPollyReads();
    for (const e of config.env.filter((x) => x.name.startsWith('POLLY_'))) expect(reads, e.name).toContain(e.name);
    // The server's addresses (REST, and CSI for the forwarded Controller) and the service token are the
    // operator's, set with `docker plugin set`.
    for (const name of ['POLLY_URL', 'POLLY_TOKEN', 'POLLY_CSI_CONTROLLER']) {
      const e = config.env.find((x) => x.name === name);
      expect(e?.value, name).toBe('');
      expect(e?.settable, name).toEqual(['value']);
    }
    // An empty non-settable variable would override the agent's default with nothing.
    for (const e of config.env.filter((x) => !(x.settable ?? []).includes('value'))) expect(e.value, e.name).not.toBe('');
  });
});

describe('deploy/docker/polly.spec (legacy VolumeDriver, Docker 20.10 Swarm)', () => {
  it("names the agent's Docker plugin socket", () => {
    expect(readFileSync(join(DIR, 'polly.spec'), 'utf8').trim()).toBe(`unix://${DEFAULT_DOCKER_SOCKET}`);
  });
});
