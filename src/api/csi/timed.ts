import { status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { RpcTimer } from '../../app/telemetry.js';

/**
 * Times every unary call of a service into `polly_rpc_duration_seconds{frontend,method,code}` (code: the
 * gRPC status name). Without a timer the service is returned as it is.
 */
export function timed(impl: UntypedServiceImplementation, frontend: string, timer: RpcTimer | undefined): UntypedServiceImplementation {
  if (!timer) return impl;
  const out: UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(impl)) {
    const unaryHandler = handler as (call: unknown, callback: (err: { code?: number } | null, res?: unknown) => void) => void;
    out[method] = ((call: unknown, callback: (err: { code?: number } | null, res?: unknown) => void) => {
      const end = timer.startTimer({ frontend, method });
      unaryHandler(call, (err, res) => {
        end({ code: status[err?.code ?? status.OK] ?? String(err?.code) });
        callback(err, res);
      });
    }) as UntypedServiceImplementation[string];
  }
  return out;
}
