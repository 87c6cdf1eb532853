import type { Command } from 'commander';
import { request } from 'undici';
import { contextOf } from '../context.js';
import { print, serialize } from '../output.js';
import { VERSION } from '../../version.js';

/** The server's version from /openapi.json (no token needed), or undefined when it cannot be had. */
async function serverVersion(baseUrl: string): Promise<string | undefined> {
  try {
    const res = await request(`${baseUrl}/openapi.json`, { headersTimeout: 3_000, bodyTimeout: 3_000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    const doc = (await res.body.json()) as { info?: { version?: unknown } };
    return typeof doc.info?.version === 'string' ? doc.info.version : undefined;
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
