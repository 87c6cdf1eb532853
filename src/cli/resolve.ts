import type { Command } from 'commander';
import type { PollyClient } from './client.js';
import { ApiError } from './errors.js';
import type { Page, Snapshot, Volume } from './types.js';

/**
 * Volume and snapshot references on the command line: an id (`vol-…`, `snap-…`) or a name. A name is
 * unique per service, so it is looked up in one service's scope: a service token's own, or for the
 * admin the service given with `--service` (without it, a name the admin finds in several services is
 * ambiguous). An id is used as given; the server answers for it.
 */

const ID_PATTERN = { volume: /^vol-[0-9a-f]{28}$/, snapshot: /^snap-[0-9a-f]{28}$/ } as const;

type Kind = keyof typeof ID_PATTERN;

/** Stable codes of a reference that names nothing or several things. */
export const RESOLVE_CODES = {
  volume: { notFound: 'VOLUME_NOT_FOUND', ambiguous: 'VOLUME_NAME_AMBIGUOUS' },
  snapshot: { notFound: 'SNAPSHOT_NOT_FOUND', ambiguous: 'SNAPSHOT_NAME_AMBIGUOUS' },
} as const;

/** How many matches a name lookup reads: enough to name the services of an ambiguous name. */
const LOOKUP_LIMIT = 50;

export const looksLikeId = (kind: Kind, ref: string): boolean => ID_PATTERN[kind].test(ref);

export const SCOPE_HELP = 'the service whose names to look up (admin; a service token uses its own)';

/** Adds `--service NAME`, the scope in which the command's volume or snapshot names are looked up. */
export function withServiceScope(cmd: Command): Command {
  return cmd.option('--service <name>', SCOPE_HELP);
}

async function resolve<T extends { id: string; service: string }>(
  client: PollyClient,
  kind: Kind,
  ref: string,
  service: string | undefined,
  lookup: (query: Record<string, string | number | boolean | undefined>) => Promise<T[]>,
): Promise<string> {
  if (looksLikeId(kind, ref)) return ref;
  const scope = service === undefined ? '' : ` in service ${service}`;
  let found = await lookup({ name: ref, service, limit: LOOKUP_LIMIT });
  // A volume another service shared with the caller is reachable by its name too, after the caller's own.
  if (found.length === 0 && kind === 'volume' && service === undefined) found = await lookup({ name: ref, shared: true, limit: LOOKUP_LIMIT });
  const [first, ...rest] = found;
  if (first === undefined) throw new ApiError(404, RESOLVE_CODES[kind].notFound, `no ${kind} named ${JSON.stringify(ref)}${scope}`);
  if (rest.length > 0) {
    const services = [...new Set(found.map((x) => x.service))].sort();
    throw new ApiError(
      409,
      RESOLVE_CODES[kind].ambiguous,
      `${kind} name ${JSON.stringify(ref)} is used in services ${services.join(', ')}: pick one with --service, or give the id`,
    );
  }
  return first.id;
}

/** The id of the volume `ref` (an id or a name). */
export function resolveVolume(client: PollyClient, ref: string, service?: string): Promise<string> {
  return resolve(client, 'volume', ref, service, async (query) => (await client.get<Page<Volume>>('/v1/volumes', query)).items);
}

/** The id of the snapshot `ref` (an id or a name). */
export function resolveSnapshot(client: PollyClient, ref: string, service?: string): Promise<string> {
  return resolve(client, 'snapshot', ref, service, async ({ shared: _shared, ...query }) => (await client.get<Page<Snapshot>>('/v1/snapshots', query)).items);
}
