import type { Profile } from '../core/types.js';

/** How long a definition read from the store is reused before it is read again. */
export const DEFINITION_TTL_MS = 1_000;

/**
 * Profiles read on every create, kept for a second. A profile changes only by an admin's write: the
 * replica that writes it forgets its copy at once (`forgetProfiles`); another replica sharing the
 * PostgreSQL sees the change within the TTL. Nothing here is a safety check: the database still holds
 * the constraints (the profile's foreign key on every volume), the cache only saves the read.
 */
export class DefinitionCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #profiles = new Map<string, { value: Profile | undefined; until: number }>();
  /** Bumped by every forget, so that a read that started before it never stores its stale result. */
  #generation = 0;

  constructor(opts: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = opts.ttlMs ?? DEFINITION_TTL_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** The profile `name` (undefined: there is none), from `load` at most once per TTL. */
  async profile(name: string, load: () => Promise<Profile | undefined>): Promise<Profile | undefined> {
    const now = this.#now();
    const hit = this.#profiles.get(name);
    if (hit && hit.until > now) return hit.value;
    const generation = this.#generation;
    const value = await load();
    if (generation === this.#generation) {
      if (this.#profiles.size >= 10_000) this.#profiles.clear();
      this.#profiles.set(name, { value, until: now + this.#ttlMs });
    }
    return value;
  }

  /** Forgets every cached profile (after a profile was created, changed or deleted here). */
  forgetProfiles(): void {
    this.#generation++;
    this.#profiles.clear();
  }
}
