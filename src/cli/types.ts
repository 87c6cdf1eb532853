import type { Static } from 'typebox';
import type { EventSchema, PoolSchema, ProfileSchema, ServiceSchema, SnapshotSchema, VolumeSchema } from '../api/rest/schemas.js';

/** What REST v1 returns, derived from the server's own schemas (types only: the CLI speaks HTTP). */
export type Service = Static<typeof ServiceSchema>;
export type Pool = Static<typeof PoolSchema>;
export type Profile = Static<typeof ProfileSchema>;
export type Volume = Static<typeof VolumeSchema>;
export type Snapshot = Static<typeof SnapshotSchema>;
export type PollyEvent = Static<typeof EventSchema>;
export type Labels = Record<string, string>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface IssuedToken {
  id: string;
  token: string;
  service: string;
}

/** The shapes below mirror the (unexported) schemas of src/api/rest/routes/scheduling.ts and ownership.ts. */

/** A service's quota (null = unlimited) and its usage. */
export interface Quota {
  service: string;
  maxVolumes: number | null;
  maxBytes: number | null;
  maxSnapshots: number | null;
  profileBytes: Record<string, number>;
  usage: { volumes: number; bytes: number; snapshots: number; reservedBytes: number; profileBytes: Record<string, number> };
}

export interface Offer {
  id: string;
  service: string;
  pool: string;
  profile: string;
  zone: string | null;
  maxBytes: number;
  status: string;
  createdAt: string;
  expiresAt: string;
}

export interface Reservation {
  id: string;
  offerId: string;
  service: string;
  pool: string;
  profile: string;
  sizeBytes: number;
  status: string;
  volumeId: string | null;
  createdAt: string;
  expiresAt: string;
}

export interface Share {
  volumeId: string;
  service: string;
  access: string;
  createdAt: string;
}

export interface UnmanagedObject {
  backendId: string;
  kind: string;
  sizeBytes: number;
  usedBytes?: number;
}

export interface Weight {
  raw: number;
  normalized: number;
  multiplier: number;
  weighted: number;
}

export interface PoolVerdict {
  pool: string;
  passed: boolean;
  rejectedBy?: { filter: string; reason: string };
  weights?: Record<string, Weight>;
  score?: number;
  rank?: number;
}

/** POST /v1/placement/explain. */
export interface Explanation {
  chosen: string | null;
  summary: string;
  filters: Array<{ name: string; active: boolean; rejected: number }>;
  pools: PoolVerdict[];
}
