import { Option, type Command } from 'commander';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, formatUntil, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Reservation } from '../types.js';
import { removeEach } from './remove.js';

const STATUSES = ['active', 'consumed', 'released', 'expired'];

const expires = (r: Reservation) => (r.status === 'active' ? formatUntil(r.expiresAt) : '-');

export const RESERVATION_COLUMNS: Column<Reservation>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'SERVICE', value: (r) => r.service },
  { header: 'POOL', value: (r) => r.pool },
  { header: 'PROFILE', value: (r) => r.profile },
  { header: 'SIZE', value: (r) => formatSize(r.sizeBytes) },
  { header: 'STATUS', value: (r) => r.status },
  { header: 'VOLUME', value: (r) => r.volumeId ?? '-' },
  { header: 'EXPIRES', value: expires },
  { header: 'AGE', value: (r) => formatAge(r.createdAt) },
];

export const RESERVATION_FIELDS: Field<Reservation>[] = [
  ['ID', (r) => r.id],
  ['Offer', (r) => r.offerId],
  ['Service', (r) => r.service],
  ['Pool', (r) => r.pool],
  ['Profile', (r) => r.profile],
  ['Size', (r) => `${formatSize(r.sizeBytes)} (${r.sizeBytes} bytes)`],
  ['Status', (r) => r.status],
  ['Volume', (r) => r.volumeId ?? '-'],
  ['Created', (r) => r.createdAt],
  ['Expires', (r) => (r.status === 'active' ? `${r.expiresAt} (${formatUntil(r.expiresAt)})` : r.expiresAt)],
];

export function registerReservation(program: Command): void {
  const reservation = program.command('reservation').alias('reservations').description('Reservations: capacity and quota held by accepted offers');

  reservation
    .command('ls')
    .alias('list')
    .description('List reservations')
    .addOption(new Option('--status <status>', 'only reservations in this status').choices(STATUSES))
    .option('--service <service>', 'only reservations of this service (admin)')
    .action(async (opts: { status?: string; service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: Reservation[] }>('/v1/reservations', { status: opts.status, service: opts.service });
      if (format === 'table' && items.length === 0) note('No reservations.');
      else print(renderList(items, RESERVATION_COLUMNS, format));
    });

  reservation
    .command('get')
    .description('Show one reservation')
    .argument('<id>', 'reservation id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Reservation>(`/v1/reservations/${seg(id)}`), RESERVATION_FIELDS, format));
    });

  reservation
    .command('rm')
    .alias('release')
    .description('Release reservations before they lapse')
    .argument('<id...>', 'reservation ids')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('reservation', ids, format, (id) => client.delete(`/v1/reservations/${seg(id)}`), 'released');
    });
}
