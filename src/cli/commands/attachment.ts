import type { Command } from 'commander';
import { accessModeArg } from '../args.js';
import type { PollyClient } from '../client.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, formatUntil, note, print, renderList, renderObject, serialize, type Column, type Field, type Format } from '../output.js';
import { resolveVolume, withServiceScope } from '../resolve.js';
import type { Attachment, Volume } from '../types.js';
import { removeEach } from './remove.js';

/** An attachment with its volume's name, which the API leaves to a second look-up. */
interface Row {
  a: Attachment;
  volumeName: string;
}

const mode = (a: Attachment) => `${a.accessMode}${a.readOnly ? ' ro' : ''}`;
const lease = (a: Attachment) => (a.status === 'live' ? formatUntil(a.leaseExpiresAt) : '-');

export const ATTACHMENT_COLUMNS: Column<Row>[] = [
  { header: 'ID', value: (r) => r.a.id },
  { header: 'VOLUME', value: (r) => r.volumeName },
  { header: 'SERVICE', value: (r) => r.a.service },
  { header: 'NODE', value: (r) => r.a.node },
  { header: 'MODE', value: (r) => mode(r.a) },
  { header: 'TOKEN', value: (r) => String(r.a.fencingToken) },
  { header: 'STATUS', value: (r) => r.a.status },
  { header: 'LEASE', value: (r) => lease(r.a) },
  { header: 'AGE', value: (r) => formatAge(r.a.createdAt) },
];

export const ATTACHMENT_FIELDS: Field<Row>[] = [
  ['ID', (r) => r.a.id],
  ['Volume', (r) => `${r.volumeName} (${r.a.volumeId})`],
  ['Service', (r) => r.a.service],
  ['Node', (r) => r.a.node],
  ['Access mode', (r) => mode(r.a)],
  ['Fencing token', (r) => String(r.a.fencingToken)],
  ['Status', (r) => r.a.status],
  ['Lease expires', (r) => `${r.a.leaseExpiresAt}${r.a.status === 'live' ? ` (${lease(r.a)})` : ''}`],
  ['Created', (r) => r.a.createdAt],
  ['Ended', (r) => r.a.endedAt ?? '-'],
];

/** Names of the attachments' volumes, one look-up per volume; a volume the caller cannot read shows `-`. */
async function withVolumeNames(client: PollyClient, items: Attachment[]): Promise<Row[]> {
  const ids = [...new Set(items.map((a) => a.volumeId))];
  const names = new Map<string, string>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        names.set(id, (await client.get<Volume>(`/v1/volumes/${seg(id)}`)).name);
      } catch {
        names.set(id, '-');
      }
    }),
  );
  return items.map((a) => ({ a, volumeName: names.get(a.volumeId) ?? '-' }));
}

/** JSON and YAML print the API's documents as they are; the table adds each volume's name. */
async function printList(client: PollyClient, items: Attachment[], format: Format): Promise<void> {
  if (format !== 'table') print(serialize(items, format));
  else if (items.length === 0) note('No attachments.');
  else print(renderList(await withVolumeNames(client, items), ATTACHMENT_COLUMNS, format));
}

async function printOne(client: PollyClient, a: Attachment, format: Format): Promise<void> {
  if (format !== 'table') print(serialize(a, format));
  else print(renderObject((await withVolumeNames(client, [a]))[0] as Row, ATTACHMENT_FIELDS, format));
}

export function registerAttachment(program: Command): void {
  const attachment = program.command('attachment').alias('attachments').description('Attachments: which volume is mapped to which node, with its lease and fencing token');

  withServiceScope(
    attachment
      .command('ls')
      .alias('list')
      .description('List live attachments (a service token: its own)')
      .option('--node <node>', 'only attachments on this node')
      .option('--volume <volume>', 'only attachments of this volume (id or name)'),
  ).action(async (opts: { node?: string; volume?: string; service?: string }, cmd: Command) => {
    const { client, format } = contextOf(cmd);
    const volume = opts.volume === undefined ? undefined : await resolveVolume(client, opts.volume, opts.service);
    let { items } = await client.get<{ items: Attachment[] }>('/v1/attachments', { node: opts.node, volume });
    if (opts.service !== undefined) items = items.filter((a) => a.service === opts.service);
    await printList(client, items, format);
  });

  attachment
    .command('get')
    .description('Show one attachment')
    .argument('<id>', 'attachment id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await printOne(client, await client.get<Attachment>(`/v1/attachments/${seg(id)}`), format);
    });

  withServiceScope(
    attachment
      .command('create')
      .description('Attach a volume to a node (a lease its agent renews); agents and schedulers usually do this')
      .argument('<volume>', 'volume id or name')
      .requiredOption('--node <node>', 'the node')
      .requiredOption('--access-mode <mode>', 'RWO, RWOP, ROX or RWX', accessModeArg)
      .option('--read-only', 'mount it read-only'),
  ).action(async (ref: string, opts: { node: string; accessMode: string; readOnly?: boolean; service?: string }, cmd: Command) => {
    const { client, format } = contextOf(cmd);
    const id = await resolveVolume(client, ref, opts.service);
    const body = { node: opts.node, accessMode: opts.accessMode, readOnly: opts.readOnly === true };
    await printOne(client, await client.post<Attachment>(`/v1/volumes/${seg(id)}/attachments`, body), format);
  });

  attachment
    .command('rm')
    .alias('detach')
    .description('Detach; --force (admin) fences the holder whatever the volume state')
    .argument('<id...>', 'attachment ids')
    .option('--force', 'fence the holder (admin)')
    .action(async (ids: string[], opts: { force?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = opts.force ? '?force=true' : '';
      await removeEach('attachment', ids, format, (id) => client.delete(`/v1/attachments/${seg(id)}${query}`), 'detached');
    });
}
