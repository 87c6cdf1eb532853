import { sql } from 'kysely';
import type { EventActor, PollyEvent } from '../../core/types.js';
import type { Executor } from '../store.js';
import { precompile } from '../precompiled.js';

export type EventInput = Omit<PollyEvent, 'seq' | 'actor' | 'requestId'> & Partial<Pick<PollyEvent, 'actor' | 'requestId'>>;

/** An event as its row's column values (for statements that insert it along with other changes). */
export interface EventValues {
  at: string;
  type: string;
  service: string | null;
  object_id: string;
  data: string;
  actor: string | null;
  request_id: string | null;
}

export function eventValues(e: EventInput): EventValues {
  return { at: e.at, type: e.type, service: e.service, object_id: e.objectId, data: JSON.stringify(e.data), actor: e.actor ? JSON.stringify(e.actor) : null, request_id: e.requestId ?? null };
}

const INSERT_EVENT = precompile((ex, p: EventValues) =>
  ex
    .insertInto('events')
    .values({ at: p.at, type: p.type, service: p.service, object_id: p.object_id, data: p.data, actor: p.actor, request_id: p.request_id })
    .returning('seq'),
);

/** Inserts an event row; returns its sequence number. */
export async function insertEventRow(ex: Executor, values: EventValues): Promise<number> {
  const row = await INSERT_EVENT.first(ex, values);
  if (row === undefined) throw new Error('insert into events returned no row');
  return Number(row.seq);
}

export async function insertEvent(ex: Executor, e: EventInput): Promise<number> {
  return insertEventRow(ex, eventValues(e));
}

/**
 * Events after `afterSeq`, oldest first. `service` limits to one service's events plus none of the
 * cluster-wide ones (a tenant sees only its own); undefined means all (admin).
 */
export async function listEvents(
  ex: Executor,
  filter: { service?: string | undefined; afterSeq?: number | undefined; types?: string[] | undefined; objectId?: string | undefined },
  limit: number,
): Promise<PollyEvent[]> {
  let q = ex.selectFrom('events').selectAll();
  if (filter.service !== undefined) q = q.where('service', '=', filter.service);
  if (filter.afterSeq !== undefined) q = q.where('seq', '>', filter.afterSeq);
  if (filter.objectId !== undefined) q = q.where('object_id', '=', filter.objectId);
  if (filter.types !== undefined && filter.types.length > 0) {
    const types = filter.types;
    // A type matches itself and its dotted sub-types (`volume` matches `volume.created`). Compared with
    // substr rather than LIKE: no wildcards from user input, and case-sensitive on both engines.
    q = q.where((eb) =>
      eb.or(types.map((t) => eb.or([eb('type', '=', t), eb(sql<string>`substr(type, 1, ${t.length + 1})`, '=', `${t}.`)]))),
    );
  }
  const rows = await q.orderBy('seq').limit(limit).execute();
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: r.at,
    type: r.type,
    service: r.service,
    objectId: r.object_id,
    data: JSON.parse(r.data) as Record<string, unknown>,
    actor: r.actor === null ? null : (JSON.parse(r.actor) as EventActor),
    requestId: r.request_id,
  }));
}
