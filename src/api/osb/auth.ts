import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { OsbConfig } from '../../config/schema.js';
import { PollyError } from '../../core/errors.js';

/** One broker credential, resolved: the username, the SHA-256 of its password, its Polly service. */
interface Credential {
  username: string;
  passwordSha256: Buffer;
  service: string;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * HTTP basic auth per broker credential. Each credential maps to one Polly service: a CF space (or a
 * whole foundation) registers the broker with its own username and password and sees only its own
 * instances. Passwords are compared as SHA-256 digests in constant time.
 */
export class BrokerCredentials {
  readonly #byUser = new Map<string, Credential>();

  constructor(config: OsbConfig['credentials']) {
    for (const c of config) {
      let digest: Buffer;
      if (c.passwordHash !== undefined) digest = Buffer.from(c.passwordHash.slice('sha256:'.length), 'hex');
      else if (c.passwordFile !== undefined) digest = sha256(readFileSync(c.passwordFile, 'utf8').trim());
      else digest = sha256(c.password ?? '');
      this.#byUser.set(c.username, { username: c.username, passwordSha256: digest, service: c.service });
    }
  }

  /** The services the credentials act for (created at start if missing). */
  get services(): string[] {
    return [...new Set([...this.#byUser.values()].map((c) => c.service))];
  }

  /** The Polly service of an `Authorization: Basic …` header; UNAUTHENTICATED otherwise. */
  authenticate(header: string | undefined): string {
    if (!header?.startsWith('Basic ')) throw new PollyError('UNAUTHENTICATED', 'the broker needs HTTP basic authentication');
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const cred = this.#byUser.get(user);
    const given = sha256(password);
    // Compare even for unknown users, so the answer's timing does not tell which usernames exist.
    const ok = timingSafeEqual(given, cred?.passwordSha256 ?? sha256(`\0${password}`));
    if (!cred || !ok) throw new PollyError('UNAUTHENTICATED', 'invalid broker credentials');
    return cred.service;
  }
}
