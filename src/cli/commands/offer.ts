import type { Command } from 'commander';
import { sizeArg } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatUntil, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Offer, Reservation } from '../types.js';
import { RESERVATION_FIELDS } from './reservation.js';

export const OFFER_COLUMNS: Column<Offer>[] = [
  { header: 'ID', value: (o) => o.id },
  { header: 'SERVICE', value: (o) => o.service },
  { header: 'POOL', value: (o) => o.pool },
  { header: 'PROFILE', value: (o) => o.profile },
  { header: 'ZONE', value: (o) => o.zone ?? '-' },
  { header: 'UP TO', value: (o) => formatSize(o.maxBytes) },
  { header: 'EXPIRES', value: (o) => formatUntil(o.expiresAt) },
];

export const OFFER_FIELDS: Field<Offer>[] = [
  ['ID', (o) => o.id],
  ['Service', (o) => o.service],
  ['Pool', (o) => o.pool],
  ['Profile', (o) => o.profile],
  ['Zone', (o) => o.zone ?? '-'],
  ['Up to', (o) => `${formatSize(o.maxBytes)} (${o.maxBytes} bytes)`],
  ['Status', (o) => o.status],
  ['Created', (o) => o.createdAt],
  ['Expires', (o) => `${o.expiresAt} (${formatUntil(o.expiresAt)})`],
];

interface ListOptions {
  profile?: string;
  zone?: string;
  minSize?: number;
  service?: string;
}

export function registerOffer(program: Command): void {
  const offer = program.command('offer').alias('offers').description('Offers: what a service could create now; accept one to reserve capacity');

  offer
    .command('ls')
    .alias('list')
    .description('List open offers (a service sees its own; admin: --service, or all)')
    .option('--profile <profile>', 'only offers of this profile')
    .option('--zone <zone>', 'only offers in this zone')
    .option('--min-size <size>', 'only offers of at least this size', sizeArg)
    .option('--service <service>', 'only offers to this service (admin; refreshes them)')
    .action(async (opts: ListOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = { profile: opts.profile, zone: opts.zone, minBytes: opts.minSize, service: opts.service };
      const { items } = await client.get<{ items: Offer[] }>('/v1/offers', query);
      if (format === 'table' && items.length === 0) note('No open offers.');
      else print(renderList(items, OFFER_COLUMNS, format));
    });

  offer
    .command('accept')
    .description('Accept an offer: a reservation holding capacity and quota until a volume uses it (polly volume create --reservation)')
    .argument('<id>', 'offer id')
    .requiredOption('--size <size>', 'how much of the offer to reserve, e.g. 10GiB', sizeArg)
    .action(async (id: string, opts: { size: number }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const reservation = await client.post<Reservation>(`/v1/offers/${seg(id)}/accept`, { sizeBytes: opts.size });
      print(renderObject(reservation, RESERVATION_FIELDS, format));
    });

  offer
    .command('decline')
    .description('Decline an offer: it is not made again until it would have expired')
    .argument('<id>', 'offer id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<Offer>(`/v1/offers/${seg(id)}/decline`), OFFER_FIELDS, format));
    });

  offer
    .command('revoke')
    .description('Withdraw an offer and release its reservations (admin)')
    .argument('<id>', 'offer id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<Offer>(`/v1/offers/${seg(id)}/revoke`), OFFER_FIELDS, format));
    });
}
