import type { Command } from 'commander';
import { keyValue, parseKeyValues } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, formatLabels, note, print, renderList, renderObject, serialize, type Column, type Field } from '../output.js';
import type { IssuedToken, Service } from '../types.js';
import { removeEach } from './remove.js';

export const SERVICE_COLUMNS: Column<Service>[] = [
  { header: 'NAME', value: (s) => s.name },
  { header: 'LABELS', value: (s) => formatLabels(s.labels) },
  { header: 'AGE', value: (s) => formatAge(s.createdAt) },
];

export const SERVICE_FIELDS: Field<Service>[] = [
  ['Name', (s) => s.name],
  ['Labels', (s) => formatLabels(s.labels)],
  ['Created', (s) => s.createdAt],
];

export function registerService(program: Command): void {
  const service = program.command('service').alias('services').description('Services (tenants) and their tokens');

  service
    .command('create')
    .description('Create a service (admin)')
    .argument('<name>', 'service name')
    .option('--label <key=value>', 'label (repeatable)', keyValue('label'))
    .action(async (name: string, opts: { label?: string[] }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body = { name, labels: opts.label ? parseKeyValues(opts.label) : undefined };
      print(renderObject(await client.post<Service>('/v1/services', body), SERVICE_FIELDS, format));
    });

  service
    .command('ls')
    .alias('list')
    .description('List services (a service token sees itself)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: Service[] }>('/v1/services');
      if (format === 'table' && items.length === 0) note('No services.');
      else print(renderList(items, SERVICE_COLUMNS, format));
    });

  service
    .command('get')
    .description('Show one service')
    .argument('<name>', 'service name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Service>(`/v1/services/${seg(name)}`), SERVICE_FIELDS, format));
    });

  service
    .command('rm')
    .alias('delete')
    .description('Delete services that own no volumes (admin)')
    .argument('<name...>', 'service names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('service', names, format, (name) => client.delete(`/v1/services/${seg(name)}`));
    });

  service
    .command('token')
    .description('Issue a bearer token for a service (admin); it is shown once')
    .argument('<name>', 'service name')
    .option('--description <text>', 'what the token is for')
    .action(async (name: string, opts: { description?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body = opts.description !== undefined ? { description: opts.description } : {};
      const issued = await client.post<IssuedToken>(`/v1/services/${seg(name)}/tokens`, body);
      // The token alone on stdout, so that TOKEN=$(polly service token NAME) works; the hint on stderr.
      print(format === 'table' ? issued.token : serialize(issued, format));
      note(`Token ${issued.id} for service ${issued.service}: store it now, it is not shown again.`);
    });
}
