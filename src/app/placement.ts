import { PollyError } from '../core/errors.js';
import type { Profile } from '../core/types.js';
import { listPools, type PoolRecord } from '../store/repos/pools.js';
import type { Executor } from '../store/store.js';
import type { PoolUseCases } from './pools.js';

export interface PlacementNeeds {
  service: string;
  sizeBytes: number;
  profile: Profile;
  /** A pool fixed by the request (explicit `pool`, a snapshot's pool, a clone's source). */
  pinnedPool?: string | undefined;
  needsSnapshots?: boolean | undefined;
}

/**
 * The provisioned-capacity limit of a pool: what may be allocated in all, given over-subscription and the
 * reserved share. Checked again inside the create transaction so that racing creates cannot both take the
 * last bytes.
 */
export function provisionLimit(pool: Pick<PoolRecord, 'overSubscriptionRatio' | 'reservedPercent'>, totalBytes: number): number {
  return Math.floor(totalBytes * pool.overSubscriptionRatio * (1 - pool.reservedPercent / 100));
}

/**
 * Picks the pool for a new volume: among enabled pools that the profile allows and that have room, the one
 * with the most free bytes (ties by name). Returns NO_MATCHING_POOL or NO_CAPACITY with a one-line summary.
 */
export async function choosePool(ex: Executor, pools: PoolUseCases, needs: PlacementNeeds): Promise<string> {
  const records = await listPools(ex);
  const reasons = new Map<string, number>();
  const reject = (why: string) => reasons.set(why, (reasons.get(why) ?? 0) + 1);
  let best: { name: string; free: number } | undefined;
  let capacityOnly = 0;
  for (const pool of records) {
    if (needs.pinnedPool !== undefined && pool.name !== needs.pinnedPool) continue;
    if (pool.state !== 'enabled') {
      reject(`pool state`);
      continue;
    }
    const { profile } = needs;
    if (profile.pools.length > 0 && !profile.pools.includes(pool.name)) {
      reject('profile pools');
      continue;
    }
    if (Object.entries(profile.poolSelector).some(([k, v]) => pool.labels[k] !== v)) {
      reject('profile selector');
      continue;
    }
    if (profile.media !== null && pool.labels.media !== profile.media) {
      reject('profile media');
      continue;
    }
    const driver = pools.driverFor(pool.name);
    if (profile.volumeMode === 'block' && !driver.capabilities.block) {
      reject('capabilities');
      continue;
    }
    if (needs.needsSnapshots && !driver.capabilities.restore) {
      reject('capabilities');
      continue;
    }
    const cap = await pools.backendCapacity(pool.name);
    const headroom = provisionLimit(pool, cap.totalBytes) - pool.allocatedBytes;
    const reservedBytes = (cap.totalBytes * pool.reservedPercent) / 100;
    const enforcedFree = driver.capabilities.sizeEnforced || pool.overSubscriptionRatio > 1 ? Infinity : cap.freeBytes - reservedBytes;
    if (needs.sizeBytes > headroom || needs.sizeBytes > enforcedFree) {
      reject('capacity');
      capacityOnly++;
      continue;
    }
    if (!best || cap.freeBytes > best.free || (cap.freeBytes === best.free && pool.name < best.name)) {
      best = { name: pool.name, free: cap.freeBytes };
    }
  }
  if (best) return best.name;
  const considered = needs.pinnedPool !== undefined ? 1 : records.length;
  const summary = `0 of ${considered} pool(s) fit ${needs.sizeBytes} bytes: ${[...reasons].map(([r, n]) => `${n} rejected by ${r}`).join(', ') || 'no pools'}`;
  if (capacityOnly > 0 && capacityOnly === [...reasons.values()].reduce((a, b) => a + b, 0)) {
    throw new PollyError('NO_CAPACITY', summary);
  }
  throw new PollyError('NO_MATCHING_POOL', summary);
}
