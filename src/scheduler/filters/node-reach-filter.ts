import { defineFilter } from '../filter.js';
import type { PlacementNode } from '../types.js';
import { poolNodes, zoneReaches } from '../zones.js';

/**
 * A volume made for a node (Docker's Create runs on the node whose container mounts the volume first:
 * under Swarm, wherever the task landed) goes only to a pool that node reaches: a node-local pool that
 * lives on it (or is shared), a networked pool of its zone. The same rule attach applies (`poolNodes`,
 * `zoneReaches`), so a volume placed here can always be mounted there.
 */
export const nodeReachFilter = defineFilter<PlacementNode>({
  name: 'node-reach',
  kind: 'match',
  prepare: (request) => request.node ?? null,
  accepts: (candidate, node) => {
    const nodes = poolNodes(candidate.pool, node.home ?? undefined);
    return (nodes === undefined || nodes.includes(node.id)) && zoneReaches(candidate.zone, node.zone);
  },
  reason: (candidate, _request, node) => {
    const nodes = poolNodes(candidate.pool, node.home ?? undefined);
    if (nodes !== undefined && !nodes.includes(node.id)) return `lives on ${nodes.length === 0 ? 'no node yet' : nodes.join(', ')}, not on node ${node.id}`;
    return `zone ${candidate.zone ?? '(none)'} is not node ${node.id}'s zone ${node.zone ?? '(none)'}`;
  },
  summarize: (_rejected, _request, node) => `not reachable from node ${node.id}`,
});
