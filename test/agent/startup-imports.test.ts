import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The Docker plugin socket must listen fast (volume_driver_cert waits about 1 s for
// `driver-server.started`): importing the agent's runner must not load gRPC, the HTTP client, the
// schema library or the drivers; they load on first use. Checked in a fresh process with a resolve hook
// that reports every module it resolves.
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const HEAVY = ['@grpc', 'undici', 'typebox', 'kysely', 'fastify', 'ajv', 'prom-client'];
let dir: string;

const HOOK = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}
`;
const PROBE = `import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const urls = [];
port1.on('message', (u) => urls.push(u));
port1.unref();
register(new URL('./hook.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });
await import(process.argv[2]);
await new Promise((r) => setTimeout(r, 100));
process.stdout.write(JSON.stringify(urls));
`;

async function loadedBy(module: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'probe.mjs'), join(ROOT, module)], { cwd: ROOT });
  const urls = JSON.parse(stdout) as string[];
  return HEAVY.filter((p) => urls.some((u) => u.includes(`/node_modules/${p}/`)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'polly-imports-'));
  await writeFile(join(dir, 'hook.mjs'), HOOK);
  await writeFile(join(dir, 'probe.mjs'), PROBE);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the agent start path loads nothing heavy before the Docker socket listens', () => {
  it('src/agent/run.ts imports none of gRPC, undici, TypeBox, Kysely, Fastify, Ajv, prom-client', async () => {
    expect(await loadedBy('src/agent/run.ts')).toEqual([]);
  });

  it('the probe does see them where they are used (the CSI node service loads gRPC)', async () => {
    expect(await loadedBy('src/api/csi/node-server.ts')).toContain('@grpc');
  });
});
