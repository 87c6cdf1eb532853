import { PollyError } from '../core/errors.js';
import { assertValidName } from '../core/names.js';
import type { Identity, Profile } from '../core/types.js';
import type { ProfileConfig, ProfilePatch } from '../config/schema.js';
import { findProfile, listPools, listProfiles, upsertProfile } from '../store/repos/pools.js';
import { nowIso, type Executor } from '../store/store.js';
import { profileMisfit } from './profile-fit.js';
import type { AppContext } from './context.js';
import { requireAdmin } from './scope.js';

/** A full profile from its declared (partial) form, with Polly's defaults. */
export function profileFromSpec(p: ProfileConfig, createdAt: string): Profile {
  const profile: Profile = {
    name: p.name,
    description: p.description ?? '',
    minBytes: p.minBytes ?? 1,
    maxBytes: p.maxBytes ?? 2 ** 53,
    volumeMode: p.volumeMode ?? 'filesystem',
    fsType: p.fsType ?? 'ext4',
    media: p.media ?? null,
    qos: p.qos ?? {},
    replicas: p.replicas ?? 1,
    failover: p.failover ?? 'safe',
    forceAfterSeconds: p.forceAfterSeconds ?? 60,
    accessModes: p.accessModes ?? ['RWO', 'RWOP', 'ROX', 'RWX'],
    poolSelector: p.poolSelector ?? {},
    pools: p.pools ?? [],
    parameters: p.parameters ?? {},
    services: p.services ?? [],
    createdAt,
  };
  if (profile.minBytes > profile.maxBytes) {
    throw new PollyError('VALIDATION_FAILED', `profile ${p.name}: minBytes ${profile.minBytes} is more than maxBytes ${profile.maxBytes}`);
  }
  if (profile.accessModes.length === 0) throw new PollyError('VALIDATION_FAILED', `profile ${p.name}: accessModes must not be empty`);
  return profile;
}

/** Storage classes, managed by the admin (and declared in config). */
export class ProfileUseCases {
  readonly #ctx: AppContext;

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  async list(identity: Identity): Promise<Profile[]> {
    const all = await listProfiles(this.#ctx.store.db);
    if (identity.kind === 'admin') return all;
    return all.filter((p) => p.services.length === 0 || p.services.includes(identity.service));
  }

  async get(identity: Identity, name: string): Promise<Profile> {
    const p = await findProfile(this.#ctx.store.db, name);
    if (!p || (identity.kind === 'service' && p.services.length > 0 && !p.services.includes(identity.service))) {
      throw new PollyError('PROFILE_NOT_FOUND', `profile ${name} not found`);
    }
    return p;
  }

  /**
   * Refuses a profile no pool could serve (every create with it would be NO_MATCHING_POOL) unless
   * `force`: a profile may be made before the pools it is meant for.
   */
  async #assertSatisfiable(ex: Executor, profile: Profile, force: boolean): Promise<void> {
    if (force) return;
    const why = profileMisfit(profile, await listPools(ex), (pool) => this.#ctx.drivers.get(pool)?.capabilities.block);
    if (why !== null) {
      throw new PollyError('PROFILE_UNSATISFIABLE', `profile ${profile.name} could not be placed on any pool (${why}); fix it, or pass ?force=true to keep it anyway`);
    }
  }

  async create(identity: Identity, spec: ProfileConfig, opts: { force?: boolean } = {}): Promise<Profile> {
    requireAdmin(identity, 'creating profiles');
    assertValidName('profile', spec.name);
    const profile = profileFromSpec(spec, nowIso());
    await this.#ctx.store.transaction(async (trx) => {
      if (await findProfile(trx, spec.name)) throw new PollyError('PROFILE_EXISTS', `profile ${spec.name} already exists`);
      await this.#assertSatisfiable(trx, profile, opts.force === true);
      await upsertProfile(trx, profile);
      await this.#ctx.events.record(trx, { type: 'profile.created', service: null, objectId: profile.name, data: {} }, profile.createdAt);
    });
    this.#ctx.store.definitions.forgetProfiles();
    this.#ctx.events.notify();
    return profile;
  }

  /**
   * Merges the given keys into the profile (`media: null` clears it); volumes already placed keep their
   * pool. `name` and `createdAt` may be sent back as GET returned them, but not changed.
   */
  async update(identity: Identity, name: string, patch: ProfilePatch, opts: { force?: boolean } = {}): Promise<Profile> {
    requireAdmin(identity, 'changing profiles');
    const { name: sentName, createdAt: sentCreatedAt, ...changes } = patch;
    const updated = await this.#ctx.store.transaction(async (trx) => {
      const current = await findProfile(trx, name);
      if (!current) throw new PollyError('PROFILE_NOT_FOUND', `profile ${name} not found`);
      if (sentName !== undefined && sentName !== name) throw new PollyError('VALIDATION_FAILED', `body.name: a profile cannot be renamed (${name} → ${sentName})`);
      if (sentCreatedAt !== undefined && sentCreatedAt !== current.createdAt) throw new PollyError('VALIDATION_FAILED', 'body.createdAt is read-only');
      const { createdAt, ...spec } = current;
      const merged = profileFromSpec({ ...spec, ...changes, name }, createdAt);
      await this.#assertSatisfiable(trx, merged, opts.force === true);
      await upsertProfile(trx, merged);
      await this.#ctx.events.record(trx, { type: 'profile.updated', service: null, objectId: name, data: { ...changes } }, nowIso());
      return merged;
    });
    this.#ctx.store.definitions.forgetProfiles();
    this.#ctx.events.notify();
    return updated;
  }

  /** Deletes a profile no volume uses. `default` cannot be deleted. */
  async remove(identity: Identity, name: string): Promise<void> {
    requireAdmin(identity, 'deleting profiles');
    if (name === 'default') throw new PollyError('PROFILE_IN_USE', 'the default profile cannot be deleted');
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await findProfile(trx, name))) throw new PollyError('PROFILE_NOT_FOUND', `profile ${name} not found`);
      const used = await trx.selectFrom('volumes').select('id').where('profile', '=', name).limit(1).executeTakeFirst();
      if (used) throw new PollyError('PROFILE_IN_USE', `profile ${name} is used by volumes (e.g. ${used.id})`);
      await trx.deleteFrom('profiles').where('name', '=', name).execute();
      await trx.updateTable('offers').set({ status: 'revoked' }).where('profile', '=', name).where('status', '=', 'open').execute();
      await this.#ctx.events.record(trx, { type: 'profile.deleted', service: null, objectId: name, data: {} }, nowIso());
    });
    this.#ctx.store.definitions.forgetProfiles();
    this.#ctx.events.notify();
  }
}
