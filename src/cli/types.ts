import type { components } from '../client/openapi.js';

/**
 * What REST v1 returns, as generated from /openapi.json (src/client/openapi.ts, `npm run gen:client`):
 * the CLI names the component schemas instead of restating them.
 */
type Schemas = components['schemas'];

export type Service = Schemas['Service'];
export type IssuedToken = Schemas['IssuedToken'];
export type Pool = Schemas['Pool'];
export type PollyNode = Schemas['Node'];
export type Attachment = Schemas['Attachment'];
export type NodeFenced = Schemas['NodeFenced'];
export type Profile = Schemas['Profile'];
export type Volume = Schemas['Volume'];
export type Snapshot = Schemas['Snapshot'];
export type GroupSnapshot = Schemas['GroupSnapshot'];
export type PollyEvent = Schemas['Event'];
export type Quota = Schemas['Quota'];
export type Offer = Schemas['Offer'];
export type Reservation = Schemas['Reservation'];
export type Share = Schemas['Share'];
export type UnmanagedObject = Schemas['UnmanagedObject'];
export type Weight = Schemas['Weight'];
export type PoolVerdict = Schemas['PoolVerdict'];
/** POST /v1/placement/explain. */
export type Explanation = Schemas['Explanation'];
export type Labels = Record<string, string>;

/** Every paged list (`VolumePage`, `SnapshotPage`) has this shape. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
