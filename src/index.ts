/**
 * Library API: embed Polly in another program.
 *
 *   const polly = await createPolly({ listen: '127.0.0.1:0', dataDir: '/tmp/polly' });
 *   await polly.start(); console.log(polly.url); await polly.stop();
 */
import { loadConfig, type PollyConfigInput } from './config/config.js';
import { PollyServer, type ServerOptions } from './server.js';

export interface PollyInstance {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The REST base URL once started (e.g. http://127.0.0.1:7978). */
  readonly url: string;
  readonly server: PollyServer;
}

function wrap(server: PollyServer): PollyInstance {
  return {
    start: () => server.start(),
    stop: () => server.stop(),
    get url() {
      return server.url;
    },
    server,
  };
}

/** Creates a Polly instance from a configuration document (the YAML file's shape); POLLY_* env still applies. */
export async function createPolly(config: PollyConfigInput = {}, opts: ServerOptions = {}): Promise<PollyInstance> {
  return wrap(await PollyServer.create(loadConfig({ document: config }), opts));
}

/** Creates a Polly instance from a YAML configuration file. */
export async function createPollyFromFile(path: string, opts: ServerOptions = {}): Promise<PollyInstance> {
  return wrap(await PollyServer.create(loadConfig({ file: path }), opts));
}

export { PollyServer } from './server.js';
export { PollyError } from './core/errors.js';
export type { PollyConfig, PollyConfigInput } from './config/config.js';
