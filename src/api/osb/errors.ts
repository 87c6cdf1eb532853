import { isPollyError, type ErrorCode } from '../../core/errors.js';

/** An OSB error body: `error` (a camel-case word; the spec's own where it names one) and `description`. */
export interface OsbErrorBody {
  error?: string;
  description: string;
}

/** The error words the spec defines, for the Polly codes that mean them. */
const SPEC_WORDS: Partial<Record<ErrorCode, string>> = {
  ASYNC_REQUIRED: 'AsyncRequired',
  OPERATION_IN_PROGRESS: 'ConcurrencyError',
  APP_REQUIRED: 'RequiresApp',
};

function camel(code: string): string {
  return code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** What the spec says a status should be for one endpoint, where it differs from the catalog's. */
export type StatusOverrides = Partial<Record<ErrorCode, number>>;

/** Translates any error into the OSB status and body, once, with per-endpoint overrides. */
export function osbError(err: unknown, overrides: StatusOverrides = {}): { status: number; body: OsbErrorBody | Record<string, never> } {
  if (!isPollyError(err)) return { status: 500, body: { error: 'InternalError', description: 'internal error; see the broker log' } };
  const status = overrides[err.code] ?? err.httpStatus;
  // 409 (exists with other attributes) and 410 (gone) answer `{}` per the spec; others explain.
  if (status === 410) return { status, body: {} };
  return { status, body: { error: SPEC_WORDS[err.code] ?? camel(err.code), description: err.message } };
}
