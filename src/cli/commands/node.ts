import type { Command } from 'commander';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { formatAge, formatLabels, print, renderList, renderObject, type Column, type Field } from '../output.js';
import type { NodeFenced, PollyNode } from '../types.js';

function fenceState(n: PollyNode): string {
  if (n.fence) return `fenced ${n.fence.at}${n.fence.reason ? ` (${n.fence.reason})` : ''}`;
  return 'no';
}

export const NODE_COLUMNS: Column<PollyNode>[] = [
  { header: 'NODE', value: (n) => n.id },
  { header: 'HOSTNAME', value: (n) => n.hostname },
  { header: 'LAST HEARTBEAT', value: (n) => (n.lastHeartbeatAt ? formatAge(n.lastHeartbeatAt) : '-') },
  { header: 'SELF-FENCE BY', value: (n) => n.selfFenceDeadline ?? '-' },
  { header: 'RE-GRANT AFTER', value: (n) => n.regrantAfter ?? '-' },
  { header: 'LEASE/MARGIN/SKEW', value: (n) => `${n.leaseSeconds}s/${n.selfFenceMarginSeconds}s/${n.clockSkewSeconds}s` },
  { header: 'FENCED', value: (n) => (n.fence ? 'yes' : 'no') },
];

export const NODE_FIELDS: Field<PollyNode>[] = [
  ['Node', (n) => n.id],
  ['Hostname', (n) => n.hostname],
  ['Topology', (n) => formatLabels(n.topology)],
  ['Last heartbeat', (n) => n.lastHeartbeatAt ?? '-'],
  ['Lease', (n) => `${n.leaseSeconds}s`],
  ['Self-fence margin', (n) => `${n.selfFenceMarginSeconds}s`],
  ['Clock-skew margin', (n) => `${n.clockSkewSeconds}s`],
  ['Self-fence by', (n) => n.selfFenceDeadline ?? '-'],
  ['Re-grant after', (n) => n.regrantAfter ?? '-'],
  ['Fenced', fenceState],
  ['Last self-fence', (n) => n.selfFencedAt ?? '-'],
  ['Registered', (n) => n.createdAt],
];

export function registerNode(program: Command): void {
  const node = program.command('node').alias('nodes').description('Nodes (hosts with an agent): leases, self-fence deadlines, operator fencing');

  node
    .command('ls')
    .alias('list')
    .description('List nodes with their self-fence deadline and the earliest re-grant of their volumes')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: PollyNode[] }>('/v1/nodes');
      print(renderList(items, NODE_COLUMNS, format));
    });

  node
    .command('get')
    .description('Show one node')
    .argument('<node>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<PollyNode>(`/v1/nodes/${seg(id)}`), NODE_FIELDS, format));
    });

  node
    .command('fence')
    .description('Confirm a node down (admin): its attachments end now and its RWO volumes may move; only when its containers really cannot write any more (powered off, isolated)')
    .argument('<node>', 'node id')
    .option('--reason <text>', 'why (kept with the fence and in the events)')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const res = await client.post<NodeFenced>(`/v1/nodes/${seg(id)}/fence`, opts.reason !== undefined ? { reason: opts.reason } : {});
      if (format !== 'table') print(renderObject(res, [], format));
      else print(`${renderObject(res.node, NODE_FIELDS, format)}\nEnded attachments: ${res.ended.length === 0 ? 'none' : res.ended.join(', ')}`);
    });

  node
    .command('unfence')
    .description('Lift the fence (admin): the node may heartbeat and be attached to again')
    .argument('<node>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<PollyNode>(`/v1/nodes/${seg(id)}/unfence`, {}), NODE_FIELDS, format));
    });
}
