import { sql, type Insertable, type Updateable } from 'kysely';
import { PollyError } from '../../core/errors.js';
import type { Labels, Page, Volume, VolumeSource, VolumeStatus } from '../../core/types.js';
import type { VolumeRow, VolumesTable } from '../schema.js';
import { isPostgres, type Executor } from '../store.js';
import { precompile, type Precompiled } from '../precompiled.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { insertEventRow, type EventValues } from './events.js';
import { chargeUsage } from './usage.js';

export function rowToVolume(row: VolumeRow): Volume {
  let source: VolumeSource | null = null;
  if (row.source_kind === 'snapshot' || row.source_kind === 'volume') {
    source = { kind: row.source_kind, id: row.source_id ?? '' };
  }
  return {
    id: row.id,
    name: row.name,
    service: row.service,
    pool: row.pool,
    profile: row.profile,
    sizeBytes: Number(row.size_bytes),
    status: row.status as VolumeStatus,
    statusReason: row.status_reason,
    labels: JSON.parse(row.labels) as Labels,
    fields: JSON.parse(row.fields) as Labels,
    backendId: row.backend_id,
    source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function writeTags(ex: Executor, volumeId: string, labels: Labels, fields: Labels): Promise<void> {
  const rows = [
    ...Object.entries(labels).map(([key, value]) => ({ volume_id: volumeId, kind: 'label' as const, key, value })),
    ...Object.entries(fields).map(([key, value]) => ({ volume_id: volumeId, kind: 'field' as const, key, value })),
  ];
  if (rows.length > 0) await ex.insertInto('volume_tags').values(rows).execute();
}

/**
 * Inserts a volume and charges its size to the pool's counters. The (service, name) uniqueness is the
 * database's: a duplicate raises a unique violation the caller maps to VOLUME_NAME_TAKEN.
 */
/** Inserts a volume's row and tags; the caller charges it through the admission step (app/admission.ts). */
const INSERT_VOLUME_BUILD = (ex: Pick<Executor, 'insertInto'>, p: Insertable<VolumesTable>) =>
  ex.insertInto('volumes').values({
    id: p.id,
    name: p.name,
    service: p.service,
    pool: p.pool,
    profile: p.profile,
    size_bytes: p.size_bytes,
    status: p.status,
    status_reason: p.status_reason,
    labels: p.labels,
    fields: p.fields,
    backend_id: p.backend_id,
    source_kind: p.source_kind,
    source_id: p.source_id,
    created_at: p.created_at,
    updated_at: p.updated_at,
    intent_owner: p.intent_owner,
  });
const INSERT_VOLUME = precompile((ex, p: Insertable<VolumesTable>) => INSERT_VOLUME_BUILD(ex, p));

/** An event's columns as parameters of a statement that inserts it along with another change (prefixed, so as not to collide with that change's). */
interface EventParams {
  ev_at: string;
  ev_type: string;
  ev_service: string | null;
  ev_object_id: string;
  ev_data: string;
  ev_actor: string | null;
  ev_request_id: string | null;
}

const EVENT_COLUMNS = ['at', 'type', 'service', 'object_id', 'data', 'actor', 'request_id'] as const;

function eventParams(e: EventValues): EventParams {
  return { ev_at: e.at, ev_type: e.type, ev_service: e.service, ev_object_id: e.object_id, ev_data: e.data, ev_actor: e.actor, ev_request_id: e.request_id };
}

/** The event's values as a select list, in EVENT_COLUMNS' order (all text columns). */
function eventSelection(p: EventParams) {
  const text = (v: string | null) => sql<string | null>`cast(${v} as text)`;
  return [
    text(p.ev_at).as('at'),
    text(p.ev_type).as('type'),
    text(p.ev_service).as('service'),
    text(p.ev_object_id).as('object_id'),
    text(p.ev_data).as('data'),
    text(p.ev_actor).as('actor'),
    text(p.ev_request_id).as('request_id'),
  ] as const;
}

/** PostgreSQL: INSERT_VOLUME and the event that records it, in one statement. */
const INSERT_VOLUME_RECORDED = precompile((ex, p: Insertable<VolumesTable> & EventParams) =>
  ex
    .with('v', (qc) => INSERT_VOLUME_BUILD(qc, p).returning('id'))
    .insertInto('events')
    .columns(EVENT_COLUMNS)
    .expression((eb) => eb.selectFrom('v').select(eventSelection(p))),
);

/**
 * Inserts a volume's row and tags, and `event` with them when given. On PostgreSQL the row and the event
 * are one statement (one round trip); the caller runs it in its transaction either way.
 */
export async function insertVolume(ex: Executor, v: Volume, intentOwner: string | null = null, event?: EventValues): Promise<void> {
  const row = volumeInsertValues(v, intentOwner);
  if (event !== undefined && isPostgres(ex)) await INSERT_VOLUME_RECORDED.execute(ex, { ...row, ...eventParams(event) });
  else {
    await INSERT_VOLUME.execute(ex, row);
    if (event !== undefined) await insertEventRow(ex, event);
  }
  await writeTags(ex, v.id, v.labels, v.fields);
}

function volumeInsertValues(v: Volume, intentOwner: string | null): Insertable<VolumesTable> {
  return {
    id: v.id,
    name: v.name,
    service: v.service,
    pool: v.pool,
    profile: v.profile,
    size_bytes: v.sizeBytes,
    status: v.status,
    status_reason: v.statusReason,
    labels: JSON.stringify(v.labels),
    fields: JSON.stringify(v.fields),
    backend_id: v.backendId,
    source_kind: v.source?.kind ?? null,
    source_id: v.source?.id ?? null,
    created_at: v.createdAt,
    updated_at: v.updatedAt,
    intent_owner: intentOwner,
  };
}

/**
 * Compare-and-sets a volume's size: changes it only while it is still `from` (and, when given, in one of
 * `statuses` and still owned by `owner`). Returns the service and profile the row is charged to when it
 * changed, undefined when the row changed otherwise or is gone.
 */
export async function setVolumeSize(
  ex: Executor,
  id: string,
  cas: { from: number; to: number; statuses?: readonly VolumeStatus[]; owner?: { service: string; profile: string } },
  at: string,
): Promise<{ service: string; profile: string } | undefined> {
  let q = ex.updateTable('volumes').set({ size_bytes: cas.to, updated_at: at }).where('id', '=', id).where('size_bytes', '=', cas.from);
  if (cas.statuses !== undefined) q = q.where('status', 'in', [...cas.statuses]);
  if (cas.owner !== undefined) q = q.where('service', '=', cas.owner.service).where('profile', '=', cas.owner.profile);
  return q.returning(['service', 'profile']).executeTakeFirst();
}

const CHARGE_POOL = precompile((ex, p: { pool: string; bytes: number; count: number }) =>
  ex
    .updateTable('pools')
    .set({
      allocated_bytes: sql`allocated_bytes + ${p.bytes}`,
      volume_count: sql`volume_count + ${p.count}`,
    })
    .where('name', '=', p.pool),
);

/** Adjusts a pool's allocated bytes and volume count by the given deltas; answers 1, or 0 when there is no such pool. */
export async function chargePool(ex: Executor, pool: string, bytes: number, count: number): Promise<number> {
  return CHARGE_POOL.affected(ex, { pool, bytes, count });
}

const FIND_VOLUME = precompile((ex, p: { id: string }) => ex.selectFrom('volumes').selectAll().where('id', '=', p.id));

const FIND_VOLUME_COUNTING_SNAPSHOTS = precompile((ex, p: { id: string }) =>
  ex
    .selectFrom('volumes')
    .selectAll('volumes')
    .select((eb) => eb.selectFrom('snapshots').select((s) => s.fn.countAll<number>().as('n')).whereRef('snapshots.volume_id', '=', 'volumes.id').as('snapshot_count'))
    .where('volumes.id', '=', p.id),
);

/** A volume and how many snapshots it has, in one statement (the delete's checks); undefined when there is no such volume. */
export async function findVolumeCountingSnapshots(ex: Executor, id: string): Promise<{ volume: Volume; snapshots: number } | undefined> {
  const row = await FIND_VOLUME_COUNTING_SNAPSHOTS.first(ex, { id });
  return row ? { volume: rowToVolume(row), snapshots: Number(row.snapshot_count ?? 0) } : undefined;
}

export async function findVolume(ex: Executor, id: string): Promise<Volume | undefined> {
  const row = await FIND_VOLUME.first(ex, { id });
  return row ? rowToVolume(row) : undefined;
}

/** The volumes with these ids, by id (ids with no volume are absent); one query per 500 ids. */
export async function findVolumes(ex: Executor, ids: readonly string[]): Promise<Map<string, Volume>> {
  const out = new Map<string, Volume>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await ex.selectFrom('volumes').selectAll().where('id', 'in', unique.slice(i, i + 500)).execute();
    for (const row of rows) out.set(row.id, rowToVolume(row));
  }
  return out;
}

export async function findVolumeByName(ex: Executor, service: string, name: string): Promise<Volume | undefined> {
  const row = await ex
    .selectFrom('volumes')
    .selectAll()
    .where('service', '=', service)
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? rowToVolume(row) : undefined;
}

export interface VolumeFilter {
  service?: string | undefined;
  /** Volumes shared with this service (owned by others), instead of a service's own. */
  sharedWith?: string | undefined;
  /** Exactly this name (unique per service; the admin may find it in several services). */
  name?: string | undefined;
  status?: VolumeStatus | undefined;
  pool?: string | undefined;
  labels?: Labels | undefined;
  fields?: Labels | undefined;
}

/** Lists volumes in id order, `limit` at a time; the cursor is the last id of the previous page. */
export async function listVolumes(
  ex: Executor,
  filter: VolumeFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<Volume>> {
  let q = ex.selectFrom('volumes').selectAll('volumes');
  if (filter.service !== undefined) q = q.where('volumes.service', '=', filter.service);
  if (filter.sharedWith !== undefined) {
    const sharedWith = filter.sharedWith;
    q = q.where('volumes.id', 'in', (eb) => eb.selectFrom('volume_shares').select('volume_id').where('volume_shares.service', '=', sharedWith));
  }
  if (filter.name !== undefined) q = q.where('volumes.name', '=', filter.name);
  if (filter.status !== undefined) q = q.where('volumes.status', '=', filter.status);
  if (filter.pool !== undefined) q = q.where('volumes.pool', '=', filter.pool);
  for (const [kind, tags] of [
    ['label', filter.labels],
    ['field', filter.fields],
  ] as const) {
    for (const [key, value] of Object.entries(tags ?? {})) {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('volume_tags')
            .select('volume_tags.volume_id')
            .whereRef('volume_tags.volume_id', '=', 'volumes.id')
            .where('volume_tags.kind', '=', kind)
            .where('volume_tags.key', '=', key)
            .where('volume_tags.value', '=', value),
        ),
      );
    }
  }
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (after !== undefined) q = q.where('volumes.id', '>', after);
  const rows = await q.orderBy('volumes.id').limit(limit + 1).execute();
  const more = rows.length > limit;
  const items = (more ? rows.slice(0, limit) : rows).map(rowToVolume);
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
}

