import { defineFilter } from '../filter.js';
import { compileSelector, formatSelector, matchesSelector } from '../labels.js';
import type { LabelSelector } from '../labels.js';
import type { PoolCandidate } from '../types.js';

interface ProfileRules {
  /** False when the profile's service list excludes the requesting service: every pool is refused. */
  serviceAllowed: boolean;
  allowList: ReadonlySet<string> | null;
  selector: LabelSelector | null;
  media: string | null;
}

/**
 * The profile's placement rules: its pool allow-list, its pool selector (labels ⊆ pool labels), its media
 * (the pool label `media`) and the services allowed to use it (a request-wide verdict).
 */
export const profileFilter = defineFilter<ProfileRules>({
  name: 'profile',
  kind: 'match',
  prepare(request) {
    const profile = request.profile;
    const rules: ProfileRules = {
      serviceAllowed: profile.services.length === 0 || profile.services.includes(request.service),
      allowList: profile.pools.length === 0 ? null : new Set(profile.pools),
      selector: compileSelector(profile.poolSelector),
      media: profile.media,
    };
    const nothingToCheck = rules.serviceAllowed && !rules.allowList && !rules.selector && rules.media === null;
    return nothingToCheck ? null : rules;
  },
  accepts: (candidate: PoolCandidate, rules: ProfileRules): boolean => {
    if (!rules.serviceAllowed) return false;
    const pool = candidate.pool;
    if (rules.allowList !== null && !rules.allowList.has(pool.name)) return false;
    if (rules.media !== null && pool.labels['media'] !== rules.media) return false;
    return rules.selector === null || matchesSelector(pool.labels, rules.selector);
  },
  reason(candidate, request, rules) {
    const profile = request.profile.name;
    const pool = candidate.pool;
    if (!rules.serviceAllowed) return `service ${request.service} may not use profile ${profile}`;
    if (rules.allowList !== null && !rules.allowList.has(pool.name)) return `not in profile ${profile}'s pools`;
    if (rules.media !== null && pool.labels['media'] !== rules.media) {
      return `media ${pool.labels['media'] ?? 'unset'}, profile ${profile} needs ${rules.media}`;
    }
    return `labels do not match profile ${profile}'s selector ${formatSelector(rules.selector ?? [])}`;
  },
});
