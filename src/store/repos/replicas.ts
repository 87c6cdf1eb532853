import type { Executor } from '../store.js';

/**
 * Registers a replica under its name with a new incarnation, replacing the row of that name's previous
 * incarnation: whatever the previous process left unfinished now has a dead owner. An incarnation that
 * has a row already (it registers again, perhaps under a new name, while another registration of it is
 * under way) keeps its one row, which takes the name: two registrations of one incarnation never collide.
 */
export async function registerReplica(ex: Executor, name: string, incarnation: string, now: string): Promise<void> {
  await ex.deleteFrom('replicas').where('name', '=', name).where('incarnation', '!=', incarnation).execute();
  await ex
    .insertInto('replicas')
    .values({ name, incarnation, started_at: now, heartbeat_at: now })
    .onConflict((oc) => oc.column('incarnation').doUpdateSet({ name, heartbeat_at: now }))
    .execute();
}

/** Records that the incarnation is alive; false when its row is gone (another process took the name). */
export async function heartbeatReplica(ex: Executor, incarnation: string, now: string): Promise<boolean> {
  const res = await ex.updateTable('replicas').set({ heartbeat_at: now }).where('incarnation', '=', incarnation).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The incarnation registered under `name`, if any. */
export async function incarnationOf(ex: Executor, name: string): Promise<string | undefined> {
  const row = await ex.selectFrom('replicas').select('incarnation').where('name', '=', name).executeTakeFirst();
  return row?.incarnation;
}

/** Incarnations that heartbeated at or after `since` (ISO time). */
export async function liveIncarnations(ex: Executor, since: string): Promise<Set<string>> {
  const rows = await ex.selectFrom('replicas').select('incarnation').where('heartbeat_at', '>=', since).execute();
  return new Set(rows.map((r) => r.incarnation));
}

/** Removes replicas silent since before `before`; returns their names. */
export async function removeSilentReplicas(ex: Executor, before: string): Promise<string[]> {
  const rows = await ex.selectFrom('replicas').select('name').where('heartbeat_at', '<', before).execute();
  if (rows.length > 0) await ex.deleteFrom('replicas').where('heartbeat_at', '<', before).execute();
  return rows.map((r) => r.name);
}

export async function removeReplica(ex: Executor, incarnation: string): Promise<void> {
  await ex.deleteFrom('replicas').where('incarnation', '=', incarnation).execute();
}
