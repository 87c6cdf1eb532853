import { PollyError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import { endAttachment, listLiveAttachments, nextFencingToken, type Attachment } from '../store/repos/attachments.js';
import { findNode, setNodeFence, setNodeSelfFenced, type NodeRecord } from '../store/repos/nodes.js';
import type { Executor } from '../store/store.js';
import { releaseVolumeIfIdle } from './attachments.js';
import type { AppContext } from './context.js';
import { requireAdmin } from './scope.js';

export interface SelfFenceReport {
  /** The attachments the agent fenced (made unwritable on its node). */
  attachments: string[];
  /** When the agent fenced them, by its clock. */
  fencedAt: string;
}

/**
 * Node fencing: an operator confirms a node down (`polly node fence`, like Kubernetes' out-of-service
 * taint), which ends every attachment on it at once so its volumes can move; and an agent reports that it
 * fenced itself (its lease deadline passed without a renewal, or the server told it the attachment was
 * gone), which ends those attachments. Either is what lets a RWO volume leave a silent node under the
 * `safe` failover policy.
 */
export class NodeFencingUseCases {
  readonly #ctx: AppContext;

  constructor(ctx: AppContext) {
    this.#ctx = ctx;
  }

  /**
   * Marks a node fenced (admin) and ends its live attachments as fenced; their volumes' fencing tokens
   * move on. Nothing is attached to the node until it is unfenced; its heartbeats are refused
   * (NODE_FENCED), so a node that was not really down fences itself at once. Idempotent.
   */
  async fence(identity: Identity, nodeId: string, reason: string): Promise<{ node: NodeRecord; ended: string[] }> {
    requireAdmin(identity, 'fencing a node');
    if (reason.length > 500) throw new PollyError('VALIDATION_FAILED', 'reason must be at most 500 characters');
    const at = this.#ctx.clock.now().toISOString();
    const ended = await this.#ctx.store.transaction(async (trx) => {
      const node = await findNode(trx, nodeId);
      if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
      if (!node.fence) {
        await setNodeFence(trx, nodeId, { at, by: 'admin', reason });
        await this.#ctx.events.record(trx, { type: 'node.fenced', service: null, objectId: nodeId, data: { reason } }, at);
      }
      const ids: string[] = [];
      for (const a of await listLiveAttachments(trx, { node: nodeId })) {
        if (await this.#end(trx, a, { how: 'operator', reason }, at)) ids.push(a.id);
      }
      return ids;
    });
    this.#ctx.events.notify();
    return { node: await this.#node(nodeId), ended };
  }

  /** Lifts an operator's fence (admin): the node may heartbeat and be attached to again. Idempotent. */
  async unfence(identity: Identity, nodeId: string): Promise<NodeRecord> {
    requireAdmin(identity, 'unfencing a node');
    const at = this.#ctx.clock.now().toISOString();
    await this.#ctx.store.transaction(async (trx) => {
      const node = await findNode(trx, nodeId);
      if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
      if (!node.fence) return;
      await setNodeFence(trx, nodeId, null);
      await this.#ctx.events.record(trx, { type: 'node.unfenced', service: null, objectId: nodeId, data: {} }, at);
    });
    this.#ctx.events.notify();
    return this.#node(nodeId);
  }

  /**
   * An agent's report that it fenced the given attachments of its node: those still live end as fenced
   * (another node may then be granted their volumes). `scope` limits it to one service's attachments
   * (undefined: all, for the admin or a node credential). Attachments not live on this node are
   * ignored (already ended, or another node's). Answers those it ended.
   */
  async reportSelfFence(nodeId: string, scope: string | undefined, report: SelfFenceReport): Promise<{ ended: string[] }> {
    if (!Array.isArray(report.attachments) || Number.isNaN(Date.parse(report.fencedAt))) {
      throw new PollyError('VALIDATION_FAILED', 'attachments (a list of ids) and fencedAt (a timestamp) are required');
    }
    const at = this.#ctx.clock.now().toISOString();
    const wanted = new Set(report.attachments);
    const ended = await this.#ctx.store.transaction(async (trx) => {
      if (!(await findNode(trx, nodeId))) throw new PollyError('NODE_NOT_FOUND', `node ${nodeId} is not registered`);
      await setNodeSelfFenced(trx, nodeId, report.fencedAt);
      const ids: string[] = [];
      for (const a of await listLiveAttachments(trx, { node: nodeId, service: scope })) {
        if (!wanted.has(a.id)) continue;
        const beforeDeadline = Date.parse(report.fencedAt) <= Date.parse(a.leaseExpiresAt);
        if (await this.#end(trx, a, { how: 'self-fence', fencedAt: report.fencedAt, beforeDeadline }, at)) ids.push(a.id);
      }
      return ids;
    });
    this.#ctx.events.notify();
    return { ended };
  }

  async #end(trx: Executor, a: Attachment, data: Record<string, unknown>, at: string): Promise<boolean> {
    if (!(await endAttachment(trx, a.id, 'fenced', at))) return false;
    await nextFencingToken(trx, a.volumeId);
    await releaseVolumeIfIdle(trx, a.volumeId, at);
    await this.#ctx.events.record(
      trx,
      { type: 'attachment.fenced', service: a.service, objectId: a.id, data: { volumeId: a.volumeId, node: a.node, fencingToken: a.fencingToken, ...data } },
      at,
    );
    return true;
  }

  async #node(id: string): Promise<NodeRecord> {
    const node = await findNode(this.#ctx.store.db, id);
    if (!node) throw new PollyError('NODE_NOT_FOUND', `node ${id} is not registered`);
    return node;
  }
}
