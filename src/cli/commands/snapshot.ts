import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Snapshot } from '../types.js';
import { groupSnapshotCommands } from './group-snapshot.js';
import { resolveSnapshot, resolveVolume, withServiceScope } from '../resolve.js';
import { removeEach } from './remove.js';

export const SNAPSHOT_COLUMNS: Column<Snapshot>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'NAME', value: (s) => s.name },
  { header: 'VOLUME', value: (s) => s.volumeId },
  { header: 'SERVICE', value: (s) => s.service },
  { header: 'POOL', value: (s) => s.pool },
  { header: 'SIZE', value: (s) => formatSize(s.sizeBytes) },
  { header: 'STATUS', value: (s) => s.status },
  { header: 'AGE', value: (s) => formatAge(s.createdAt) },
];

export const SNAPSHOT_FIELDS: Field<Snapshot>[] = [
  ['ID', (s) => s.id],
  ['Name', (s) => s.name],
  ['Volume', (s) => s.volumeId],
  ['Service', (s) => s.service],
  ['Pool', (s) => s.pool],
  ['Size', (s) => `${formatSize(s.sizeBytes)} (${s.sizeBytes} bytes)`],
  ['Status', (s) => (s.statusReason ? `${s.status} (${s.statusReason})` : s.status)],
  ['Created', (s) => s.createdAt],
];

export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').alias('snapshots').description('Snapshots: list, show, delete (create: polly volume snapshot; several volumes together: polly snapshot group)');

  snapshot
    .command('ls')
    .alias('list')
    .description('List snapshots')
    .option('--volume <volume>', 'only snapshots of this volume (id or name)')
    .option('--name <name>', 'only the snapshot with this name')
    .option('--service <service>', 'only snapshots of this service (admin); also where --volume names are looked up')
    .option('--limit <n>', 'at most this many (with --all: page size)', positiveInt)
    .option('--all', 'follow the cursor and list every page')
    .action(async (opts: { volume?: string; name?: string; service?: string; limit?: number; all?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const volume = opts.volume === undefined ? undefined : await resolveVolume(client, opts.volume, opts.service);
      const query = { volume, name: opts.name, service: opts.service, limit: opts.limit };
      const page = await client.list<Snapshot>('/v1/snapshots', query, opts.all === true);
      if (format === 'table' && page.items.length === 0) note('No snapshots.');
      else print(renderList(page.items, SNAPSHOT_COLUMNS, format));
      if (page.nextCursor && !opts.all) note('(more snapshots: use --all, or --limit)');
    });

  withServiceScope(snapshot.command('get').description('Show one snapshot').argument('<snapshot>', 'snapshot id or name')).action(
    async (ref: string, opts: { service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveSnapshot(client, ref, opts.service);
      print(renderObject(await client.get<Snapshot>(`/v1/snapshots/${seg(id)}`), SNAPSHOT_FIELDS, format));
    },
  );

  withServiceScope(snapshot.command('rm').alias('delete').description('Delete snapshots').argument('<snapshot...>', 'snapshot ids or names')).action(
    async (refs: string[], opts: { service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('snapshot', refs, format, async (ref) => client.delete(`/v1/snapshots/${seg(await resolveSnapshot(client, ref, opts.service))}`));
    },
  );

  groupSnapshotCommands(snapshot);
}
