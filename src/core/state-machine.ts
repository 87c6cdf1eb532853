import { PollyError } from './errors.js';
import type { VolumeStatus } from './types.js';

/**
 * Allowed volume transitions (ARCHITECTURE.md): creating → available ⇄ attaching → attached ⇄ detaching →
 * available → deleting → (row removed). `error` is reachable from any state, and a volume in `error` may
 * be deleted or repaired back to `available` by the reconciler.
 */
const TRANSITIONS: Readonly<Record<VolumeStatus, readonly VolumeStatus[]>> = {
  creating: ['available', 'error', 'deleting'],
  importing: ['available', 'error'],
  available: ['attaching', 'deleting', 'error'],
  attaching: ['attached', 'available', 'error'],
  attached: ['detaching', 'attaching', 'error'],
  detaching: ['available', 'attached', 'error'],
  deleting: ['error'],
  error: ['available', 'deleting'],
};

export function canTransition(from: VolumeStatus, to: VolumeStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(volumeId: string, from: VolumeStatus, to: VolumeStatus): void {
  if (!canTransition(from, to)) {
    throw new PollyError('INVALID_STATE', `volume ${volumeId} is ${from}; it cannot become ${to}`, {
      status: from,
      wanted: to,
    });
  }
}

/** States a volume passes through only while an operation is in flight (an intent). */
export const TRANSIENT_STATUSES: readonly VolumeStatus[] = ['creating', 'importing', 'attaching', 'detaching', 'deleting'];

export function isTransient(status: VolumeStatus): boolean {
  return TRANSIENT_STATUSES.includes(status);
}
