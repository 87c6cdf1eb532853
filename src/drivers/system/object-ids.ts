import { PollyError } from '../../core/errors.js';

// Ids become file names: one path segment, no leading dot (temporary and hidden files start with one).
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/** Throws `VALIDATION_FAILED` unless `id` can name a backend object as a single, visible path segment. */
export function assertObjectId(poolName: string, kind: 'volume' | 'snapshot', id: string): void {
  if (!SAFE_ID.test(id)) {
    throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: ${kind} id ${JSON.stringify(id)} is not usable as a backend name (letters, digits, '_', '.', '-'; at most 200)`);
  }
}

export function isObjectId(name: string): boolean {
  return SAFE_ID.test(name);
}

/** Throws `VALIDATION_FAILED` unless `sizeBytes` is a positive whole number of bytes. */
export function assertSizeBytes(poolName: string, sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) {
    throw new PollyError('VALIDATION_FAILED', `pool ${poolName}: size ${sizeBytes} must be a positive whole number of bytes`);
  }
}
