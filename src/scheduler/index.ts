/** The placement engine's public surface. */
export { createScheduler } from './scheduler.js';
export { consumeFromVolume } from './consume.js';
export { NO_VOLUMES, toCandidate } from './candidate.js';
export { fits, schedulableBytes } from './provisioning.js';
export { formatBytes } from './format.js';
export { DEFAULT_FILTER_ORDER, FILTERS } from './filters/index.js';
export { DEFAULT_WEIGHERS, WEIGHERS } from './weighers/index.js';
export type * from './types.js';