export async function listVolumesInStatus(ex: Executor, statuses: readonly VolumeStatus[]): Promise<Volume[]> {
  const rows = await ex.selectFrom('volumes').selectAll().where('status', 'in', [...statuses]).orderBy('id').execute();
  return rows.map(rowToVolume);
}

export interface VolumeUpdate {
  status?: VolumeStatus;
  statusReason?: string | null;
  backendId?: string;
  sizeBytes?: number;
  /** The replica incarnation that owns the intent this update writes (null once it is settled). */
  intentOwner?: string | null;
  /** How the failure this update records is recovered; null clears it (the operation succeeded). */
  recovery?: Recovery | null;
}

/** Why a row is in `error` and how far its recovery got (see src/app/recovery.ts). */
export interface Recovery {
  failedOp: 'create' | 'delete';
  failureCode: string;
  /** The first failure's message. */
  failureMessage: string;
  /** Retries made so far. */
  retries: number;
  /** When the next retry is due (ISO); null when no retry will be made. */
  retryAt: string | null;
}

export function recoveryColumns(r: Recovery | null) {
  return {
    failed_op: r?.failedOp ?? null,
    failure_code: r?.failureCode ?? null,
    failure_message: r?.failureMessage ?? null,
    retries: r?.retries ?? 0,
    retry_at: r?.retryAt ?? null,
  };
}

