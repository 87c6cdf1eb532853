/**
 * The error catalog. Every error Polly returns has a stable `code`; each frontend translates it once:
 * REST uses `httpStatus`, CSI uses `grpcCode` (numeric values of google.rpc.Code).
 */

/** gRPC status codes (google.rpc.Code), kept here so src/core imports no framework. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface CatalogEntry {
  readonly httpStatus: number;
  readonly grpcCode: number;
}

export const ERROR_CATALOG = {
  VALIDATION_FAILED: { httpStatus: 400, grpcCode: GrpcCode.INVALID_ARGUMENT },
  /** A pool parameter its driver does not declare, or one whose value does not match the driver's schema. */
  INVALID_POOL_PARAMETER: { httpStatus: 400, grpcCode: GrpcCode.INVALID_ARGUMENT },
  /** The HTTP request itself was malformed (refused by the HTTP parser). */
  BAD_REQUEST: { httpStatus: 400, grpcCode: GrpcCode.INVALID_ARGUMENT },
  INVALID_JSON: { httpStatus: 400, grpcCode: GrpcCode.INVALID_ARGUMENT },
  INVALID_CURSOR: { httpStatus: 400, grpcCode: GrpcCode.ABORTED },
  UNAUTHENTICATED: { httpStatus: 401, grpcCode: GrpcCode.UNAUTHENTICATED },
  FORBIDDEN: { httpStatus: 403, grpcCode: GrpcCode.PERMISSION_DENIED },
  /** A node-local pool's volume asked for on a node the pool does not declare (details: pool, nodes, node). */
  POOL_NOT_ON_NODE: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  QUOTA_EXCEEDED: { httpStatus: 403, grpcCode: GrpcCode.RESOURCE_EXHAUSTED },
  NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  METHOD_NOT_ALLOWED: { httpStatus: 405, grpcCode: GrpcCode.UNIMPLEMENTED },
  REQUEST_TIMEOUT: { httpStatus: 408, grpcCode: GrpcCode.DEADLINE_EXCEEDED },
  VOLUME_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  SNAPSHOT_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  GROUP_SNAPSHOT_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  SERVICE_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  POOL_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  PROFILE_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  OFFER_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  RESERVATION_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  ATTACHMENT_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  NODE_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  INSTANCE_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  BINDING_NOT_FOUND: { httpStatus: 404, grpcCode: GrpcCode.NOT_FOUND },
  INSTANCE_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  BINDING_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  /** The OSB ConcurrencyError: another operation on the instance is still running. */
  OPERATION_IN_PROGRESS: { httpStatus: 422, grpcCode: GrpcCode.ABORTED },
  /** The OSB AsyncRequired: the operation is asynchronous and the platform did not accept that. */
  ASYNC_REQUIRED: { httpStatus: 422, grpcCode: GrpcCode.INVALID_ARGUMENT },
  /** The OSB RequiresApp: a volume service binds to apps only. */
  APP_REQUIRED: { httpStatus: 422, grpcCode: GrpcCode.INVALID_ARGUMENT },
  ATTACHMENT_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  PROFILE_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  POOL_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  PROFILE_IN_USE: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  POOL_IN_USE: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  OFFER_CLOSED: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  RESERVATION_CLOSED: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  VOLUME_NAME_TAKEN: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  SNAPSHOT_NAME_TAKEN: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  GROUP_SNAPSHOT_NAME_TAKEN: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  SERVICE_EXISTS: { httpStatus: 409, grpcCode: GrpcCode.ALREADY_EXISTS },
  SERVICE_NOT_EMPTY: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  VOLUME_BUSY: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  NODE_FENCED: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  VOLUME_HAS_SNAPSHOTS: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  SNAPSHOT_BUSY: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  INVALID_STATE: { httpStatus: 409, grpcCode: GrpcCode.FAILED_PRECONDITION },
  IDEMPOTENCY_KEY_REUSED: { httpStatus: 422, grpcCode: GrpcCode.INVALID_ARGUMENT },
  IDEMPOTENCY_IN_PROGRESS: { httpStatus: 409, grpcCode: GrpcCode.ABORTED },
  NO_MATCHING_POOL: { httpStatus: 422, grpcCode: GrpcCode.INVALID_ARGUMENT },
  /** A profile change or create that no pool could ever serve (`?force=true` accepts it anyway). */
  PROFILE_UNSATISFIABLE: { httpStatus: 422, grpcCode: GrpcCode.FAILED_PRECONDITION },
  UNSUPPORTED: { httpStatus: 422, grpcCode: GrpcCode.INVALID_ARGUMENT },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, grpcCode: GrpcCode.INVALID_ARGUMENT },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, grpcCode: GrpcCode.INVALID_ARGUMENT },
  HEADERS_TOO_LARGE: { httpStatus: 431, grpcCode: GrpcCode.INVALID_ARGUMENT },
  NO_CAPACITY: { httpStatus: 507, grpcCode: GrpcCode.RESOURCE_EXHAUSTED },
  BACKEND_FAILED: { httpStatus: 502, grpcCode: GrpcCode.INTERNAL },
  UNAVAILABLE: { httpStatus: 503, grpcCode: GrpcCode.UNAVAILABLE },
  INTERNAL: { httpStatus: 500, grpcCode: GrpcCode.INTERNAL },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error with a stable code from the catalog. `details` is safe to show to the caller. */
export class PollyError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'PollyError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CATALOG[this.code].httpStatus;
  }

  get grpcCode(): number {
    return ERROR_CATALOG[this.code].grpcCode;
  }
}

export function isPollyError(err: unknown): err is PollyError {
  return err instanceof PollyError;
}
