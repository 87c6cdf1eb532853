import { PollyError } from '../../core/errors.js';
import type { Page, Snapshot, SnapshotStatus } from '../../core/types.js';
import type { SnapshotRow } from '../schema.js';
import type { Executor } from '../store.js';
import { precompile } from '../precompiled.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { chargeUsage, SNAPSHOT_USAGE_KEY } from './usage.js';
import { recoveryColumns, rowRecovery, type Recovery } from './volumes.js';

export function rowToSnapshot(row: SnapshotRow): Snapshot {
  return {
    id: row.id,
    name: row.name,
    service: row.service,
    volumeId: row.volume_id,
    pool: row.pool,
    sizeBytes: Number(row.size_bytes),
    status: row.status as SnapshotStatus,
    statusReason: row.status_reason,
    backendId: row.backend_id,
    createdAt: row.created_at,
    groupId: row.group_id,
  };
}

export async function insertSnapshot(ex: Executor, s: Snapshot, intentOwner: string | null = null): Promise<void> {
  await ex
    .insertInto('snapshots')
    .values({
      id: s.id,
      name: s.name,
      service: s.service,
      volume_id: s.volumeId,
      pool: s.pool,
      size_bytes: s.sizeBytes,
      status: s.status,
      status_reason: s.statusReason,
      backend_id: s.backendId,
      created_at: s.createdAt,
      intent_owner: intentOwner,
      group_id: s.groupId,
    })
    .execute();
  await chargeUsage(ex, s.service, SNAPSHOT_USAGE_KEY, { snapshots: 1 });
}

export async function findSnapshot(ex: Executor, id: string): Promise<Snapshot | undefined> {
  const row = await ex.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? rowToSnapshot(row) : undefined;
}

export async function findSnapshotByName(ex: Executor, service: string, name: string): Promise<Snapshot | undefined> {
  const row = await ex
    .selectFrom('snapshots')
    .selectAll()
    .where('service', '=', service)
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? rowToSnapshot(row) : undefined;
}

export async function listSnapshots(
  ex: Executor,
  filter: { service?: string | undefined; volumeId?: string | undefined; name?: string | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<Page<Snapshot>> {
  let q = ex.selectFrom('snapshots').selectAll();
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (filter.volumeId !== undefined) q = q.where('volume_id', '=', filter.volumeId);
  if (filter.name !== undefined) q = q.where('name', '=', filter.name);
  if (cursor !== undefined) q = q.where('id', '>', decodeCursor(cursor));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  const more = rows.length > limit;
  const items = (more ? rows.slice(0, limit) : rows).map(rowToSnapshot);
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
}

export async function listSnapshotsInStatus(ex: Executor, statuses: readonly SnapshotStatus[]): Promise<Snapshot[]> {
  const rows = await ex.selectFrom('snapshots').selectAll().where('status', 'in', [...statuses]).orderBy('id').execute();
  return rows.map(rowToSnapshot);
}

const COUNT_SNAPSHOTS_OF_VOLUME = precompile((ex, p: { volumeId: string }) =>
  ex
    .selectFrom('snapshots')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('volume_id', '=', p.volumeId),
);

export async function countSnapshotsOfVolume(ex: Executor, volumeId: string): Promise<number> {
  const row = await COUNT_SNAPSHOTS_OF_VOLUME.first(ex, { volumeId });
  return Number(row?.n ?? 0);
}

/** Compare-and-set of a snapshot's status, like updateVolume. */
export async function updateSnapshot(
  ex: Executor,
  id: string,
  expected: SnapshotStatus | readonly SnapshotStatus[],
  update: {
    status: SnapshotStatus;
    statusReason?: string | null;
    sizeBytes?: number;
    backendId?: string;
    intentOwner?: string | null;
    recovery?: Recovery | null;
  },
): Promise<void> {
  const exp = typeof expected === 'string' ? [expected] : [...expected];
  const res = await ex
    .updateTable('snapshots')
    .set({
      status: update.status,
      ...(update.statusReason !== undefined ? { status_reason: update.statusReason } : {}),
      ...(update.sizeBytes !== undefined ? { size_bytes: update.sizeBytes } : {}),
      ...(update.backendId !== undefined ? { backend_id: update.backendId } : {}),
      ...(update.intentOwner !== undefined ? { intent_owner: update.intentOwner } : {}),
      ...(update.recovery !== undefined ? recoveryColumns(update.recovery) : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', exp)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) {
    throw new PollyError('INVALID_STATE', `snapshot ${id} changed state concurrently; retry`, { snapshotId: id });
  }
}

export async function deleteSnapshotRow(ex: Executor, id: string): Promise<void> {
  const row = await ex.deleteFrom('snapshots').where('id', '=', id).returning('service').executeTakeFirst();
  if (row) await chargeUsage(ex, row.service, SNAPSHOT_USAGE_KEY, { snapshots: -1 });
}

/** A snapshot with who owns its intent and how its failure is being recovered. */
export interface SnapshotState {
  snapshot: Snapshot;
  intentOwner: string | null;
  recovery: Recovery | null;
}

export async function findSnapshotState(ex: Executor, id: string): Promise<SnapshotState | undefined> {
  const row = await ex.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? { snapshot: rowToSnapshot(row), intentOwner: row.intent_owner, recovery: rowRecovery(row) } : undefined;
}

export async function listSnapshotStates(ex: Executor, statuses: readonly SnapshotStatus[]): Promise<SnapshotState[]> {
  const rows = await ex.selectFrom('snapshots').selectAll().where('status', 'in', [...statuses]).orderBy('id').execute();
  return rows.map((row) => ({ snapshot: rowToSnapshot(row), intentOwner: row.intent_owner, recovery: rowRecovery(row) }));
}

/** Compare-and-set takeover of a snapshot, like claimVolume. */
export async function claimSnapshot(
  ex: Executor,
  id: string,
  from: { status: SnapshotStatus; intentOwner: string | null; retries?: number },
  to: { status: SnapshotStatus; intentOwner: string; retries?: number },
): Promise<boolean> {
  let q = ex
    .updateTable('snapshots')
    .set({ status: to.status, intent_owner: to.intentOwner, ...(to.retries !== undefined ? { retries: to.retries } : {}) })
    .where('id', '=', id)
    .where('status', '=', from.status);
  q = from.intentOwner === null ? q.where('intent_owner', 'is', null) : q.where('intent_owner', '=', from.intentOwner);
  if (from.retries !== undefined) q = q.where('retries', '=', from.retries);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
