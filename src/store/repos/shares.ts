import type { Executor } from '../store.js';

export interface Share {
  volumeId: string;
  service: string;
  access: 'ro' | 'rw';
  createdAt: string;
}

export async function findShare(ex: Executor, volumeId: string, service: string): Promise<Share | undefined> {
  const row = await ex.selectFrom('volume_shares').selectAll().where('volume_id', '=', volumeId).where('service', '=', service).executeTakeFirst();
  return row ? { volumeId: row.volume_id, service: row.service, access: row.access, createdAt: row.created_at } : undefined;
}

export async function listShares(ex: Executor, volumeId: string): Promise<Share[]> {
  const rows = await ex.selectFrom('volume_shares').selectAll().where('volume_id', '=', volumeId).orderBy('service').execute();
  return rows.map((row) => ({ volumeId: row.volume_id, service: row.service, access: row.access, createdAt: row.created_at }));
}

/** Grants (or changes) a service's access to a volume it does not own. */
export async function putShare(ex: Executor, s: Share): Promise<void> {
  await ex
    .insertInto('volume_shares')
    .values({ volume_id: s.volumeId, service: s.service, access: s.access, created_at: s.createdAt })
    .onConflict((oc) => oc.columns(['volume_id', 'service']).doUpdateSet({ access: s.access }))
    .execute();
}

export async function deleteShare(ex: Executor, volumeId: string, service: string): Promise<boolean> {
  const res = await ex.deleteFrom('volume_shares').where('volume_id', '=', volumeId).where('service', '=', service).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}
