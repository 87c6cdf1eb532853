/**
 * Types of the placement engine. Everything here is plain in-memory data: the caller (which talks to the
 * store and the drivers) builds the candidates, the engine only filters and weighs them.
 */
import type { ErrorCode } from '../core/errors.js';
import type { AccessMode, DriverCapabilities, VolumeMode } from '../core/ports/driver.js';
import type { Labels, Pool, PoolCapacity, Profile } from '../core/types.js';

/** One pool the engine may choose, with what it can do, how full it is and what the service already has there. */
export interface PoolCandidate {
  readonly pool: Pool;
  readonly capabilities: DriverCapabilities;
  /** Mutable on purpose: `consumeFromVolume` accounts a placement here so a batch sees the earlier ones. */
  capacity: PoolCapacity;
  /** `pool.topology.zone`, hoisted so the hot path reads one property; null when the pool has no zone. */
  readonly zone: string | null;
  /**
   * Labels of the requesting service's volumes already in this pool (one entry per volume). Most pools
   * hold none of a given service's volumes and share `NO_VOLUMES`, so affinity, anti-affinity and zone
   * spread cost one length check per pool at 100,000 pools. Only the requesting service's volumes are
   * listed: one tenant's placement must not depend on (or reveal) another tenant's labels.
   */
  serviceVolumeLabels: readonly Labels[];
}

/** A node a volume is placed for: its id, zone, and where undeclared node-local pools live (`home`). */
export interface PlacementNode {
  id: string;
  zone: string | null;
  /** The node an undeclared node-local pool belongs to (see `poolNodes`); null when there is none yet. */
  home: string | null;
}

/** What a new volume needs. Sizes are bytes. */
export interface PlacementRequest {
  service: string;
  sizeBytes: number;
  profile: Profile;
  accessMode: AccessMode;
  volumeMode: VolumeMode;
  /** Filesystem for block-backed filesystem volumes; null (or '') for the driver's default. */
  fsType: string | null;
  needs: { snapshots?: boolean; clones?: boolean; restore?: boolean };
  topology?: {
    /** Zones the volume must be accessible from: any of them (CSI `requisite`). Empty means no constraint. */
    requisite?: string[];
    /** Zones in order of preference, first best (CSI `preferred`). */
    preferred?: string[];
  };
  /** Soft: prefer pools holding the service's volumes with all these labels. */
  affinity?: Labels;
  /** Hard: refuse pools holding a volume of the service with all these labels. */
  antiAffinity?: Labels;
  /** The node the volume is made for (it mounts it first): only pools it reaches (node-reach filter). */
  node?: PlacementNode;
  /** When the request names a pool, or a reservation fixed it: only that pool may be chosen. */
  pinnedPool?: string;
  /** What is left of the service's quota; null means unlimited. */
  quota?: { remainingBytes: number | null; remainingVolumes: number | null };
}

/**
 * How a rejection is classified: `capacity` (NO_CAPACITY when it is the only reason), `quota`
 * (QUOTA_EXCEEDED; such a filter prepares to non-null only when it refuses the request), `match` (the
 * pool is not suitable: NO_MATCHING_POOL).
 */
export type FilterKind = 'capacity' | 'quota' | 'match';

/**
 * One predicate over a pool, as Cinder's `<concept>_filter.py` `backend_passes`. Per-request work goes in
 * `prepare`, whose result is handed back to the other members. `accepts` is the hot path: a plain
 * function the engine calls detached (no `this`), the same function object for every request, so V8 can
 * inline it into the engine's loop; per-request closures would defeat that.
 */
export interface Filter<P = unknown> {
  readonly name: string;
  readonly kind: FilterKind;
  /** Once per placement; null when the filter cannot reject any pool for this request (it is skipped). */
  prepare(request: PlacementRequest): P | null;
  accepts(candidate: PoolCandidate, prepared: P): boolean;
  /** Why `candidate` was rejected (cold path: only for rejected candidates). */
  reason(candidate: PoolCandidate, request: PlacementRequest, prepared: P): string;
  /** One short phrase for all the candidates this filter rejected, for the summary line. */
  summarize(rejected: readonly PoolCandidate[], request: PlacementRequest, prepared: P): string;
  /** Null when the pool passes, else a short human reason. Convenience for tests and one-offs. */
  passes(candidate: PoolCandidate, request: PlacementRequest): string | null;
}

/**
 * One number per pool, as Cinder's `weights/<concept>.py` `_weigh_object`. Raw values are "higher is
 * better" (a weigher preferring less of something returns its negation, as Cinder's VolumeNumberWeigher
 * does); the engine normalises them to [0,1] across the surviving candidates and multiplies. As for
 * filters, `value` is a plain function called detached with what `prepare` returned.
 */
export interface Weigher<P = unknown> {
  readonly name: string;
  readonly defaultMultiplier: number;
  /** Whether `prepare` needs `holders` (the engine gathers them, in one pass, only when some weigher does). */
  readonly needsHolders: boolean;
  /**
   * Once per placement; null when every candidate would weigh the same. `holders` (only when
   * `needsHolders`) is every candidate given to the engine, passing or not, holding at least one of the
   * service's volumes: what a weigher aggregating over them (zone spread) needs, and few of them.
   */
  prepare(request: PlacementRequest, holders: readonly PoolCandidate[]): P | null;
  value(candidate: PoolCandidate, prepared: P): number;
  /** Raw value of one candidate, aggregating over `[candidate]` only. Convenience for tests. */
  weigh(candidate: PoolCandidate, request: PlacementRequest): number;
}

export type PlacementFailure = Extract<ErrorCode, 'NO_CAPACITY' | 'NO_MATCHING_POOL' | 'QUOTA_EXCEEDED'>;

/**
 * The chosen pool (and its index in the candidates, to account it with `consumeFromVolume`), or why none.
 * NO_CAPACITY: some pool passed every filter except capacity. QUOTA_EXCEEDED: the quota filter refused.
 */
export type PlacementResult =
  | { pool: string; index: number }
  | { pool: null; failure: PlacementFailure; summary: string };

export interface WeightDetail {
  raw: number;
  normalized: number;
  multiplier: number;
  weighted: number;
}

export interface PoolExplanation {
  pool: string;
  passed: boolean;
  /** The first filter (in configured order) that rejected the pool. */
  rejectedBy?: { filter: string; reason: string };
  weights?: Record<string, WeightDetail>;
  score?: number;
  /** 1 is the chosen pool. */
  rank?: number;
}

export interface Explanation {
  result: PlacementResult;
  chosen: string | null;
  summary: string;
  /** Per filter, in order: whether it applied to this request and how many pools it removed (Cinder's log line). */
  filters: Array<{ name: string; active: boolean; rejected: number }>;
  /** Passing pools by rank, then rejected pools in input order. */
  pools: PoolExplanation[];
}

export interface SchedulerConfig {
  /** Filter names, in the order they run; default all of them in the default order. */
  filters?: string[];
  /** Weigher name → multiplier; replaces the default set (a weigher not listed is off). */
  weighers?: Record<string, number>;
}

export interface Scheduler {
  /** Hot path: no string formatting unless no pool fits. */
  place(candidates: readonly PoolCandidate[], request: PlacementRequest): PlacementResult;
  /** Every pool with its verdict and weights; chooses the same pool as `place`. */
  explain(candidates: readonly PoolCandidate[], request: PlacementRequest): Explanation;
}
