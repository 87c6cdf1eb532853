import type { Labels, Service } from '../../core/types.js';
import type { Executor } from '../store.js';

export async function insertService(ex: Executor, s: Service): Promise<void> {
  await ex.insertInto('services').values({ name: s.name, labels: JSON.stringify(s.labels), created_at: s.createdAt }).execute();
}

export async function findService(ex: Executor, name: string): Promise<Service | undefined> {
  const row = await ex.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? { name: row.name, labels: JSON.parse(row.labels) as Labels, createdAt: row.created_at } : undefined;
}

export async function listServices(ex: Executor): Promise<Service[]> {
  const rows = await ex.selectFrom('services').selectAll().orderBy('name').execute();
  return rows.map((row) => ({ name: row.name, labels: JSON.parse(row.labels) as Labels, createdAt: row.created_at }));
}

/** Deletes a service and (by cascade) its tokens. The caller checks it owns no volumes first. */
export async function deleteService(ex: Executor, name: string): Promise<boolean> {
  await ex.deleteFrom('tokens').where('service', '=', name).execute();
  const res = await ex.deleteFrom('services').where('name', '=', name).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

export interface TokenRecord {
  id: string;
  kind: 'admin' | 'service' | 'node';
  service: string | null;
  /** For node tokens: the node the token speaks for. */
  node?: string | null | undefined;
  description: string;
  createdAt: string;
}

export async function insertToken(ex: Executor, t: TokenRecord & { hash: string }): Promise<void> {
  await ex
    .insertInto('tokens')
    .values({ id: t.id, hash: t.hash, kind: t.kind, service: t.service, node: t.node ?? null, description: t.description, created_at: t.createdAt })
    .execute();
}

export async function findTokenByHash(ex: Executor, hash: string): Promise<TokenRecord | undefined> {
  const row = await ex
    .selectFrom('tokens')
    .select(['id', 'kind', 'service', 'node', 'description', 'created_at'])
    .where('hash', '=', hash)
    .executeTakeFirst();
  return row
    ? { id: row.id, kind: row.kind, service: row.service, ...(row.node !== null ? { node: row.node } : {}), description: row.description, createdAt: row.created_at }
    : undefined;
}

export async function countAdminTokens(ex: Executor): Promise<number> {
  const row = await ex
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('kind', '=', 'admin')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
