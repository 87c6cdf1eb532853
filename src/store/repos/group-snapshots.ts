import { PollyError } from '../../core/errors.js';
import type { GroupSnapshot, GroupSnapshotStatus, Page } from '../../core/types.js';
import type { GroupSnapshotsTable } from '../schema.js';
import type { Executor } from '../store.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { rowToSnapshot } from './snapshots.js';

type GroupRow = GroupSnapshotsTable;

/** A group snapshot with who owns its intent (null once settled). */
export interface GroupSnapshotState {
  group: GroupSnapshot;
  intentOwner: string | null;
}

async function withMembers(ex: Executor, rows: readonly GroupRow[]): Promise<GroupSnapshot[]> {
  if (rows.length === 0) return [];
  const members = await ex
    .selectFrom('snapshots')
    .selectAll()
    .where(
      'group_id',
      'in',
      rows.map((r) => r.id),
    )
    .execute();
  return rows.map((row) => {
    const volumeIds = JSON.parse(row.volume_ids) as string[];
    const mine = members.filter((m) => m.group_id === row.id).map(rowToSnapshot);
    // Members in the order of the source volumes, as the group was asked for.
    mine.sort((a, b) => volumeIds.indexOf(a.volumeId) - volumeIds.indexOf(b.volumeId));
    return {
      id: row.id,
      name: row.name,
      service: row.service,
      volumeIds,
      status: row.status as GroupSnapshotStatus,
      statusReason: row.status_reason,
      createdAt: row.created_at,
      snapshots: mine,
    };
  });
}

/** Inserts the group row only; its members are inserted with insertSnapshot (groupId set). */
export async function insertGroupSnapshot(ex: Executor, g: GroupSnapshot, intentOwner: string | null): Promise<void> {
  await ex
    .insertInto('group_snapshots')
    .values({
      id: g.id,
      name: g.name,
      service: g.service,
      volume_ids: JSON.stringify(g.volumeIds),
      status: g.status,
      status_reason: g.statusReason,
      intent_owner: intentOwner,
      created_at: g.createdAt,
    })
    .execute();
}

export async function findGroupSnapshotState(ex: Executor, id: string): Promise<GroupSnapshotState | undefined> {
  const row = await ex.selectFrom('group_snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const [group] = await withMembers(ex, [row]);
  return group ? { group, intentOwner: row.intent_owner } : undefined;
}

export async function findGroupSnapshot(ex: Executor, id: string): Promise<GroupSnapshot | undefined> {
  return (await findGroupSnapshotState(ex, id))?.group;
}

export async function findGroupSnapshotByName(ex: Executor, service: string, name: string): Promise<GroupSnapshot | undefined> {
  const row = await ex.selectFrom('group_snapshots').selectAll().where('service', '=', service).where('name', '=', name).executeTakeFirst();
  if (!row) return undefined;
  return (await withMembers(ex, [row]))[0];
}

export async function listGroupSnapshots(
  ex: Executor,
  filter: { service?: string | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<Page<GroupSnapshot>> {
  let q = ex.selectFrom('group_snapshots').selectAll();
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (cursor !== undefined) q = q.where('id', '>', decodeCursor(cursor));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  const more = rows.length > limit;
  const items = await withMembers(ex, more ? rows.slice(0, limit) : rows);
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
}

/** Groups with an intent (`creating`, `deleting`), for the reconciler. */
export async function listGroupSnapshotStates(ex: Executor, statuses: readonly GroupSnapshotStatus[]): Promise<GroupSnapshotState[]> {
  const rows = await ex.selectFrom('group_snapshots').selectAll().where('status', 'in', [...statuses]).orderBy('id').execute();
  const groups = await withMembers(ex, rows);
  return groups.map((group, i) => ({ group, intentOwner: rows[i]?.intent_owner ?? null }));
}

/** Compare-and-set of a group's status (and intent owner); INVALID_STATE when it changed meanwhile. */
export async function updateGroupSnapshot(
  ex: Executor,
  id: string,
  expected: GroupSnapshotStatus | readonly GroupSnapshotStatus[],
  update: { status: GroupSnapshotStatus; statusReason?: string | null; intentOwner?: string | null },
): Promise<void> {
  const exp = typeof expected === 'string' ? [expected] : [...expected];
  const res = await ex
    .updateTable('group_snapshots')
    .set({
      status: update.status,
      ...(update.statusReason !== undefined ? { status_reason: update.statusReason } : {}),
      ...(update.intentOwner !== undefined ? { intent_owner: update.intentOwner } : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', exp)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) {
    throw new PollyError('INVALID_STATE', `group snapshot ${id} changed state concurrently; retry`, { groupSnapshotId: id });
  }
}

/** Compare-and-set takeover of a group's intent from a dead owner; false when someone else took it. */
export async function claimGroupSnapshot(ex: Executor, id: string, from: { status: GroupSnapshotStatus; intentOwner: string | null }, to: string): Promise<boolean> {
  let q = ex.updateTable('group_snapshots').set({ intent_owner: to }).where('id', '=', id).where('status', '=', from.status);
  q = from.intentOwner === null ? q.where('intent_owner', 'is', null) : q.where('intent_owner', '=', from.intentOwner);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function deleteGroupSnapshotRow(ex: Executor, id: string): Promise<void> {
  await ex.deleteFrom('group_snapshots').where('id', '=', id).execute();
}
