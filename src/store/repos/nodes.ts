import type { Labels } from '../../core/types.js';
import type { Selectable } from 'kysely';
import type { NodesTable } from '../schema.js';
import type { Executor } from '../store.js';

export interface NodeRecord {
  id: string;
  hostname: string;
  /** Topology labels, e.g. `{zone: "z1"}`. */
  topology: Labels;
  /** Who registered it first: a service name, or `*admin`; null for nodes from before this was kept. */
  registeredBy: string | null;
  lastHeartbeatAt: string | null;
  createdAt: string;
  /** Set while an operator has confirmed the node down: nothing is attached to it until unfenced. */
  fence: { at: string; by: string; reason: string } | null;
  /** The last self-fence its agent reported. */
  selfFencedAt: string | null;
  /** Other services whose agents registered the node unchanged (they share the host). */
  coRegistrants: string[];
  /** What its agent registered for networked drivers (addresses, storage client identity); absent for older agents. */
  connector?: NodeConnectorRecord | undefined;
}

export interface NodeConnectorRecord {
  addresses: string[];
  clientId?: string | undefined;
}

function rowToNode(row: Selectable<NodesTable>): NodeRecord {
  return {
    id: row.id,
    hostname: row.hostname,
    topology: JSON.parse(row.topology) as Labels,
    registeredBy: row.registered_by,
    lastHeartbeatAt: row.last_heartbeat_at,
    createdAt: row.created_at,
    fence: row.fenced_at ? { at: row.fenced_at, by: row.fenced_by ?? '', reason: row.fence_reason ?? '' } : null,
    selfFencedAt: row.self_fenced_at,
    coRegistrants: row.co_registrants ? (JSON.parse(row.co_registrants) as string[]) : [],
    ...(row.connector ? { connector: JSON.parse(row.connector) as NodeConnectorRecord } : {}),
  };
}

export async function findNode(ex: Executor, id: string): Promise<NodeRecord | undefined> {
  const row = await ex.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? rowToNode(row) : undefined;
}

export async function listNodes(ex: Executor): Promise<NodeRecord[]> {
  const rows = await ex.selectFrom('nodes').selectAll().orderBy('id').execute();
  return rows.map(rowToNode);
}

/** Registers a node or updates its hostname and topology (an agent re-registers at every start). */
export async function upsertNode(ex: Executor, n: Pick<NodeRecord, 'id' | 'hostname' | 'topology' | 'registeredBy' | 'connector'>, at: string): Promise<void> {
  const topology = JSON.stringify(n.topology);
  // A re-registration without a connector (an older agent) keeps the one recorded.
  const connector = n.connector ? { connector: JSON.stringify(n.connector) } : {};
  await ex
    .insertInto('nodes')
    .values({ id: n.id, hostname: n.hostname, topology, registered_by: n.registeredBy, last_heartbeat_at: at, created_at: at, ...connector })
    .onConflict((oc) => oc.column('id').doUpdateSet({ hostname: n.hostname, topology, last_heartbeat_at: at, ...connector }))
    .execute();
}

export async function touchNode(ex: Executor, id: string, at: string): Promise<boolean> {
  const res = await ex.updateTable('nodes').set({ last_heartbeat_at: at }).where('id', '=', id).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Marks a node fenced by an operator (or clears it with `null`). */
export async function setNodeFence(ex: Executor, id: string, fence: { at: string; by: string; reason: string } | null): Promise<boolean> {
  const res = await ex
    .updateTable('nodes')
    .set({ fenced_at: fence?.at ?? null, fenced_by: fence?.by ?? null, fence_reason: fence?.reason ?? null })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function setNodeSelfFenced(ex: Executor, id: string, at: string): Promise<void> {
  await ex.updateTable('nodes').set({ self_fenced_at: at }).where('id', '=', id).execute();
}

export async function setNodeCoRegistrants(ex: Executor, id: string, services: string[]): Promise<void> {
  await ex.updateTable('nodes').set({ co_registrants: JSON.stringify(services) }).where('id', '=', id).execute();
}
