import type { Labels } from '../core/types.js';

/** A label selector flattened once per request, so matching is a tight loop without Object.entries. */
export type LabelSelector = ReadonlyArray<readonly [string, string]>;

/** The selector's entries, or null when it is absent or empty (matches everything: nothing to check). */
export function compileSelector(labels: Labels | undefined): LabelSelector | null {
  if (labels === undefined) return null;
  const entries = Object.entries(labels);
  return entries.length === 0 ? null : entries;
}

/** Whether `labels` carries every entry of `selector`. */
export function matchesSelector(labels: Labels, selector: LabelSelector): boolean {
  for (let i = 0; i < selector.length; i++) {
    const entry = selector[i]!;
    if (labels[entry[0]] !== entry[1]) return false;
  }
  return true;
}

/** How many of `volumes` carry every entry of `selector`. */
export function countMatching(volumes: readonly Labels[], selector: LabelSelector): number {
  let count = 0;
  for (let i = 0; i < volumes.length; i++) if (matchesSelector(volumes[i]!, selector)) count++;
  return count;
}

/** `app=db,tier=gold` for reasons. */
export function formatSelector(selector: LabelSelector): string {
  return selector.map(([k, v]) => `${k}=${v}`).join(',');
}
