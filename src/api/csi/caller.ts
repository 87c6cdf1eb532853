import { status, type Metadata } from '@grpc/grpc-js';
import type { PollyApp } from '../../app/polly-app.js';
import { ADMIN } from '../../core/types.js';
import { CsiError } from './errors.js';
import type { StringMap } from './proto.js';

/** The key of the `secrets` map that carries a Polly token (a Kubernetes StorageClass secret, csi-sanity's secrets file). */
export const TOKEN_SECRET_KEY = 'pollyToken';

/** A CSI caller always acts as one service: CSI has no notion of an administrator acting for others. */
export type CsiCaller = { readonly kind: 'service'; readonly service: string };

/**
 * Who is calling, for one endpoint. In order:
 * 1. a token in the request's `secrets` under {@link TOKEN_SECRET_KEY};
 * 2. a token in the gRPC metadata `authorization: Bearer <token>`, for the RPCs whose request has no
 *    `secrets` field (ListVolumes, GetCapacity, ControllerGetVolume) on an endpoint shared by services;
 * 3. the service the endpoint is bound to (`{ service }` at start): whoever can open that socket is it.
 *
 * A service token on an endpoint bound to another service is PERMISSION_DENIED; the admin token acts as
 * the bound service, and is refused on an unbound endpoint (a CSI request cannot say which service).
 * A missing or unknown token where one is needed is UNAUTHENTICATED.
 */
export class CallerResolver {
  readonly #app: PollyApp;
  readonly #boundService: string | undefined;

  constructor(app: PollyApp, boundService: string | undefined) {
    this.#app = app;
    this.#boundService = boundService;
  }

  /** Fails at start when the bound service does not exist (a typo would otherwise fail every call). */
  async checkBinding(): Promise<void> {
    if (this.#boundService !== undefined) await this.#app.services.get(ADMIN, this.#boundService);
  }

  async resolve(secrets: StringMap | undefined, metadata: Metadata): Promise<CsiCaller> {
    const token = secrets?.[TOKEN_SECRET_KEY] || bearerToken(metadata);
    if (token === undefined) {
      if (this.#boundService !== undefined) return { kind: 'service', service: this.#boundService };
      throw new CsiError(
        status.UNAUTHENTICATED,
        `missing Polly token: put it in the request secrets under "${TOKEN_SECRET_KEY}" (or serve this service on its own endpoint)`,
      );
    }
    const identity = await this.#app.services.authenticate(token);
    if (identity.kind === 'admin') {
      if (this.#boundService !== undefined) return { kind: 'service', service: this.#boundService };
      throw new CsiError(status.PERMISSION_DENIED, 'the admin token cannot act over CSI on an endpoint not bound to a service: use a service token');
    }
    if (this.#boundService !== undefined && identity.service !== this.#boundService) {
      throw new CsiError(status.PERMISSION_DENIED, `this endpoint serves service ${this.#boundService} only`);
    }
    return identity;
  }
}

function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
}
