import { Option, type Command } from 'commander';
import { keyValue, numberIn, parseKeyValues } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { UsageError } from '../errors.js';
import { capacityBar, formatLabels, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Pool, UnmanagedObject } from '../types.js';
import { removeEach } from './remove.js';

const STATES = ['enabled', 'draining', 'disabled'];

export const POOL_COLUMNS: Column<Pool>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'DRIVER', value: (p) => p.driver },
  { header: 'STATE', value: (p) => p.state },
  { header: 'TOTAL', value: (p) => formatSize(p.capacity.totalBytes) },
  { header: 'FREE', value: (p) => formatSize(p.capacity.freeBytes) },
  { header: 'ALLOCATED', value: (p) => formatSize(p.capacity.allocatedBytes) },
  { header: 'VOLUMES', value: (p) => String(p.capacity.volumeCount) },
  { header: 'USAGE', value: (p) => capacityBar(p.capacity.allocatedBytes, p.capacity.totalBytes) },
];

const UNMANAGED_COLUMNS: Column<UnmanagedObject>[] = [
  { header: 'BACKEND ID', value: (o) => o.backendId },
  { header: 'KIND', value: (o) => o.kind },
  { header: 'SIZE', value: (o) => formatSize(o.sizeBytes) },
  { header: 'USED', value: (o) => (o.usedBytes === undefined ? '-' : formatSize(o.usedBytes)) },
];

const on = (yes: boolean) => (yes ? 'yes' : 'no');

export const POOL_FIELDS: Field<Pool>[] = [
  ['Name', (p) => p.name],
  ['Driver', (p) => p.driver],
  ['State', (p) => p.state],
  ['Parameters', (p) => formatLabels(p.parameters)],
  ['Labels', (p) => formatLabels(p.labels)],
  ['Topology', (p) => formatTopology(p.topology)],
  ['Total', (p) => formatSize(p.capacity.totalBytes)],
  ['Free', (p) => formatSize(p.capacity.freeBytes)],
  ['Allocated', (p) => `${formatSize(p.capacity.allocatedBytes)} ${capacityBar(p.capacity.allocatedBytes, p.capacity.totalBytes).replace(/ +/, ' ')}`],
  ['Volumes', (p) => String(p.capacity.volumeCount)],
  ['Over-subscription', (p) => `${p.overSubscriptionRatio}x`],
  ['Reserved', (p) => `${p.reservedPercent}%`],
  [
    'Capabilities',
    (p) =>
      [
        `snapshots=${on(p.capabilities.snapshots)}`,
        `clones=${on(p.capabilities.clones)}`,
        `expand=${p.capabilities.expand}`,
        `block=${on(p.capabilities.block)}`,
        `sizeEnforced=${on(p.capabilities.sizeEnforced)}`,
        `accessModes=${p.capabilities.accessModes.join('/') || '-'}`,
      ].join(', '),
  ],
  ['Created', (p) => p.createdAt],
];

function formatTopology(t: Pool['topology']): string {
  const parts = [t.region && `region=${t.region}`, t.zone && `zone=${t.zone}`, t.nodes?.length && `nodes=${t.nodes.join(',')}`];
  return parts.filter(Boolean).join(' ') || '-';
}

