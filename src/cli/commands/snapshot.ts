import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Snapshot } from '../types.js';
import { groupSnapshotCommands } from './group-snapshot.js';
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
    .option('--volume <id>', 'only snapshots of this volume')
    .option('--service <service>', 'only snapshots of this service (admin)')
    .option('--limit <n>', 'at most this many (with --all: page size)', positiveInt)
    .option('--all', 'follow the cursor and list every page')
    .action(async (opts: { volume?: string; service?: string; limit?: number; all?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = { volume: opts.volume, service: opts.service, limit: opts.limit };
      const page = await client.list<Snapshot>('/v1/snapshots', query, opts.all === true);
      if (format === 'table' && page.items.length === 0) note('No snapshots.');
      else print(renderList(page.items, SNAPSHOT_COLUMNS, format));
      if (page.nextCursor && !opts.all) note('(more snapshots: use --all, or --limit)');
    });

  snapshot
    .command('get')
    .description('Show one snapshot')
    .argument('<id>', 'snapshot id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Snapshot>(`/v1/snapshots/${seg(id)}`), SNAPSHOT_FIELDS, format));
    });

  snapshot
    .command('rm')
    .alias('delete')
    .description('Delete snapshots')
    .argument('<id...>', 'snapshot ids')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('snapshot', ids, format, (id) => client.delete(`/v1/snapshots/${seg(id)}`));
    });

  groupSnapshotCommands(snapshot);
}
