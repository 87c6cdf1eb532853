import { randomBytes } from 'node:crypto';

/**
 * Opaque, stable ids: a prefix, 12 hex digits of milliseconds and 16 of randomness. Sorting by id sorts
 * by creation time (within a millisecond the order is arbitrary), which keeps cursor paging cheap.
 */
export function newId(prefix: 'vol' | 'snap' | 'gsnap' | 'tok' | 'att' | 'res' | 'off' | 'op' | 'req'): string {
  const time = Date.now().toString(16).padStart(12, '0');
  return `${prefix}-${time}${randomBytes(8).toString('hex')}`;
}
