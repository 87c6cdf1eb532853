import type { Static } from 'typebox';
import type { EventSchema, PoolSchema, ServiceSchema, SnapshotSchema, VolumeSchema } from '../api/rest/schemas.js';

/** What REST v1 returns, derived from the server's own schemas (types only: the CLI speaks HTTP). */
export type Service = Static<typeof ServiceSchema>;
export type Pool = Static<typeof PoolSchema>;
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
