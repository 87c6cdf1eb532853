import type { Executor } from '../store.js';

export interface IdempotencyRecord {
  fingerprint: string;
  state: 'pending' | 'done';
  responseStatus: number | null;
  responseBody: string | null;
}

export async function findIdempotencyKey(ex: Executor, owner: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await ex
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('owner', '=', owner)
    .where('key', '=', key)
    .executeTakeFirst();
  return row
    ? { fingerprint: row.fingerprint, state: row.state, responseStatus: row.response_status, responseBody: row.response_body }
    : undefined;
}

/** Claims a key; a unique violation means somebody else claimed it first. */
export async function claimIdempotencyKey(ex: Executor, owner: string, key: string, fingerprint: string, now: string): Promise<void> {
  await ex
    .insertInto('idempotency_keys')
    .values({ owner, key, fingerprint, state: 'pending', response_status: null, response_body: null, created_at: now })
    .execute();
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
