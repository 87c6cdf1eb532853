import { PollyError } from '../core/errors.js';
import type { Identity } from '../core/types.js';

/**
 * Service scoping, in one place. A tenant acts only on its own objects; anything else is reported as not
 * found so that nothing about other tenants leaks.
 */
export function ownsObject(identity: Identity, service: string): boolean {
  return identity.kind === 'admin' || identity.service === service;
}

export function requireAdmin(identity: Identity, action: string): void {
  if (identity.kind !== 'admin') throw new PollyError('FORBIDDEN', `${action} needs the admin token`);
}

/**
 * The service a request acts for: a tenant acts for itself (naming another service is forbidden), the
 * admin must name one.
 */
export function actingService(identity: Identity, requested: string | undefined): string {
  if (identity.kind === 'service') {
    if (requested !== undefined && requested !== identity.service) {
      throw new PollyError('FORBIDDEN', `a service token acts only for its own service (${identity.service})`);
    }
    return identity.service;
  }
  if (requested === undefined) {
    throw new PollyError('VALIDATION_FAILED', 'the admin must name the service the volume belongs to (`service`)');
  }
  return requested;
}

/** The service filter for listings: a tenant sees only itself; the admin sees all or one. */
export function listScope(identity: Identity, requested: string | undefined): string | undefined {
  if (identity.kind === 'service') return identity.service;
  return requested;
}
