import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventActor } from '../core/types.js';

/**
 * Who is acting, as written on every event: a service's token (`service` + `tokenId`), the admin (with its
 * token id when it came through a token), a node agent, or the system itself (the reconciler, offer
 * expiry, start-up recovery).
 */
export type Actor = EventActor;

/** The actor and request id of the work under way; mutable so that authentication can fill it in later. */
export interface RequestScope {
  requestId: string | null;
  actor: Actor | null;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (and everything it awaits) inside `scope`. */
export function runInScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the work under way, or undefined outside any request or background job. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Runs a background job as `system/<component>`, so its events say who did them. */
export function asSystem<T>(component: string, fn: () => T): T {
  return storage.run({ requestId: null, actor: { kind: 'system', component } }, fn);
}

/** The actor as one short string for logs and the CLI: `service:k8s/tok_…`, `admin/tok_…`, `system:reconciler`. */
export function formatActor(actor: Actor | null | undefined): string {
  if (!actor) return '-';
  switch (actor.kind) {
    case 'service':
      return `service:${actor.service}/${actor.tokenId}`;
    case 'admin':
      return actor.tokenId ? `admin/${actor.tokenId}` : 'admin';
    case 'node':
      return `node:${actor.node}/${actor.tokenId}`;
    case 'system':
      return `system:${actor.component}`;
  }
}