export function registerPool(program: Command): void {
  const pool = program.command('pool').alias('pools').description('Pools: where drivers create volumes');

  pool
    .command('ls')
    .alias('list')
    .description('List pools with their real capacity')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: Pool[] }>('/v1/pools');
      if (format === 'table' && items.length === 0) note('No pools.');
      else print(renderList(items, POOL_COLUMNS, format));
    });

  pool
    .command('get')
    .description('Show one pool')
    .argument('<name>', 'pool name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Pool>(`/v1/pools/${seg(name)}`), POOL_FIELDS, format));
    });

  pool
    .command('create')
    .description('Add a pool; its backend is checked first (admin)')
    .argument('<name>', 'pool name')
    .requiredOption('--driver <driver>', 'driver: local, btrfs, loopblock, fake…')
    .option('--path <path>', 'where a path-based driver keeps its volumes')
    .option('--param <key=value>', 'driver parameter (repeatable)', keyValue('parameter'))
    .option('--label <key=value>', 'label (repeatable)', keyValue('label'))
    .option('--zone <zone>', 'topology zone')
    .option('--region <region>', 'topology region')
    .option('--over-subscription <ratio>', 'over-subscription ratio (1-100)', numberIn(1, 100))
    .option('--reserved-percent <n>', 'percent of capacity kept free (0-99)', numberIn(0, 99))
    .addOption(new Option('--state <state>', 'initial state').choices(STATES))
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const topology = opts.zone !== undefined || opts.region !== undefined ? { zone: opts.zone, region: opts.region } : undefined;
      const body = {
        name,
        driver: opts.driver,
        path: opts.path,
        parameters: opts.param ? parseKeyValues(opts.param, 'parameter') : undefined,
        labels: opts.label ? parseKeyValues(opts.label) : undefined,
        topology,
        state: opts.state,
        overSubscriptionRatio: opts.overSubscription,
        reservedPercent: opts.reservedPercent,
      };
      print(renderObject(await client.post<Pool>('/v1/pools', body), POOL_FIELDS, format));
    });

  pool
    .command('update')
    .description('Change labels (merged), zone, state or provisioning of a pool (admin)')
    .argument('<name>', 'pool name')
    .option('--label <key=value>', 'label to set, others kept (repeatable)', keyValue('label'))
    .option('--zone <zone>', 'topology zone')
    .option('--region <region>', 'topology region')
    .addOption(new Option('--state <state>', 'enabled, draining (no new volumes) or disabled').choices(STATES))
    .option('--over-subscription <ratio>', 'over-subscription ratio (1-100)', numberIn(1, 100))
    .option('--reserved-percent <n>', 'percent of capacity kept free (0-99)', numberIn(0, 99))
    .action(async (name: string, opts: UpdateOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const patch: Record<string, unknown> = {};
      if (opts.state !== undefined) patch.state = opts.state;
      if (opts.overSubscription !== undefined) patch.overSubscriptionRatio = opts.overSubscription;
      if (opts.reservedPercent !== undefined) patch.reservedPercent = opts.reservedPercent;
      if (opts.label !== undefined || opts.zone !== undefined || opts.region !== undefined) {
        // Labels and topology are replaced whole by the server: start from the current ones.
        const current = await client.get<Pool>(`/v1/pools/${seg(name)}`);
        if (opts.label !== undefined) patch.labels = { ...current.labels, ...parseKeyValues(opts.label) };
        if (opts.zone !== undefined || opts.region !== undefined) {
          patch.topology = { ...current.topology, ...(opts.zone !== undefined && { zone: opts.zone }), ...(opts.region !== undefined && { region: opts.region }) };
        }
      }
      if (Object.keys(patch).length === 0) throw new UsageError('pool update: give at least one of --label, --zone, --region, --state, --over-subscription, --reserved-percent');
      print(renderObject(await client.patch<Pool>(`/v1/pools/${seg(name)}`, patch), POOL_FIELDS, format));
    });

  pool
    .command('rm')
    .alias('delete')
    .description('Remove empty pools; their backend data is not touched (admin)')
    .argument('<name...>', 'pool names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('pool', names, format, (name) => client.delete(`/v1/pools/${seg(name)}`), 'removed');
    });

  pool
    .command('unmanaged')
    .description('Backend objects of a pool that no volume or snapshot owns, for volume import (admin)')
    .argument('<name>', 'pool name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: UnmanagedObject[] }>(`/v1/pools/${seg(name)}/unmanaged`);
      if (format === 'table' && items.length === 0) note(`No unmanaged objects in pool ${name}.`);
      else print(renderList(items, UNMANAGED_COLUMNS, format));
    });
}

interface CreateOptions {
  driver: string;
  path?: string;
  param?: string[];
  label?: string[];
  zone?: string;
  region?: string;
  state?: string;
  overSubscription?: number;
  reservedPercent?: number;
}

type UpdateOptions = Omit<CreateOptions, 'driver' | 'path' | 'param'>;
