import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { print, serialize } from '../output.js';
import { VERSION } from '../../version.js';

/** GET `url` → its JSON body when it answers 200 (node:http: the one request of this command needs no more). */
async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  const { get } = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 3_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as Record<string, unknown>) : undefined);
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in 3 s`)));
    req.on('error', reject);
  });
}

/**
 * The server's version from `/healthz` (no token needed; a small answer — older servers carry it only in
 * /openapi.json), or undefined when it cannot be had.
 */
async function serverVersion(baseUrl: string): Promise<string | undefined> {
  try {
    const health = await getJson(`${baseUrl}/healthz`);
    if (typeof health?.version === 'string') return health.version;
    const info = (await getJson(`${baseUrl}/openapi.json`))?.info as { version?: unknown } | undefined;
    return typeof info?.version === 'string' ? info.version : undefined;
  } catch {
    return undefined;
  }
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description("Print the client's version and, when the server answers, the server's")
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const server = await serverVersion(client.baseUrl);
      if (format !== 'table') {
        print(serialize({ client: VERSION, server: server ?? null, url: client.baseUrl }, format));
        return;
      }
      print(`Client: ${VERSION}`);
      print(server ? `Server: ${server} (${client.baseUrl})` : `Server: not reachable at ${client.baseUrl}`);
    });
}
