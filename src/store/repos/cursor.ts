import { PollyError } from '../../core/errors.js';

/** Cursors are opaque to callers: base64url of a small JSON document, so their format may change. */
export function encodeCursor(afterId: string): string {
  return Buffer.from(JSON.stringify({ a: afterId })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { a?: unknown };
    if (typeof parsed.a === 'string' && parsed.a.length > 0 && parsed.a.length < 200) return parsed.a;
  } catch {
    // fall through to the error below
  }
  throw new PollyError('INVALID_CURSOR', 'cursor is not valid: pass back the nextCursor of a previous page');
}
