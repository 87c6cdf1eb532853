import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new bearer token: a recognisable prefix and 256 random bits. Shown once, stored only as a hash. */
export function generateToken(): string {
  return `polly_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hashes (used where a hash is compared in code rather than by the index). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
