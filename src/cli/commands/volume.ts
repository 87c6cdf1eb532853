import { Option, type Command } from 'commander';
import { collect, keyValue, parseKeyValues, positiveInt, sizeArg } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { UsageError } from '../errors.js';
import { formatAge, formatLabels, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Snapshot, Volume } from '../types.js';
import { placementBody, withPlacementOptions, type PlacementOptions } from './placement.js';
import { removeEach } from './remove.js';
import { SNAPSHOT_FIELDS } from './snapshot.js';
import { registerVolumeOwnership } from './volume-ownership.js';

const STATUSES = ['creating', 'importing', 'available', 'attaching', 'attached', 'detaching', 'deleting', 'error'];

export const VOLUME_COLUMNS: Column<Volume>[] = [
  { header: 'ID', value: (v) => v.id },
  { header: 'NAME', value: (v) => v.name },
  { header: 'SERVICE', value: (v) => v.service },
  { header: 'POOL', value: (v) => v.pool },
  { header: 'SIZE', value: (v) => formatSize(v.sizeBytes) },
  { header: 'STATUS', value: (v) => v.status },
  { header: 'LABELS', value: (v) => formatLabels(v.labels) },
  { header: 'AGE', value: (v) => formatAge(v.createdAt) },
];

export const VOLUME_FIELDS: Field<Volume>[] = [
  ['ID', (v) => v.id],
  ['Name', (v) => v.name],
  ['Service', (v) => v.service],
  ['Pool', (v) => v.pool],
  ['Profile', (v) => v.profile],
  ['Size', (v) => `${formatSize(v.sizeBytes)} (${v.sizeBytes} bytes)`],
  ['Status', (v) => (v.statusReason ? `${v.status} (${v.statusReason})` : v.status)],
  ['Labels', (v) => formatLabels(v.labels)],
  ['Fields', (v) => formatLabels(v.fields)],
  ['Source', (v) => (v.source ? `${v.source.kind} ${v.source.id}` : '-')],
  ['Created', (v) => v.createdAt],
  ['Updated', (v) => v.updatedAt],
];

interface ListOptions {
  label?: string[];
  field?: string[];
  status?: string;
  pool?: string;
  service?: string;
  limit?: number;
  all?: boolean;
}

interface CreateOptions extends PlacementOptions {
  size: number;
  reservation?: string;
  pool?: string;
  profile?: string;
  service?: string;
  label?: string[];
  field?: string[];
  fromSnapshot?: string;
  fromVolume?: string;
  idempotencyKey?: string;
}

export function registerVolume(program: Command): void {
  const volume = program.command('volume').alias('volumes').description('Volumes: list, create, label, snapshot, expand, delete');

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('--label <key=value>', 'only volumes with this label (repeatable)', keyValue('label'))
    .option('--field <key=value>', 'only volumes with this field (repeatable)', keyValue('field'))
    .addOption(new Option('--status <status>', 'only volumes in this status').choices(STATUSES))
    .option('--pool <pool>', 'only volumes in this pool')
    .option('--service <service>', 'only volumes of this service (admin)')
    .option('--limit <n>', 'at most this many (with --all: page size)', positiveInt)
    .option('--all', 'follow the cursor and list every page')
    .action(async (opts: ListOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = { label: opts.label, field: opts.field, status: opts.status, pool: opts.pool, service: opts.service, limit: opts.limit };
      const page = await client.list<Volume>('/v1/volumes', query, opts.all === true);
      if (format === 'table' && page.items.length === 0) note('No volumes.');
      else print(renderList(page.items, VOLUME_COLUMNS, format));
      if (page.nextCursor && !opts.all) note(`(more volumes: use --all, or --limit)`);
    });

  volume
    .command('get')
    .description('Show one volume')
    .argument('<id>', 'volume id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Volume>(`/v1/volumes/${seg(id)}`), VOLUME_FIELDS, format));
    });

  withPlacementOptions(
    volume
      .command('create')
      .description('Create a volume (placed by profile and capacity)')
    .argument('<name>', 'volume name, unique per service')
    .requiredOption('--size <size>', 'size, e.g. 10GiB, 512MiB, 100GB', sizeArg)
    .option('--pool <pool>', 'pool to use (default: chosen by the scheduler)')
    .option('--profile <profile>', 'profile (storage class)')
    .option('--service <service>', 'owning service (admin only)')
    .option('--label <key=value>', 'label (repeatable)', keyValue('label'))
    .option('--field <key=value>', 'field (repeatable)', keyValue('field'))
    .option('--from-snapshot <id>', 'restore from this snapshot')
    .option('--from-volume <id>', 'clone this volume')
    .option('--idempotency-key <key>', 'retry-safe key: a repeat returns the first result')
    .option('--reservation <id>', 'use this reservation (from polly offer accept): its pool and capacity'),
  ).action(async (name: string, opts: CreateOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body = {
        name,
        sizeBytes: opts.size,
        service: opts.service,
        pool: opts.pool,
        profile: opts.profile,
        labels: opts.label ? parseKeyValues(opts.label) : undefined,
        fields: opts.field ? parseKeyValues(opts.field, 'field') : undefined,
        fromSnapshot: opts.fromSnapshot,
        fromVolume: opts.fromVolume,
        reservation: opts.reservation,
        ...placementBody(opts),
      };
      const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
      print(renderObject(await client.post<Volume>('/v1/volumes', body, headers), VOLUME_FIELDS, format));
    });

  volume
    .command('rm')
    .alias('delete')
    .description('Delete volumes and their data')
    .argument('<id...>', 'volume ids')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('volume', ids, format, (id) => client.delete(`/v1/volumes/${seg(id)}`));
    });

  volume
    .command('label')
    .description('Set or remove labels (key=value sets, --remove key removes)')
    .argument('<id>', 'volume id')
    .argument('[labels...]', 'key=value pairs to set')
    .option('--remove <key>', 'label key to remove (repeatable)', collect)
    .action(async (id: string, pairs: string[], opts: { remove?: string[] }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const set = parseKeyValuesAsUsage(pairs);
      if (pairs.length === 0 && !opts.remove?.length) throw new UsageError('volume label: give key=value pairs to set and/or --remove KEY');
      const current = await client.get<Volume>(`/v1/volumes/${seg(id)}`);
      const labels = { ...current.labels, ...set };
      for (const key of opts.remove ?? []) delete labels[key];
      print(renderObject(await client.patch<Volume>(`/v1/volumes/${seg(id)}`, { labels }), VOLUME_FIELDS, format));
    });

  volume
    .command('snapshot')
    .description('Snapshot a volume')
    .argument('<id>', 'volume id')
    .argument('<name>', 'snapshot name')
    .action(async (id: string, name: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<Snapshot>(`/v1/volumes/${seg(id)}/snapshots`, { name }), SNAPSHOT_FIELDS, format));
    });

  volume
    .command('expand')
    .description('Grow a volume')
    .argument('<id>', 'volume id')
    .requiredOption('--size <size>', 'the new size, e.g. 20GiB', sizeArg)
    .action(async (id: string, opts: { size: number }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<Volume>(`/v1/volumes/${seg(id)}/expand`, { sizeBytes: opts.size }), VOLUME_FIELDS, format));
    });

  registerVolumeOwnership(volume);
}

function parseKeyValuesAsUsage(pairs: string[]): Record<string, string> {
  try {
    return parseKeyValues(pairs);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
