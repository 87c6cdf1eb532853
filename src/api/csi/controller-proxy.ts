import { Client, credentials, Metadata, status, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PollyError } from '../../core/errors.js';
import { TOKEN_SECRET_KEY } from './caller.js';
import { csiService } from './proto.js';

/**
 * CSI Controller on the agent's CSI socket, forwarded to the server's CSI endpoint. Docker ≥ 23 Swarm
 * cluster volumes call Controller and Node on the one socket of a managed plugin, while Polly's
 * Controller lives on the server (it holds the state): the agent passes each call through unchanged —
 * request, response and gRPC status — and adds its own service token as `authorization: Bearer` metadata
 * when the call carries no token of its own (no `pollyToken` in `secrets`, no `authorization`), so the
 * server sees the agent's service as the caller. Deadlines are passed on; a server that cannot be
 * reached is UNAVAILABLE, as the CO expects of a controller that is down.
 */
export interface ControllerProxy {
  service: UntypedServiceImplementation;
  close(): void;
}

export interface ControllerProxyOptions {
  /** The server's CSI endpoint: `unix:///path`, `tcp://host:port` (plain) or `tls://host:port`. */
  endpoint: string;
  /** The agent's service token. */
  token: string;
  /** PEM of the CA that signed the server's certificate (`tls://`; default: the system's roots). */
  ca?: string | undefined;
  log: Logger;
}

export function controllerProxy(opts: ControllerProxyOptions): ControllerProxy {
  const client = new Client(target(opts.endpoint), opts.endpoint.startsWith('tls://') ? credentials.createSsl(opts.ca !== undefined ? Buffer.from(opts.ca) : null) : credentials.createInsecure());
  const log = opts.log.child({ frontend: 'csi-controller-proxy', endpoint: opts.endpoint });
  const service: UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(csiService('Controller'))) {
    service[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const metadata = withToken(call.request, call.metadata, opts.token);
      const deadline = call.getDeadline();
      client.makeUnaryRequest(
        def.path,
        (req: unknown) => def.requestSerialize(req),
        (buf: Buffer) => def.responseDeserialize(buf),
        call.request,
        metadata,
        deadline === Infinity ? {} : { deadline },
        (err, res) => {
          if (err) {
            if (err.code === status.UNAVAILABLE) log.warn({ method: name, details: err.details }, 'CSI Controller call not forwarded: the server is unreachable');
            callback(err);
          } else callback(null, res);
        },
      );
    };
  }
  return { service, close: () => client.close() };
}

function target(endpoint: string): string {
  if (endpoint.startsWith('unix:///')) return endpoint;
  const m = /^(?:tcp|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(endpoint);
  if (m?.[1] !== undefined && m[2] !== undefined && Number(m[2]) <= 65535) return `${m[1]}:${m[2]}`;
  throw new PollyError('VALIDATION_FAILED', `CSI controller endpoint ${JSON.stringify(endpoint)}: use unix:///path/csi.sock, tcp://host:port or tls://host:port`);
}

/**
 * The metadata passed on: only the caller's `authorization`, else the agent's token when the call names
 * no Polly token in its `secrets` (the caller's other headers are its connection's, not the server's).
 */
function withToken(request: unknown, incoming: Metadata, token: string): Metadata {
  const md = new Metadata();
  const auth = incoming.get('authorization')[0];
  if (typeof auth === 'string') md.set('authorization', auth);
  else if (!(request as { secrets?: Record<string, string> } | null)?.secrets?.[TOKEN_SECRET_KEY]) md.set('authorization', `Bearer ${token}`);
  return md;
}
