import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import type { GroupSnapshot } from '../types.js';
import { resolveVolume, withServiceScope } from '../resolve.js';
import { removeEach } from './remove.js';

const GROUP_COLUMNS: Column<GroupSnapshot>[] = [
  { header: 'ID', value: (g) => g.id },
  { header: 'NAME', value: (g) => g.name },
  { header: 'SERVICE', value: (g) => g.service },
  { header: 'VOLUMES', value: (g) => String(g.volumeIds.length) },
  { header: 'STATUS', value: (g) => g.status },
  { header: 'AGE', value: (g) => formatAge(g.createdAt) },
];

/** The group's own fields, then one line per member snapshot. */
function groupFields(group: GroupSnapshot): Field<GroupSnapshot>[] {
  return [
    ['ID', (g) => g.id],
    ['Name', (g) => g.name],
    ['Service', (g) => g.service],
    ['Status', (g) => (g.statusReason ? `${g.status} (${g.statusReason})` : g.status)],
    ['Created', (g) => g.createdAt],
    ...group.snapshots.map((s, i): Field<GroupSnapshot> => [`Snapshot ${i + 1}`, () => `${s.id} of volume ${s.volumeId} (${s.status})`]),
  ];
}

/** `polly snapshot group …`: snapshots of several volumes taken together, deleted together. */
export function groupSnapshotCommands(snapshot: Command): void {
  const group = snapshot.command('group').alias('groups').description('Group snapshots: several volumes of one service snapshotted together');

  withServiceScope(
    group
      .command('create')
      .description('Snapshot volumes together (idempotent by name)')
      .argument('<name>', 'group snapshot name')
      .argument('<volume...>', 'volume ids or names'),
  ).action(async (name: string, refs: string[], opts: { service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const volumes: string[] = [];
      for (const ref of refs) volumes.push(await resolveVolume(client, ref, opts.service));
      const g = await client.post<GroupSnapshot>('/v1/group-snapshots', { name, volumes });
      print(renderObject(g, groupFields(g), format));
    });

  group
    .command('ls')
    .alias('list')
    .description('List group snapshots')
    .option('--service <service>', 'only group snapshots of this service (admin)')
    .option('--limit <n>', 'at most this many (with --all: page size)', positiveInt)
    .option('--all', 'follow the cursor and list every page')
    .action(async (opts: { service?: string; limit?: number; all?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const page = await client.list<GroupSnapshot>('/v1/group-snapshots', { service: opts.service, limit: opts.limit }, opts.all === true);
      if (format === 'table' && page.items.length === 0) note('No group snapshots.');
      else print(renderList(page.items, GROUP_COLUMNS, format));
      if (page.nextCursor && !opts.all) note('(more group snapshots: use --all, or --limit)');
    });

  group
    .command('get')
    .description('Show one group snapshot and its member snapshots')
    .argument('<id>', 'group snapshot id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const g = await client.get<GroupSnapshot>(`/v1/group-snapshots/${seg(id)}`);
      print(renderObject(g, groupFields(g), format));
    });

  group
    .command('rm')
    .alias('delete')
    .description('Delete group snapshots with all their member snapshots')
    .argument('<id...>', 'group snapshot ids')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('group snapshot', ids, format, (id) => client.delete(`/v1/group-snapshots/${seg(id)}`));
    });
}
