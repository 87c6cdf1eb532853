/**
 * Generates src/client/openapi.ts (TypeScript types of REST v1) from the document a real server serves
 * at /openapi.json. `npm run gen:client` writes it; test/client/openapi-client.test.ts fails when the
 * committed file differs from what the current routes produce.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { PollyServer } from '../src/server.js';

export const CLIENT_TYPES_PATH = fileURLToPath(new URL('../src/client/openapi.ts', import.meta.url));

const HEADER = `/**
 * REST v1 types generated from /openapi.json by \`npm run gen:client\` (openapi-typescript).
 * Do not edit by hand: change the route schemas in src/api/rest and regenerate.
 */

`;

/** Starts a throw-away server (temporary data dir, loopback, random port) and fetches its document. */
export async function servedOpenApiDocument(): Promise<Record<string, unknown>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'polly-openapi-'));
  try {
    const config = loadConfig({
      document: { listen: '127.0.0.1:0', dataDir, adminToken: 'openapi-generator-token-0123456789', pools: [{ name: 'local', driver: 'local', path: join(dataDir, 'pool') }] },
      env: {},
    });
    const server = await PollyServer.create(config, { logger: pino({ level: 'silent' }) });
    try {
      await server.start();
      const res = await request(`${server.url}/openapi.json`);
      if (res.statusCode !== 200) throw new Error(`/openapi.json answered ${res.statusCode}`);
      return (await res.body.json()) as Record<string, unknown>;
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The TypeScript source of the client types for a document (deterministic for one document). */
export async function clientTypesSource(doc: Record<string, unknown>): Promise<string> {
  // The version changes with every release; the types must not.
  const stable = { ...doc, info: { ...(doc.info as Record<string, unknown>), version: '1' } };
  const ast = await openapiTS(stable as unknown as Parameters<typeof openapiTS>[0], { alphabetize: true, rootTypes: false });
  return HEADER + astToString(ast);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const source = await clientTypesSource(await servedOpenApiDocument());
  await writeFile(CLIENT_TYPES_PATH, source);
  process.stdout.write(`wrote ${CLIENT_TYPES_PATH} (${source.length} characters)\n`);
}
