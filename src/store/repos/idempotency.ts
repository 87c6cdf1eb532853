import type { Executor } from '../store.js';

export interface IdempotencyRecord {
  fingerprint: string;
  state: 'pending' | 'done';
  responseStatus: number | null;
  responseBody: string | null;
  /** The replica incarnation running the request. */
  replica: string | null;
  /** The volume whose intent the request committed, and which operation. */
  resourceId: string | null;
  resourceOp: 'create' | 'delete' | null;
}

export async function findIdempotencyKey(ex: Executor, owner: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await ex
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('owner', '=', owner)
    .where('key', '=', key)
    .executeTakeFirst();
  return row
    ? {
        fingerprint: row.fingerprint,
        state: row.state,
        responseStatus: row.response_status,
        responseBody: row.response_body,
        replica: row.replica,
        resourceId: row.resource_id,
        resourceOp: row.resource_op,
      }
    : undefined;
}

/** Claims a key; a unique violation means somebody else claimed it first. */
export async function claimIdempotencyKey(ex: Executor, owner: string, key: string, fingerprint: string, replica: string, now: string): Promise<void> {
  await ex
    .insertInto('idempotency_keys')
    .values({ owner, key, fingerprint, state: 'pending', response_status: null, response_body: null, created_at: now, replica })
    .execute();
}

/** Records the intent a request committed, inside the intent's own transaction. */
export async function linkIdempotencyKey(ex: Executor, owner: string, key: string, intent: { kind: 'volume'; op: 'create' | 'delete'; id: string }): Promise<void> {
  await ex
    .updateTable('idempotency_keys')
    .set({ resource_kind: intent.kind, resource_op: intent.op, resource_id: intent.id })
    .where('owner', '=', owner)
    .where('key', '=', key)
    .execute();
}

/**
 * Hands a pending record to `replica` to run its request again, compare-and-set on what the caller saw:
 * of several racing retries exactly one wins.
 */
export async function takeOverIdempotencyKey(ex: Executor, owner: string, key: string, seen: IdempotencyRecord, replica: string): Promise<boolean> {
  let q = ex
    .updateTable('idempotency_keys')
    .set({ replica, resource_kind: null, resource_op: null, resource_id: null })
    .where('owner', '=', owner)
    .where('key', '=', key)
    .where('state', '=', 'pending');
  q = seen.replica === null ? q.where('replica', 'is', null) : q.where('replica', '=', seen.replica);
  q = seen.resourceId === null ? q.where('resource_id', 'is', null) : q.where('resource_id', '=', seen.resourceId);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function completeIdempotencyKey(ex: Executor, owner: string, key: string, status: number, body: string): Promise<void> {
  await ex
    .updateTable('idempotency_keys')
    .set({ state: 'done', response_status: status, response_body: body })
    .where('owner', '=', owner)
    .where('key', '=', key)
    .execute();
}

export async function releaseIdempotencyKey(ex: Executor, owner: string, key: string): Promise<void> {
  await ex.deleteFrom('idempotency_keys').where('owner', '=', owner).where('key', '=', key).execute();
}

/** Forgets keys older than `before` (ISO time); returns how many. */
export async function expireIdempotencyKeys(ex: Executor, before: string): Promise<number> {
  const res = await ex.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
