import type { Command } from 'commander';
import { commaList } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, note, print, renderList, renderObject, type Column } from '../output.js';
import type { Share, Volume } from '../types.js';
import { resolveVolume, SCOPE_HELP } from '../resolve.js';
import { removeEach } from './remove.js';
import { VOLUME_FIELDS } from './volume.js';

export const SHARE_COLUMNS: Column<Share>[] = [
  { header: 'VOLUME', value: (s) => s.volumeId },
  { header: 'SERVICE', value: (s) => s.service },
  { header: 'ACCESS', value: (s) => s.access },
  { header: 'AGE', value: (s) => formatAge(s.createdAt) },
];

function printShares(items: Share[], format: Parameters<typeof renderList>[2], id: string): void {
  if (format === 'table' && items.length === 0) note(`Volume ${id} is not shared.`);
  else print(renderList(items, SHARE_COLUMNS, format));
}

/** `polly volume offer|revoke|shares|transfer|import|release`: who owns and who may see a volume. */
export function registerVolumeOwnership(volume: Command): void {
  volume
    .command('offer')
    .description('Share a volume with other services, read-only unless --rw (admin)')
    .argument('<volume>', 'volume id or name')
    .option('--service <name>', SCOPE_HELP)
    .requiredOption('--to <service>', 'service to share with (repeatable, or a,b)', commaList)
    .option('--rw', 'let them write too')
    .action(async (ref: string, opts: { to: string[]; rw?: boolean; service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      const body = { services: opts.to, access: opts.rw ? 'rw' : 'ro' };
      printShares((await client.post<{ items: Share[] }>(`/v1/volumes/${seg(id)}/offer`, body)).items, format, id);
    });

  volume
    .command('revoke')
    .description('Take shares back; refused while attached there (admin)')
    .argument('<volume>', 'volume id or name')
    .option('--service <name>', SCOPE_HELP)
    .requiredOption('--from <service>', 'service to take it from (repeatable, or a,b)', commaList)
    .action(async (ref: string, opts: { from: string[]; service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      printShares((await client.post<{ items: Share[] }>(`/v1/volumes/${seg(id)}/revoke`, { services: opts.from })).items, format, id);
    });

  volume
    .command('shares')
    .description('List the services a volume is shared with')
    .argument('<volume>', 'volume id or name')
    .option('--service <name>', SCOPE_HELP)
    .action(async (ref: string, opts: { service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      printShares((await client.get<{ items: Share[] }>(`/v1/volumes/${seg(id)}/shares`)).items, format, id);
    });

  volume
    .command('transfer')
    .description('Give a volume and its snapshots to another service (the quota of the service that receives it is checked)')
    .argument('<volume>', 'volume id or name')
    .option('--service <name>', SCOPE_HELP)
    .requiredOption('--to <service>', 'the new owner')
    .action(async (ref: string, opts: { to: string; service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const id = await resolveVolume(client, ref, opts.service);
      print(renderObject(await client.post<Volume>(`/v1/volumes/${seg(id)}/transfer`, { toService: opts.to }), VOLUME_FIELDS, format));
    });

  volume
    .command('import')
    .description('Take an unmanaged backend volume under management, data untouched (admin; see polly pool unmanaged)')
    .requiredOption('--pool <pool>', 'the pool holding it')
    .requiredOption('--backend-id <id>', 'its backend id')
    .requiredOption('--service <service>', 'the owning service')
    .requiredOption('--name <name>', 'the volume name')
    .option('--profile <profile>', 'profile (storage class)')
    .action(async (opts: { pool: string; backendId: string; service: string; name: string; profile?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body = { pool: opts.pool, backendId: opts.backendId, service: opts.service, name: opts.name, profile: opts.profile };
      print(renderObject(await client.post<Volume>('/v1/volumes/import', body), VOLUME_FIELDS, format));
    });

  volume
    .command('release')
    .description('Forget volumes without deleting their data (admin)')
    .argument('<volume...>', 'volume ids or names')
    .option('--service <name>', SCOPE_HELP)
    .action(async (refs: string[], opts: { service?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('volume', refs, format, async (ref) => {
        await client.post<unknown>(`/v1/volumes/${seg(await resolveVolume(client, ref, opts.service))}/release`);
      }, 'released');
    });
}
