import { hostname } from 'node:os';
import type { AppContext } from './context.js';

/**
 * Where an undeclared node-local pool lives (`poolNodes`' `home`): the embedded agent's node, else the
 * node registered first; undefined while no node is registered. Attach and placement for a node both ask.
 */
export async function poolHomeNode(ctx: AppContext): Promise<string | undefined> {
  const agent = ctx.config.agent;
  if (agent.enabled) return agent.nodeId ?? hostname();
  const first = await ctx.store.db.selectFrom('nodes').select('id').orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
  return first?.id;
}
