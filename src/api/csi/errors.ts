import { status, type sendUnaryData, type ServerUnaryCall, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isPollyError } from '../../core/errors.js';

/**
 * An error the CSI frontend raises itself, with the gRPC status the spec prescribes for the case (argument
 * checks, idempotency conflicts, pending operations). Errors from the use cases are PollyErrors and carry
 * their own gRPC code from the catalog; {@link toGrpcStatus} is the one place both become a status.
 */
export class CsiError extends Error {
  readonly code: status;

  constructor(code: status, message: string) {
    super(message);
    this.name = 'CsiError';
    this.code = code;
  }
}

export const invalidArgument = (message: string): CsiError => new CsiError(status.INVALID_ARGUMENT, message);
export const alreadyExists = (message: string): CsiError => new CsiError(status.ALREADY_EXISTS, message);
export const aborted = (message: string): CsiError => new CsiError(status.ABORTED, message);
export const outOfRange = (message: string): CsiError => new CsiError(status.OUT_OF_RANGE, message);
export const unimplemented = (message: string): CsiError => new CsiError(status.UNIMPLEMENTED, message);

/** The gRPC status for any error; unknown errors become INTERNAL without leaking their text. */
export function toGrpcStatus(err: unknown, log: Logger, method: string): Pick<StatusObject, 'code' | 'details'> {
  if (err instanceof CsiError) return { code: err.code, details: err.message };
  if (isPollyError(err)) {
    if (err.grpcCode === status.INTERNAL) log.error({ err, method }, 'CSI call failed');
    return { code: err.grpcCode, details: err.message };
  }
  log.error({ err, method }, 'CSI call failed unexpectedly');
  return { code: status.INTERNAL, details: 'internal error; see the Polly server log' };
}

/** Adapts an async handler to grpc-js's callback style, translating every error once. */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => {
        const grpcStatus = toGrpcStatus(err, log, method);
        log.debug({ method, code: grpcStatus.code, details: grpcStatus.details }, 'CSI call refused');
        callback(grpcStatus);
      },
    );
  };
}
