/** The errors the CLI expects, each with its exit code; anything else is a bug and exits 1. */

export const EXIT = { ok: 0, api: 1, usage: 2, connection: 3 } as const;

/** An error response from the server: `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  readonly exitCode = EXIT.api;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The server could not be reached at all. */
export class ConnectionError extends Error {
  readonly exitCode = EXIT.connection;
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach Polly at ${url}: ${reason}`);
    this.name = 'ConnectionError';
  }
}

/** Bad input detected by the CLI itself (commander reports its own). */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The one line printed for an error (after `polly: `). */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ApiError) return { message: `${err.code}: ${err.message}${hint(err)}`, exitCode: err.exitCode };
  if (err instanceof ConnectionError || err instanceof UsageError) return { message: err.message, exitCode: err.exitCode };
  const message = err instanceof Error ? err.message : String(err);
  return { message, exitCode: EXIT.api };
}

function hint(err: ApiError): string {
  if (err.code === 'UNAUTHENTICATED') return ' (pass --token or set POLLY_TOKEN)';
  return '';
}
