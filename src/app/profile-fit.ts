import type { Profile } from '../core/types.js';
import type { PoolRecord } from '../store/repos/pools.js';

/**
 * Why a pool could never serve a profile, whatever the size or capacity — the profile's own placement
 * rules (pool list, selector, media, block mode) against the pool's labels and driver — or null when it
 * could. The same rules the scheduler's profile and capabilities filters apply at create time.
 */
export function poolMisfit(profile: Profile, pool: PoolRecord, canBlock: boolean | undefined): string | null {
  if (pool.state === 'disabled') return 'disabled';
  if (profile.pools.length > 0 && !profile.pools.includes(pool.name)) return "not in the profile's pools";
  for (const [k, v] of Object.entries(profile.poolSelector)) {
    if (pool.labels[k] !== v) return `label ${k}=${pool.labels[k] ?? '(unset)'}, selector wants ${v}`;
  }
  if (profile.media !== null && pool.labels['media'] !== profile.media) return `media ${pool.labels['media'] ?? '(unset)'}, profile wants ${profile.media}`;
  if (profile.volumeMode === 'block' && canBlock === false) return 'driver has no block volumes';
  return null;
}

/** A one-line summary of why no pool can serve the profile, or null when one can. */
export function profileMisfit(profile: Profile, pools: PoolRecord[], canBlock: (pool: string) => boolean | undefined): string | null {
  if (pools.length === 0) return 'there are no pools';
  const reasons: string[] = [];
  for (const pool of pools) {
    const why = poolMisfit(profile, pool, canBlock(pool.name));
    if (why === null) return null;
    reasons.push(`${pool.name}: ${why}`);
  }
  const shown = reasons.slice(0, 5).join('; ');
  return reasons.length > 5 ? `${shown}; and ${reasons.length - 5} more` : shown;
}
