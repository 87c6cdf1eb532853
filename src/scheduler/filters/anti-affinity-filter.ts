import { defineFilter } from '../filter.js';
import { compileSelector, countMatching, formatSelector, matchesSelector } from '../labels.js';
import type { LabelSelector } from '../labels.js';

/** Hard anti-affinity: refuse pools already holding a volume of the service with all the given labels. */
export const antiAffinityFilter = defineFilter<LabelSelector>({
  name: 'anti-affinity',
  kind: 'match',
  prepare: (request) => compileSelector(request.antiAffinity),
  accepts(candidate, selector) {
    const volumes = candidate.serviceVolumeLabels;
    for (let i = 0; i < volumes.length; i++) if (matchesSelector(volumes[i]!, selector)) return false;
    return true;
  },
  reason(candidate, _request, selector) {
    const count = countMatching(candidate.serviceVolumeLabels, selector);
    return `holds ${count === 1 ? 'a volume' : `${count} volumes`} labelled ${formatSelector(selector)}`;
  },
  summarize: (_rejected, _request, selector) => `holds a volume labelled ${formatSelector(selector)}`,
});
