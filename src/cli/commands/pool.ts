import type { Command } from 'commander';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatLabels, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Pool } from '../types.js';

export const POOL_COLUMNS: Column<Pool>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'DRIVER', value: (p) => p.driver },
  { header: 'STATE', value: (p) => p.state },
  { header: 'TOTAL', value: (p) => formatSize(p.capacity.totalBytes) },
  { header: 'FREE', value: (p) => formatSize(p.capacity.freeBytes) },
  { header: 'ALLOCATED', value: (p) => formatSize(p.capacity.allocatedBytes) },
  { header: 'VOLUMES', value: (p) => String(p.capacity.volumeCount) },
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
  ['Allocated', (p) => formatSize(p.capacity.allocatedBytes)],
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
}
