import type { Selectable } from 'kysely';
import type { AccessMode, PublishContext } from '../../core/ports/driver.js';
import type { AttachmentsTable } from '../schema.js';
import type { Executor } from '../store.js';

export type AttachmentStatus = 'live' | 'ended' | 'fenced';

export interface Attachment {
  id: string;
  volumeId: string;
  /** The service that attached it: the volume's owner, or a service the volume is shared with. */
  service: string;
  node: string;
  accessMode: AccessMode;
  readOnly: boolean;
  fencingToken: number;
  status: AttachmentStatus;
  leaseExpiresAt: string;
  createdAt: string;
  endedAt: string | null;
  /** What the pool's controller half answered for this node (networked drivers only); absent otherwise. */
  publishContext?: PublishContext | undefined;
}

/** RWO and RWOP allow one live attachment per volume. */
export function isExclusive(mode: AccessMode): boolean {
  return mode === 'RWO' || mode === 'RWOP';
}

function rowToAttachment(row: Selectable<AttachmentsTable>): Attachment {
  return {
    id: row.id,
    volumeId: row.volume_id,
    service: row.service,
    node: row.node,
    accessMode: row.access_mode as AccessMode,
    readOnly: Number(row.read_only) === 1,
    fencingToken: Number(row.fencing_token),
    status: row.status,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    ...(row.publish_context ? { publishContext: JSON.parse(row.publish_context) as PublishContext } : {}),
  };
}

export async function findAttachment(ex: Executor, id: string): Promise<Attachment | undefined> {
  const row = await ex.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? rowToAttachment(row) : undefined;
}

export interface AttachmentFilter {
  service?: string | undefined;
  node?: string | undefined;
  volumeId?: string | undefined;
}

/** Live attachments, oldest first. */
export async function listLiveAttachments(ex: Executor, filter: AttachmentFilter): Promise<Attachment[]> {
  let q = ex.selectFrom('attachments').selectAll().where('status', '=', 'live');
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (filter.node !== undefined) q = q.where('node', '=', filter.node);
  if (filter.volumeId !== undefined) q = q.where('volume_id', '=', filter.volumeId);
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map(rowToAttachment);
}

/**
 * Hands out the volume's next fencing token. On PostgreSQL the upsert row-locks the volume's counter, which
 * serialises racing attaches of one volume for the rest of the transaction; SQLite serialises writers anyway.
 */
export async function nextFencingToken(ex: Executor, volumeId: string): Promise<number> {
  const row = await ex
    .insertInto('volume_fencing')
    .values({ volume_id: volumeId, token: 1 })
    .onConflict((oc) => oc.column('volume_id').doUpdateSet((eb) => ({ token: eb('volume_fencing.token', '+', 1) })))
    .returning('token')
    .executeTakeFirstOrThrow();
  return Number(row.token);
}

export async function currentFencingToken(ex: Executor, volumeId: string): Promise<number> {
  const row = await ex.selectFrom('volume_fencing').select('token').where('volume_id', '=', volumeId).executeTakeFirst();
  return row ? Number(row.token) : 0;
}

export async function insertAttachment(ex: Executor, a: Attachment): Promise<void> {
  await ex
    .insertInto('attachments')
    .values({
      id: a.id,
      volume_id: a.volumeId,
      service: a.service,
      node: a.node,
      access_mode: a.accessMode,
      read_only: a.readOnly ? 1 : 0,
      fencing_token: a.fencingToken,
      status: a.status,
      exclusive_key: a.status === 'live' && isExclusive(a.accessMode) ? a.volumeId : null,
      live_key: a.status === 'live' ? `${a.volumeId}|${a.node}|${a.service}` : null,
      lease_expires_at: a.leaseExpiresAt,
      created_at: a.createdAt,
      ended_at: a.endedAt,
      publish_context: a.publishContext ? JSON.stringify(a.publishContext) : null,
    })
    .execute();
}

/** Records the publish context of a live attachment (after the controller half answered it). */
export async function setPublishContext(ex: Executor, id: string, ctx: PublishContext): Promise<void> {
  await ex.updateTable('attachments').set({ publish_context: JSON.stringify(ctx) }).where('id', '=', id).execute();
}

/** Ends a live attachment (compare-and-set on `live`); false when it had already ended. */
export async function endAttachment(ex: Executor, id: string, status: 'ended' | 'fenced', at: string): Promise<boolean> {
  const res = await ex
    .updateTable('attachments')
    .set({ status, exclusive_key: null, live_key: null, ended_at: at })
    .where('id', '=', id)
    .where('status', '=', 'live')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Renews the leases of a node's live attachments (of one service, or all); returns how many. */
export async function renewLeases(ex: Executor, node: string, service: string | undefined, until: string): Promise<number> {
  let q = ex.updateTable('attachments').set({ lease_expires_at: until }).where('node', '=', node).where('status', '=', 'live');
  if (service !== undefined) q = q.where('service', '=', service);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Renews one live attachment's lease. */
export async function renewLease(ex: Executor, id: string, until: string): Promise<void> {
  await ex.updateTable('attachments').set({ lease_expires_at: until }).where('id', '=', id).where('status', '=', 'live').execute();
}