export function rowRecovery(row: { failed_op: 'create' | 'delete' | null; failure_code: string | null; failure_message: string | null; retries: number; retry_at: string | null }): Recovery | null {
  if (row.failed_op === null) return null;
  return {
    failedOp: row.failed_op,
    failureCode: row.failure_code ?? 'BACKEND_FAILED',
    failureMessage: row.failure_message ?? '',
    retries: Number(row.retries),
    retryAt: row.retry_at,
  };
}

/** A volume with who owns its intent and how its failure is being recovered. */
export interface VolumeState {
  volume: Volume;
  intentOwner: string | null;
  recovery: Recovery | null;
}

export async function findVolumeState(ex: Executor, id: string): Promise<VolumeState | undefined> {
  const row = await FIND_VOLUME.first(ex, { id });
  return row ? { volume: rowToVolume(row), intentOwner: row.intent_owner, recovery: rowRecovery(row) } : undefined;
}

/** Volumes in the given states, with their owners and recovery (the reconciler's work list). */
export async function listVolumeStates(ex: Executor, statuses: readonly VolumeStatus[]): Promise<VolumeState[]> {
  const rows = await ex.selectFrom('volumes').selectAll().where('status', 'in', [...statuses]).orderBy('id').execute();
  return rows.map((row) => ({ volume: rowToVolume(row), intentOwner: row.intent_owner, recovery: rowRecovery(row) }));
}

