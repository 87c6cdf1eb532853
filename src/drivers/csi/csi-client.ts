import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { csiService, type CsiServiceName } from '../../api/csi/proto.js';
import { PollyError, type ErrorCode } from '../../core/errors.js';

/** How a plugin call is timed and retried. */
export interface CallPolicy {
  /** Deadline of one attempt (ms). */
  timeoutMs: number;
  /** Further attempts after a retryable failure (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED). */
  retries: number;
  /** Wait before the first retry, doubled for each further one (ms), capped at {@link MAX_BACKOFF_MS}. */
  backoffMs: number;
}

export const MAX_BACKOFF_MS = 5_000;

/**
 * Codes a repeat of the same call may cure: the plugin was restarting (UNAVAILABLE), slow
 * (DEADLINE_EXCEEDED), or busy with the same volume (ABORTED, "an operation is pending"). Repeating is
 * safe because every call Polly makes is idempotent by name or id, as the CSI spec requires of plugins.
 */
const RETRYABLE = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.ABORTED]);

/** The Polly code for a plugin's gRPC status (after retries ran out, for the retryable ones). */
const POLLY_CODE: Partial<Record<number, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'VALIDATION_FAILED',
  [status.OUT_OF_RANGE]: 'VALIDATION_FAILED',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'INVALID_STATE',
  [status.FAILED_PRECONDITION]: 'INVALID_STATE',
  [status.RESOURCE_EXHAUSTED]: 'NO_CAPACITY',
  [status.UNIMPLEMENTED]: 'UNSUPPORTED',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [status.ABORTED]: 'UNAVAILABLE',
};

/**
 * A connection that broke under a call in flight (the plugin died mid-call) surfaces as INTERNAL with a
 * transport message from grpc-js, not as UNAVAILABLE: it is retried like one.
 */
function retryable(err: ServiceError): boolean {
  if (RETRYABLE.has(err.code)) return true;
  return err.code === status.INTERNAL && /RST_STREAM|Session closed|Connection dropped|ECONNRESET/.test(err.details);
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'metadata' in err;
}

/** The gRPC target for a CSI endpoint (`unix:///abs/path` as is, `tcp://host:port` as `host:port`). */
export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint;
  if (endpoint.startsWith('tcp://')) return endpoint.slice('tcp://'.length);
  throw new PollyError('VALIDATION_FAILED', `CSI endpoint ${JSON.stringify(endpoint)}: use unix:///path/csi.sock or tcp://host:port`);
}

/**
 * A client of one CSI plugin socket (Identity, Controller and Node over one channel). Every call has a
 * deadline and is retried with exponential backoff on the retryable codes; a final failure becomes a
 * PollyError whose code follows the gRPC status and whose message names the plugin, the call and what
 * the plugin said. The channel reconnects by itself when the plugin restarts.
 */
export class CsiPluginClient {
  readonly #client: Client;
  readonly #label: string;
  readonly #policy: CallPolicy;

  constructor(endpoint: string, label: string, policy: CallPolicy) {
    this.#client = new Client(grpcTarget(endpoint), credentials.createInsecure(), {
      // Reconnect quickly after a plugin restart: the default backoff grows to two minutes.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    this.#label = label;
    this.#policy = policy;
  }

  /** One call with the policy's deadline and retries. `overrides` maps a gRPC status to a Polly code for this call. */
  async call<Res>(service: CsiServiceName, method: string, request: object, overrides: Partial<Record<number, ErrorCode>> = {}): Promise<Res> {
    const def = csiService(service)[method];
    if (!def) throw new PollyError('INTERNAL', `csi.proto has no method csi.v1.${service}.${method}`);
    let backoff = this.#policy.backoffMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<Res>((resolve, reject) => {
          this.#client.makeUnaryRequest<object, Res>(
            def.path,
            (req) => def.requestSerialize(req),
            (buf) => def.responseDeserialize(buf) as Res,
            request,
            { deadline: Date.now() + this.#policy.timeoutMs },
            (err, res) => (err ? reject(err) : resolve(res as Res)),
          );
        });
      } catch (err) {
        if (!isServiceError(err)) throw err;
        if (retryable(err) && attempt < this.#policy.retries) {
          await sleep(backoff);
          backoff = Math.min(2 * backoff, MAX_BACKOFF_MS);
          continue;
        }
        const code = overrides[err.code] ?? POLLY_CODE[err.code] ?? 'BACKEND_FAILED';
        const tries = attempt > 0 ? ` after ${attempt + 1} attempts` : '';
        throw new PollyError(code, `CSI plugin ${this.#label}: ${method} failed${tries}: ${status[err.code] ?? err.code}: ${err.details || err.message}`, {
          grpcCode: err.code,
          method,
        });
      }
    }
  }

  close(): void {
    this.#client.close();
  }
}
