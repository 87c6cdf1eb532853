import { PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { ADMIN, type Identity, type NodeIdentity, type Volume } from '../core/types.js';
import { findAttachment, listLiveAttachments } from '../store/repos/attachments.js';
import { assertValidName } from '../core/names.js';
import { isVolumeBound, listBoundVolumeIds } from '../store/repos/osb.js';
import { findTokenByHash, insertToken } from '../store/repos/services.js';
import { findVolume } from '../store/repos/volumes.js';
import { isUniqueViolation, nowIso } from '../store/store.js';
import type { Attachment, AttachInput, AttachmentUseCases, ConnectorInput, HeartbeatResult, NodeView } from './attachments.js';
import type { AppContext } from './context.js';
import type { NodeFencingUseCases, SelfFenceReport } from './node-fencing.js';
import type { PoolUseCases } from './pools.js';
import { requireAdmin } from './scope.js';
import { generateToken, hashToken } from './tokens.js';

/**
 * Node credentials: a token bound to one node, for an agent that serves the volumes of several services
 * on its host (a Cloud Foundry cell runs apps of many spaces). It may register and heartbeat its own node,
 * and mount exactly the volumes that are bound to an app (an OSB binding: any cell may run the app) or
 * attached to its node; it acts on a volume for the volume's owner, so each attachment stays the
 * owner's. Everything else is not found, and it can create, change or delete nothing.
 */
export class NodeAccessUseCases {
  readonly #ctx: AppContext;
  readonly #attachments: AttachmentUseCases;
  readonly #pools: PoolUseCases;

  readonly #fencing: NodeFencingUseCases;

  constructor(ctx: AppContext, attachments: AttachmentUseCases, pools: PoolUseCases, fencing: NodeFencingUseCases) {
    this.#ctx = ctx;
    this.#attachments = attachments;
    this.#pools = pools;
    this.#fencing = fencing;
  }

  /** Issues a credential for a node (admin). The token is returned once; only its hash is kept. */
  async issueCredential(identity: Identity, nodeId: string, description = ''): Promise<{ id: string; token: string; node: string }> {
    requireAdmin(identity, 'issuing node credentials');
    // The node need not be registered yet: its agent registers it with this very credential.
    assertValidName('node', nodeId);
    const token = generateToken();
    const id = newId('tok');
    await this.#ctx.store.transaction(async (trx) => {
      const at = nowIso();
      await insertToken(trx, { id, hash: hashToken(token), kind: 'node', service: null, node: nodeId, description, createdAt: at });
      await this.#ctx.events.record(trx, { type: 'node.credential_created', service: null, objectId: nodeId, data: { token: id, description } }, at);
    });
    this.#ctx.events.notify();
    return { id, token, node: nodeId };
  }

  /** Registers a node token chosen elsewhere (configuration); idempotent. Its node need not exist yet. */
  async registerCredential(nodeId: string, token: string, description: string): Promise<void> {
    assertValidName('node', nodeId);
    const hash = hashToken(token);
    const existing = await findTokenByHash(this.#ctx.store.db, hash);
    if (existing) {
      if (existing.kind !== 'node' || existing.node !== nodeId) throw new PollyError('VALIDATION_FAILED', `the token configured for node ${nodeId} is already registered for something else`);
      return;
    }
    try {
      await insertToken(this.#ctx.store.db, { id: newId('tok'), hash, kind: 'node', service: null, node: nodeId, description, createdAt: nowIso() });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }

  #own(caller: NodeIdentity, nodeId: string): void {
    if (nodeId !== caller.node) throw new PollyError('FORBIDDEN', `the credential of node ${caller.node} cannot act for node ${nodeId}`);
  }

  registerNode(caller: NodeIdentity, input: { id: string; hostname: string; topology?: Record<string, string> | undefined; connector?: ConnectorInput | undefined }): Promise<NodeView> {
    this.#own(caller, input.id);
    return this.#attachments.registerNode(ADMIN, input);
  }

  /** Renews every lease on the node (of every service) and answers all it should hold. */
  heartbeat(caller: NodeIdentity, nodeId: string): Promise<HeartbeatResult> {
    this.#own(caller, nodeId);
    return this.#attachments.heartbeat(ADMIN, nodeId);
  }

  /** Its agent's self-fence report: ends those of the node's attachments (of every service). */
  reportSelfFence(caller: NodeIdentity, nodeId: string, report: SelfFenceReport): Promise<{ ended: string[] }> {
    this.#own(caller, nodeId);
    return this.#fencing.reportSelfFence(nodeId, undefined, report);
  }

  /** A volume this node may mount: bound to an app, or attached to this node. */
  async volume(caller: NodeIdentity, id: string): Promise<Volume> {
    const db = this.#ctx.store.db;
    const v = await findVolume(db, id);
    if (v && ((await isVolumeBound(db, id)) || (await listLiveAttachments(db, { volumeId: id, node: caller.node })).length > 0)) return v;
    throw new PollyError('VOLUME_NOT_FOUND', `volume ${id} not found`);
  }

  /** Every volume this node may mount right now. */
  async volumes(caller: NodeIdentity): Promise<Volume[]> {
    const db = this.#ctx.store.db;
    const ids = new Set(await listBoundVolumeIds(db));
    for (const a of await listLiveAttachments(db, { node: caller.node })) ids.add(a.volumeId);
    const out: Volume[] = [];
    for (const id of [...ids].sort()) {
      const v = await findVolume(db, id);
      if (v) out.push(v);
    }
    return out;
  }

  /** Attaches a mountable volume to this node, for the volume's owner. */
  async attach(caller: NodeIdentity, volumeId: string, input: AttachInput): Promise<Attachment> {
    this.#own(caller, input.node);
    const v = await this.volume(caller, volumeId);
    return this.#attachments.attach({ kind: 'service', service: v.service }, volumeId, input);
  }

  /** Live attachments on this node (of every service). */
  attachmentsOf(caller: NodeIdentity, filter: { node?: string | undefined; volumeId?: string | undefined }): Promise<Attachment[]> {
    if (filter.node !== undefined) this.#own(caller, filter.node);
    return this.#attachments.list(ADMIN, { node: caller.node, volumeId: filter.volumeId });
  }

  async attachment(caller: NodeIdentity, id: string): Promise<Attachment> {
    const a = await findAttachment(this.#ctx.store.db, id);
    if (!a || a.node !== caller.node) throw new PollyError('ATTACHMENT_NOT_FOUND', `attachment ${id} not found`);
    return a;
  }

  /** Ends an attachment of this node (never forced: fencing is the admin's). */
  async detach(caller: NodeIdentity, id: string): Promise<void> {
    const a = await this.attachment(caller, id);
    await this.#attachments.detach({ kind: 'service', service: a.service }, id);
  }

  /** The pools, so the agent can build their node halves. */
  pools(_caller: NodeIdentity): ReturnType<PoolUseCases['list']> {
    return this.#pools.list(ADMIN);
  }
}
