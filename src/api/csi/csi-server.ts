import { experimental, Server, ServerCredentials } from '@grpc/grpc-js';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { PollyApp } from '../../app/polly-app.js';
import { PollyError } from '../../core/errors.js';
import { CallerResolver } from './caller.js';
import { controllerServer } from './controller-server.js';
import { groupControllerServer } from './group-controller-server.js';
import { identityServer } from './identity-server.js';
import { csiService } from './proto.js';
import { timed } from './timed.js';
import { type CertificatePair, ReloadableIdentity } from './tls.js';

export interface CsiServerOptions {
  /** `unix:///absolute/path/csi.sock` or `tcp://host:port` (port 0 picks a free one). */
  endpoint: string;
  /** Bind the endpoint to one service: calls without a token act as it (see caller.ts). */
  service?: string | undefined;
  /** How long stop() waits for calls in flight before cutting them off. */
  shutdownTimeoutMs?: number | undefined;
  /** Serve TLS with this certificate (tcp endpoints only; callers still authenticate with tokens). */
  tls?: CertificatePair | undefined;
}

export interface CsiServerHandle {
  /** The endpoint really listened on (a tcp port 0 resolved). */
  endpoint: string;
  /** Whether the endpoint serves TLS. */
  secure: boolean;
  /** Swaps the TLS certificate for new connections; throws (keeping the old one) on a bad pair. */
  setSecureContext(pair: CertificatePair): void;
  stop(): Promise<void>;
}

type Endpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Serves CSI Identity, Controller and GroupController over Polly on one endpoint. */
export async function startCsiServer(app: PollyApp, opts: CsiServerOptions): Promise<CsiServerHandle> {
  const endpoint = parseEndpoint(opts.endpoint);
  const log = app.ctx.log.child({ frontend: 'csi', endpoint: opts.endpoint, ...(opts.service ? { service: opts.service } : {}) });
  const callers = new CallerResolver(app, opts.service);
  await callers.checkBinding();

  const server = new Server();
  server.addService(csiService('Identity'), timed(identityServer(app, log), 'csi', app.ctx.telemetry.rpc));
  server.addService(csiService('Controller'), timed(controllerServer(app, log, callers), 'csi', app.ctx.telemetry.rpc));
  server.addService(csiService('GroupController'), timed(groupControllerServer(app, log, callers), 'csi', app.ctx.telemetry.rpc));

  let address: string;
  if (endpoint.kind === 'unix') {
    await mkdir(dirname(endpoint.path), { recursive: true });
    await removeStaleSocket(endpoint.path);
    address = `unix://${endpoint.path}`;
  } else {
    address = `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  }
  if (opts.tls && endpoint.kind === 'unix') {
    throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${opts.endpoint}: TLS is for tcp endpoints (a unix socket is guarded by its file mode)`);
  }
  const identity = opts.tls ? new ReloadableIdentity(opts.tls) : undefined;
  const credentials = identity ? experimental.createCertificateProviderServerCredentials(identity, null, false) : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
  }).catch((err: unknown) => {
    throw new PollyError('UNAVAILABLE', `CSI endpoint ${opts.endpoint}: ${(err as Error).message}`);
  });
  const actual = endpoint.kind === 'unix' ? opts.endpoint : `tcp://${endpoint.host}:${port}`;
  log.info({ listening: actual, tls: identity !== undefined }, 'CSI listening');

  let stopped: Promise<void> | undefined;
  return {
    endpoint: actual,
    secure: identity !== undefined,
    setSecureContext(pair) {
      if (!identity) throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${actual} does not serve TLS`);
      identity.update(pair);
    },
    stop() {
      stopped ??= (async () => {
        await shutdown(server, opts.shutdownTimeoutMs ?? 5_000);
        if (endpoint.kind === 'unix') await unlink(endpoint.path).catch(() => undefined);
      })();
      return stopped;
    },
  };
}

export function parseEndpoint(endpoint: string): Endpoint {
  if (endpoint.startsWith('unix://')) {
    const path = endpoint.slice('unix://'.length);
    if (!path.startsWith('/')) throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${endpoint}: use unix:///absolute/path`);
    return { kind: 'unix', path };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(endpoint);
  if (tcp?.[1] !== undefined && tcp[2] !== undefined && Number(tcp[2]) <= 65535) {
    return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  }
  throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${JSON.stringify(endpoint)}: use unix:///path/csi.sock or tcp://host:port`);
}

/**
 * A socket file left by a process that died is removed; a socket someone still listens on is refused
 * (two servers on one socket would steal each other's calls), and so is anything that is not a socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new PollyError('UNAVAILABLE', `CSI endpoint ${path} is in use by another process`);
  await unlink(path);
}

/** Lets calls in flight finish, for at most `timeoutMs`, then cuts the rest off. */
async function shutdown(server: Server, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
