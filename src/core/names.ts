import { PollyError } from './errors.js';

/** Names of services, volumes, snapshots, pools and profiles: what fits a path segment, a label and a DNS-ish id. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';
const NAME_RE = new RegExp(NAME_PATTERN);

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

export function assertValidName(kind: string, name: string): void {
  if (!isValidName(name)) {
    throw new PollyError(
      'VALIDATION_FAILED',
      `${kind} name ${JSON.stringify(name)} is invalid: use 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit`,
    );
  }
}

/** Label keys may carry a DNS prefix (`example.com/tier`), as Kubernetes labels do. */
const LABEL_KEY_RE = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$/;

export function assertValidLabels(kind: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new PollyError('VALIDATION_FAILED', `${kind}: at most 64 entries are allowed`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY_RE.test(key)) {
      throw new PollyError('VALIDATION_FAILED', `${kind} key ${JSON.stringify(key)} is invalid`);
    }
    if (typeof value !== 'string' || value.length > 1024) {
      throw new PollyError('VALIDATION_FAILED', `${kind} value for ${JSON.stringify(key)} must be a string of at most 1024 characters`);
    }
  }
}
