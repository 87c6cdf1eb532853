import type { FailoverPolicy } from './types.js';

/**
 * When may a RWO/RWOP volume move from the node that holds it to another one? Never while the holder may
 * still write. A holder that released the volume, self-fenced (and reported it), or was fenced by an
 * operator (`polly node fence`) has ended its attachment already; this decides the remaining case: the
 * holder went silent and its lease ran out. Lease expiry alone proves nothing about a silent node (a
 * partitioned host keeps writing to storage it still reaches), so what happens next is the profile's
 * policy. Pure: no I/O, time is given.
 */

export interface TakeoverInput {
  policy: FailoverPolicy;
  /** `force-after`: seconds past the re-grant time before the volume is granted anyway. */
  forceAfterSeconds: number;
  /** Margin for clocks that disagree between the server and the holder's host (seconds). */
  clockSkewSeconds: number;
  now: Date;
  holder: { node: string; leaseExpiresAt: string };
  /** Whether the pool's driver can fence a node at the storage (e.g. a client blocklist). */
  storageCanFence: boolean;
}

export type TakeoverDecision =
  /** The holder's lease is still running: the volume is busy, as before. */
  | { kind: 'busy' }
  /** Grant after fencing the holder at the storage (the caller asks the driver first). */
  | { kind: 'storage-fence' }
  /** Grant now: the holder's agent fenced itself by its own deadline, well before this (force-after). */
  | { kind: 'force' }
  /** Not yet: the reason, when it could change by itself (`until`), and what the operator can do. */
  | { kind: 'wait'; reason: string; until: string | null; remedies: string[] };

/**
 * The earliest moment another node may be granted the volume on the holder's own fence: lease end plus
 * the clock-skew margin (a storage-side fence grants at lease end, once the fence is in force).
 */
export function regrantAt(leaseExpiresAt: string, clockSkewSeconds: number): Date {
  return new Date(Date.parse(leaseExpiresAt) + clockSkewSeconds * 1000);
}

/**
 * The agent's own deadline: it fences itself this long after its last successful renewal began, which is
 * before the server's lease ends (the server starts the lease later than the agent sent the request).
 */
export function selfFenceDeadline(lastRenewalStartedAt: number, leaseSeconds: number, marginSeconds: number): number {
  return lastRenewalStartedAt + (leaseSeconds - marginSeconds) * 1000;
}

export function decideTakeover(input: TakeoverInput): TakeoverDecision {
  const { holder, now } = input;
  if (Date.parse(holder.leaseExpiresAt) > now.getTime()) return { kind: 'busy' };
  // A fence at the storage cuts the holder off whatever its clock says: the clock-skew margin, which
  // covers a holder that fences itself by its own clock, buys nothing there (and costs the takeover).
  if (input.policy === 'storage-fence' && input.storageCanFence) return { kind: 'storage-fence' };
  const fenceCmd = `polly node fence ${holder.node}`;
  const remedies = [
    `if node ${holder.node} is really down (powered off, its containers gone), confirm it: ${fenceCmd}`,
    `if node ${holder.node} comes back, its agent fences itself and reports it, and the volume follows`,
  ];
  const earliest = regrantAt(holder.leaseExpiresAt, input.clockSkewSeconds);
  if (now < earliest) {
    return {
      kind: 'wait',
      reason: `waiting for node ${holder.node} to be fenced: its lease ended at ${holder.leaseExpiresAt}; no re-grant before ${earliest.toISOString()} (clock-skew margin)`,
      until: earliest.toISOString(),
      remedies,
    };
  }
  switch (input.policy) {
    case 'storage-fence':
      return {
        kind: 'wait',
        reason: `waiting for node ${holder.node} to be fenced: its lease ended at ${holder.leaseExpiresAt}, it reported no self-fence, and this pool's driver cannot fence at the storage`,
        until: null,
        remedies,
      };
    case 'force-after': {
      const forceAt = new Date(earliest.getTime() + input.forceAfterSeconds * 1000);
      if (now >= forceAt) return { kind: 'force' };
      return {
        kind: 'wait',
        reason: `waiting for node ${holder.node} to be fenced: its lease ended at ${holder.leaseExpiresAt}; failover force-after grants it at ${forceAt.toISOString()}`,
        until: forceAt.toISOString(),
        remedies,
      };
    }
    case 'safe':
      return {
        kind: 'wait',
        reason: `waiting for node ${holder.node} to be fenced: its lease ended at ${holder.leaseExpiresAt} and it reported no self-fence (failover: safe)`,
        until: null,
        remedies,
      };
  }
}