/**
 * Takes a volume over, compare-and-set: only if it is still in `from.status` with `from.intentOwner`
 * (and, when given, `from.retries`). True when this caller won; a racing replica or request gets false.
 */
export async function claimVolume(
  ex: Executor,
  id: string,
  from: { status: VolumeStatus; intentOwner: string | null; retries?: number },
  to: { status: VolumeStatus; intentOwner: string; retries?: number },
  now: string,
): Promise<boolean> {
  let q = ex
    .updateTable('volumes')
    .set({ status: to.status, intent_owner: to.intentOwner, updated_at: now, ...(to.retries !== undefined ? { retries: to.retries } : {}) })
    .where('id', '=', id)
    .where('status', '=', from.status);
  q = from.intentOwner === null ? q.where('intent_owner', 'is', null) : q.where('intent_owner', '=', from.intentOwner);
  if (from.retries !== undefined) q = q.where('retries', '=', from.retries);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Sets a volume's status (and optionally more), but only if it is still in `expectedStatus`: a
 * compare-and-set, so two racing operations on one volume cannot both win. Throws INVALID_STATE if the
 * volume moved meanwhile.
 */
export async function updateVolume(
  ex: Executor,
  id: string,
  expectedStatus: VolumeStatus | readonly VolumeStatus[],
  update: VolumeUpdate,
  now: string,
): Promise<void> {
  const { columns, expected, params } = updateVolumeParams(id, expectedStatus, update, now);
  const changed = await updateVolumeStatement(columns, expected, { recorded: false }).affected(ex, params);
  if (changed !== 1) {
    throw new PollyError('INVALID_STATE', `volume ${id} changed state concurrently; retry`, { volumeId: id });
  }
}

function updateVolumeParams(
  id: string,
  expectedStatus: VolumeStatus | readonly VolumeStatus[],
  update: VolumeUpdate,
  now: string,
): { columns: string[]; expected: number; params: Record<string, unknown> } {
  const expected = typeof expectedStatus === 'string' ? [expectedStatus] : [...expectedStatus];
  const set: Record<string, unknown> = {
    ...(update.status !== undefined ? { status: update.status } : {}),
    ...(update.statusReason !== undefined ? { status_reason: update.statusReason } : {}),
    ...(update.backendId !== undefined ? { backend_id: update.backendId } : {}),
    ...(update.sizeBytes !== undefined ? { size_bytes: update.sizeBytes } : {}),
    ...(update.intentOwner !== undefined ? { intent_owner: update.intentOwner } : {}),
    ...(update.recovery !== undefined ? recoveryColumns(update.recovery) : {}),
    updated_at: now,
  };
  const params: Record<string, unknown> = { ...set, id };
  expected.forEach((status, i) => (params[`expected${i}`] = status));
  return { columns: Object.keys(set), expected: expected.length, params };
}

/**
 * updateVolume and the event that records it: both or neither (INVALID_STATE when the volume moved
 * meanwhile). On PostgreSQL one statement, atomic on its own: run on the database itself it commits
 * alone, with no BEGIN and COMMIT round trips; elsewhere two, which the caller runs in a transaction.
 */
export async function updateVolumeRecorded(
  ex: Executor,
  id: string,
  expectedStatus: VolumeStatus | readonly VolumeStatus[],
  update: VolumeUpdate,
  now: string,
  event: EventValues,
): Promise<void> {
  if (!isPostgres(ex)) {
    await updateVolume(ex, id, expectedStatus, update, now);
    await insertEventRow(ex, event);
    return;
  }
  const { columns, expected, params } = updateVolumeParams(id, expectedStatus, update, now);
  const rows = await updateVolumeStatement(columns, expected, { recorded: true }).rows(ex, { ...params, ...eventParams(event) });
  if (rows.length !== 1) throw new PollyError('INVALID_STATE', `volume ${id} changed state concurrently; retry`, { volumeId: id });
}

/** updateVolume's statement for one set of columns and number of expected statuses (a few shapes in all). */
const UPDATE_VOLUME = new Map<string, Precompiled<Record<string, unknown>, unknown>>();

function updateVolumeStatement(columns: string[], expected: number, opts: { recorded: boolean }): Precompiled<Record<string, unknown>, unknown> {
  const key = `${columns.join(',')}/${expected}/${opts.recorded ? 'event' : ''}`;
  let stmt = UPDATE_VOLUME.get(key);
  if (stmt === undefined) {
    const build = (ex: Pick<Executor, 'updateTable'>, p: Record<string, unknown>) =>
      ex
        .updateTable('volumes')
        .set(Object.fromEntries(columns.map((c) => [c, p[c]])) as Updateable<VolumesTable>)
        .where('id', '=', p.id as string)
        .where(
          'status',
          'in',
          Array.from({ length: expected }, (_, i) => p[`expected${i}`] as VolumeStatus),
        );
    stmt = opts.recorded
      ? precompile((ex, p: Record<string, unknown>) =>
          ex
            .with('u', (qc) => build(qc, p).returning('id'))
            .insertInto('events')
            .columns(EVENT_COLUMNS)
            .expression((eb) => eb.selectFrom('u').select(eventSelection(p as unknown as EventParams)))
            .returning('seq'),
        )
      : precompile((ex, p: Record<string, unknown>) => build(ex, p));
    UPDATE_VOLUME.set(key, stmt);
  }
  return stmt;
}

export async function replaceVolumeTags(ex: Executor, id: string, labels: Labels, fields: Labels, now: string): Promise<void> {
  await ex
    .updateTable('volumes')
    .set({ labels: JSON.stringify(labels), fields: JSON.stringify(fields), updated_at: now })
    .where('id', '=', id)
    .execute();
  await ex.deleteFrom('volume_tags').where('volume_id', '=', id).execute();
  await writeTags(ex, id, labels, fields);
}

/** Removes a volume row (its tags and shares go with it) and gives its size back to the pool and the service. */
/**
 * Deletes a volume's row and refunds what the row held when it was deleted (`DELETE … RETURNING`), not
 * what the caller read earlier: an expand that committed in between is refunded too. A row already gone
 * refunds nothing.
 */
/**
 * Deletes a volume's row and refunds its pool and service (its tags and shares go by `on delete
 * cascade`). Not an error when the row is already gone: then nothing is refunded. `event` is inserted with
 * it. On PostgreSQL one statement (atomic on its own, so it needs no transaction of its own), in the lock
 * order volume → pool → usage.
 */
const DELETE_VOLUME = precompile((ex, p: { id: string }) => ex.deleteFrom('volumes').where('id', '=', p.id).returning(['pool', 'service', 'profile', 'size_bytes']));

export async function deleteVolumeRow(ex: Executor, v: Pick<Volume, 'id'>, opts: { event?: EventValues } = {}): Promise<void> {
  const e = opts.event;
  if (isPostgres(ex)) {
    // The event first in the statement, as in a transaction: the hot rows are the last rows it locks.
    await sql`
      with ${e === undefined ? sql`` : sql`ev as (insert into events (at, type, service, object_id, data, actor, request_id)
          values (${e.at}, ${e.type}, ${e.service}, ${e.object_id}, ${e.data}, ${e.actor}, ${e.request_id})),`}
      gone as (delete from volumes where id = ${v.id} returning pool, service, profile, size_bytes),
      p as (
        update pools set allocated_bytes = pools.allocated_bytes - gone.size_bytes, volume_count = pools.volume_count - 1
        from gone where pools.name = gone.pool returning pools.name)
      insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes)
      -- Reading p makes the pool's update run before the usage row is locked (a CTE nobody reads runs
      -- last): pool → usage, the order of admission, so a create and a delete cannot deadlock.
      select gone.service, gone.profile, -1, -gone.size_bytes, 0, 0 from gone, p
      on conflict (service, profile) do update set volumes = service_usage.volumes + excluded.volumes, bytes = service_usage.bytes + excluded.bytes`.execute(ex);
    return;
  }
  if (e !== undefined) await insertEventRow(ex, e);
  const gone = await DELETE_VOLUME.first(ex, { id: v.id });
  if (gone) {
    const bytes = Number(gone.size_bytes);
    await chargePool(ex, gone.pool, -bytes, -1);
    await chargeUsage(ex, gone.service, gone.profile, { volumes: -1, bytes: -bytes });
  }
}

export async function countVolumes(ex: Executor, filter: { service?: string; pool?: string }): Promise<number> {
  let q = ex.selectFrom('volumes').select((eb) => eb.fn.countAll<number>().as('n'));
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (filter.pool !== undefined) q = q.where('pool', '=', filter.pool);
  const row = await q.executeTakeFirstOrThrow();
  return Number(row.n);
}
