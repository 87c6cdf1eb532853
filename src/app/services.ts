import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { assertValidLabels, assertValidName } from '../core/names.js';
import type { Identity, Labels, NodeIdentity, Service } from '../core/types.js';
import { countVolumes } from '../store/repos/volumes.js';
import {
  countAdminTokens,
  deleteService,
  findService,
  findTokenByHash,
  insertService,
  insertToken,
  listServices,
} from '../store/repos/services.js';
import { isUniqueViolation, nowIso } from '../store/store.js';
import type { AppContext } from './context.js';
import { requireAdmin } from './scope.js';
import { generateToken, hashToken } from './tokens.js';

const CACHE_TTL_MS = 10_000;

/** Services (tenants), their tokens, and turning a bearer token into an identity. */
export class ServiceUseCases {
  readonly #ctx: AppContext;
  /** token hash → identity; short-lived so a deleted service's tokens stop working within seconds everywhere. */
  readonly #cache = new Map<string, { identity: Identity | NodeIdentity; tokenId: string; until: number }>();

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  /** Resolves a bearer token. Throws UNAUTHENTICATED for unknown tokens, FORBIDDEN for node credentials. */
  async authenticate(token: string | undefined): Promise<Identity> {
    const caller = await this.authenticateCaller(token);
    if (caller.kind === 'node') {
      throw new PollyError('FORBIDDEN', `a node credential (node ${caller.node}) may only register, heartbeat and mount for its node`);
    }
    return caller;
  }

  /** Resolves a bearer token to an identity or a node credential (for the routes a node agent uses). */
  async authenticateCaller(token: string | undefined): Promise<Identity | NodeIdentity> {
    return (await this.authenticateToken(token)).caller;
  }

  /** As `authenticateCaller`, with the id of the token used (written on events as part of the actor). */
  async authenticateToken(token: string | undefined): Promise<{ caller: Identity | NodeIdentity; tokenId: string }> {
    if (token === undefined || token === '') {
      throw new PollyError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <token>)');
    }
    const hash = hashToken(token);
    const now = Date.now();
    const cached = this.#cache.get(hash);
    if (cached && cached.until > now) return { caller: cached.identity, tokenId: cached.tokenId };
    const rec = await findTokenByHash(this.#ctx.store.db, hash);
    if (!rec) throw new PollyError('UNAUTHENTICATED', 'invalid token');
    const identity: Identity | NodeIdentity =
      rec.kind === 'node'
        ? { kind: 'node', node: rec.node ?? '' }
        : rec.kind === 'admin' || rec.service === null
          ? { kind: 'admin' }
          : { kind: 'service', service: rec.service };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(hash, { identity, tokenId: rec.id, until: now + CACHE_TTL_MS });
    return { caller: identity, tokenId: rec.id };
  }

  async create(identity: Identity, input: { name: string; labels?: Labels | undefined }): Promise<Service> {
    requireAdmin(identity, 'creating a service');
    assertValidName('service', input.name);
    assertValidLabels('labels', input.labels ?? {});
    const service: Service = { name: input.name, labels: input.labels ?? {}, createdAt: nowIso() };
    try {
      await this.#ctx.store.transaction(async (trx) => {
        await insertService(trx, service);
        await this.#ctx.events.record(trx, { type: 'service.created', service: service.name, objectId: service.name, data: { labels: service.labels } }, service.createdAt);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new PollyError('SERVICE_EXISTS', `service ${input.name} already exists`);
      throw err;
    }
    this.#ctx.events.notify();
    return service;
  }

  async list(identity: Identity): Promise<Service[]> {
    if (identity.kind === 'service') {
      const own = await findService(this.#ctx.store.db, identity.service);
      return own ? [own] : [];
    }
    return listServices(this.#ctx.store.db);
  }

  async get(identity: Identity, name: string): Promise<Service> {
    const service = identity.kind === 'admin' || identity.service === name ? await findService(this.#ctx.store.db, name) : undefined;
    if (!service) throw new PollyError('SERVICE_NOT_FOUND', `service ${name} not found`);
    return service;
  }

  /** Deletes a service and its tokens; refused while it owns volumes (no data is ever orphaned). */
  async remove(identity: Identity, name: string): Promise<void> {
    requireAdmin(identity, 'deleting a service');
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await findService(trx, name))) throw new PollyError('SERVICE_NOT_FOUND', `service ${name} not found`);
      const volumes = await countVolumes(trx, { service: name });
      if (volumes > 0) {
        throw new PollyError('SERVICE_NOT_EMPTY', `service ${name} still owns ${volumes} volume(s); delete or transfer them first`, { volumes });
      }
      await trx.deleteFrom('snapshots').where('service', '=', name).execute();
      await trx.deleteFrom('service_usage').where('service', '=', name).execute();
      await deleteService(trx, name);
      await this.#ctx.events.record(trx, { type: 'service.deleted', service: name, objectId: name, data: {} }, nowIso());
    });
    this.#cache.clear();
    this.#ctx.events.notify();
  }

  /** Issues a new token for a service. The token is returned once; only its hash is kept. */
  async issueToken(identity: Identity, name: string, description = ''): Promise<{ id: string; token: string; service: string }> {
    requireAdmin(identity, 'issuing tokens');
    const token = generateToken();
    const id = newId('tok');
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await findService(trx, name))) throw new PollyError('SERVICE_NOT_FOUND', `service ${name} not found`);
      const at = nowIso();
      await insertToken(trx, { id, hash: hashToken(token), kind: 'service', service: name, description, createdAt: at });
      await this.#ctx.events.record(trx, { type: 'token.created', service: name, objectId: id, data: { description } }, at);
    });
    this.#ctx.events.notify();
    return { id, token, service: name };
  }

  /** Registers a token chosen elsewhere (config bootstrap); idempotent. */
  async registerToken(kind: 'admin' | 'service', service: string | null, token: string, description: string): Promise<void> {
    const hash = hashToken(token);
    if (await findTokenByHash(this.#ctx.store.db, hash)) return;
    try {
      await insertToken(this.#ctx.store.db, { id: newId('tok'), hash, kind, service, description, createdAt: nowIso() });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // another replica registered it first
    }
  }

  async hasAdminToken(): Promise<boolean> {
    return (await countAdminTokens(this.#ctx.store.db)) > 0;
  }

  /** Creates a service from configuration if it does not exist yet. */
  async ensure(name: string, labels: Labels): Promise<void> {
    if (await findService(this.#ctx.store.db, name)) return;
    try {
      await this.create({ kind: 'admin' }, { name, labels });
    } catch (err) {
      if (!(err instanceof PollyError && err.code === 'SERVICE_EXISTS')) throw err;
    }
  }
}
