import type { experimental } from '@grpc/grpc-js';
import { createSecureContext } from 'node:tls';

type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

/**
 * The CSI listener's certificate, swappable while it serves: grpc-js asks a certificate provider for
 * the identity and re-reads it whenever the provider announces a new one, so a SIGHUP after a rotation
 * reaches new CSI connections without rebinding the port (open connections keep their session).
 */
export class ReloadableIdentity implements experimental.CertificateProvider {
  #current: CertificatePair;
  readonly #listeners = new Set<IdentityListener>();

  constructor(pair: CertificatePair) {
    checkPair(pair);
    this.#current = pair;
  }

  /** Replaces the pair; throws (keeping the old one) when the files do not form a usable pair. */
  update(pair: CertificatePair): void {
    checkPair(pair);
    this.#current = pair;
    for (const listener of this.#listeners) listener({ certificate: pair.cert, privateKey: pair.key });
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.add(listener);
    // grpc-js registers before it is ready to be told; answering on the next turn is what it expects.
    setImmediate(() => {
      if (this.#listeners.has(listener)) listener({ certificate: this.#current.cert, privateKey: this.#current.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.delete(listener);
  }

  // The server does not verify client certificates (callers authenticate with tokens), so no CA.
  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}
}

/** Node's TLS stack validates that the key matches the certificate and both parse. */
function checkPair(pair: CertificatePair): void {
  createSecureContext({ cert: pair.cert, key: pair.key });
}
