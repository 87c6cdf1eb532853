import { Option, type Command } from 'commander';
import { collect, keyValue, parseKeyValues, positiveInt, sizeArg } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { UsageError } from '../errors.js';
import { formatAge, formatLabels, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Snapshot, Volume } from '../types.js';
import { placementBody, withPlacementOptions, type PlacementOptions } from './placement.js';
import { resolveSnapshot, resolveVolume, withServiceScope } from '../resolve.js';
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

/** `--service`: where a volume's name is looked up (see resolve.ts). */
interface Scoped {
  service?: string;
}

interface ListOptions {
  label?: string[];
  field?: string[];
  name?: string;
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
    .option('--name <name>', 'only the volume with this name (one per service)')
    .option('--pool <pool>', 'only volumes in this pool')
    .option('--service <service>', 'only volumes of this service (admin)')
    .option('--limit <n>', 'at most this many (with --all: page size)', positiveInt)
    .option('--all', 'follow the cursor and list every page')
    .action(async (opts: ListOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = { label: opts.label, field: opts.field, name: opts.name, status: opts.status, pool: opts.pool, service: opts.service, limit: opts.limit };
      const page = await client.list<Volume>('/v1/volumes', query, opts.all === true);
      if (format === 'table' && page.items.length === 0) note('No volumes.');
      else print(renderList(page.items, VOLUME_COLUMNS, format));
      if (page.nextCursor && !opts.all) note(`(more volumes: use --all, or --limit)`);
    });

  withServiceScope(volume.command('get').description('Show one volume').argument('<volume>', 'volume id or name')).action(
    async (ref: string, opts: Scoped, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      print(renderObject(await client.get<Volume>(`/v1/volumes/${seg(id)}`), VOLUME_FIELDS, format));
    },
  );

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
    .option('--from-snapshot <snapshot>', 'restore from this snapshot (id or name)')
    .option('--from-volume <volume>', 'clone this volume (id or name)')
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
        fromSnapshot: opts.fromSnapshot === undefined ? undefined : await resolveSnapshot(client, opts.fromSnapshot, opts.service),
        fromVolume: opts.fromVolume === undefined ? undefined : await resolveVolume(client, opts.fromVolume, opts.service),
        reservation: opts.reservation,
        ...placementBody(opts),
      };
      const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
      print(renderObject(await client.post<Volume>('/v1/volumes', body, headers), VOLUME_FIELDS, format));
    });

  withServiceScope(volume.command('rm').alias('delete').description('Delete volumes and their data').argument('<volume...>', 'volume ids or names')).action(
    async (refs: string[], opts: Scoped, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('volume', refs, format, async (ref) => client.delete(`/v1/volumes/${seg(await resolveVolume(client, ref, opts.service))}`));
    },
  );

  withServiceScope(
    volume
      .command('label')
      .description('Set or remove labels (key=value sets, --remove key removes)')
      .argument('<volume>', 'volume id or name')
      .argument('[labels...]', 'key=value pairs to set')
      .option('--remove <key>', 'label key to remove (repeatable)', collect),
  ).action(async (ref: string, pairs: string[], opts: Scoped & { remove?: string[] }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const set = parseKeyValuesAsUsage(pairs);
      if (pairs.length === 0 && !opts.remove?.length) throw new UsageError('volume label: give key=value pairs to set and/or --remove KEY');
      const id = await resolveVolume(client, ref, opts.service);
      const current = await client.get<Volume>(`/v1/volumes/${seg(id)}`);
      const labels = { ...current.labels, ...set };
      for (const key of opts.remove ?? []) delete labels[key];
      print(renderObject(await client.patch<Volume>(`/v1/volumes/${seg(id)}`, { labels }), VOLUME_FIELDS, format));
    });

  withServiceScope(volume.command('snapshot').description('Snapshot a volume').argument('<volume>', 'volume id or name').argument('<name>', 'snapshot name')).action(
    async (ref: string, name: string, opts: Scoped, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      print(renderObject(await client.post<Snapshot>(`/v1/volumes/${seg(id)}/snapshots`, { name }), SNAPSHOT_FIELDS, format));
    },
  );

  withServiceScope(
    volume.command('expand').description('Grow a volume').argument('<volume>', 'volume id or name').requiredOption('--size <size>', 'the new size, e.g. 20GiB', sizeArg),
  ).action(async (ref: string, opts: Scoped & { size: number }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
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
