import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as csi from '../../api/csi/proto.js';
import { PollyError } from '../../core/errors.js';
import type { AccessMode, DriverContext, NodeDriver, NodeHalf, PublishRequest, SelfFenceRequest, StageRequest, VolumeMode, VolumeStats } from '../../core/ports/driver.js';
import { fenceMountsEverywhere } from '../system/fence.js';
import { findMount } from '../system/mounts.js';
import { fsUsage } from '../system/statfs.js';
import { CsiPluginClient } from './csi-client.js';
import { parseCsiSettings, type CsiPoolSettings } from './csi-parameters.js';
import { assertBackendId, splitContexts, volumeCapability } from './csi-volumes.js';

type NodeRpc = 'STAGE_UNSTAGE_VOLUME' | 'GET_VOLUME_STATS' | 'EXPAND_VOLUME' | 'VOLUME_CONDITION' | 'SINGLE_NODE_MULTI_WRITER' | 'VOLUME_MOUNT_GROUP' | 'UNKNOWN';

/**
 * What this node staged through the plugin, kept on disk: NodePublish needs the publish and volume
 * contexts again (Polly's publish request does not carry them), and an agent restarting after a crash
 * finds here what it still holds (listNodeResources) and how to release it.
 */
interface StagedRecord {
  backendId: string;
  stagingPath: string;
  volumeMode: VolumeMode;
  fsType: string;
  accessMode: AccessMode;
  readOnly: boolean;
  publishContext: Record<string, string>;
  volumeContext: Record<string, string>;
  /** Targets published, with their read-only flag. */
  targets: Record<string, boolean>;
}

/**
 * The `csi` node half: NodeStage / NodePublish / NodeUnpublish / NodeUnstage / NodeExpand /
 * NodeGetVolumeStats on the plugin's node socket of this host, with the publish context the server's
 * ControllerPublish answered and the pool's node secrets of the stage call (never written to disk).
 */
export class CsiNodeDriver implements NodeDriver, NodeHalf {
  readonly #poolName: string;
  readonly #s: CsiPoolSettings;
  readonly #root: string;
  #client: CsiPluginClient | undefined;
  #rpcs: Set<NodeRpc> | undefined;

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#s = parseCsiSettings(ctx.poolName, ctx.parameters);
    this.#root = join(ctx.dataDir, 'csi', ctx.poolName, 'node');
  }

  get node(): NodeDriver {
    return this;
  }

  /** Prepares the state directory; the plugin is asked on first use (it may start after the agent). */
  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {
    this.#client?.close();
    this.#client = undefined;
  }

  #plugin(): CsiPluginClient {
    this.#client ??= new CsiPluginClient(this.#s.nodeEndpoint, `${this.#s.nodeEndpoint} (pool ${this.#poolName}, node)`, this.#s.policy);
    return this.#client;
  }

  async #has(rpc: NodeRpc): Promise<boolean> {
    if (this.#rpcs === undefined) {
      const res = await this.#plugin().call<{ capabilities: Array<{ rpc?: { type: NodeRpc } | null }> }>('Node', 'NodeGetCapabilities', {});
      this.#rpcs = new Set(res.capabilities.flatMap((c) => (c.rpc ? [c.rpc.type] : [])));
    }
    return this.#rpcs.has(rpc);
  }

  #file(backendId: string): string {
    return join(this.#root, `${createHash('sha256').update(backendId).digest('hex').slice(0, 32)}.json`);
  }

  async #read(backendId: string): Promise<StagedRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.#file(backendId), 'utf8')) as StagedRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #write(rec: StagedRecord): Promise<void> {
    const file = this.#file(rec.backendId);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  #secrets(req: { secrets?: Record<string, string> | undefined }): Record<string, string> {
    const raw = req.secrets?.nodeSecrets;
    if (raw === undefined) return {};
    return parseCsiSettings(this.#poolName, { endpoint: this.#s.endpoint, nodeSecrets: raw }).nodeSecrets;
  }

  #cap(rec: Pick<StagedRecord, 'volumeMode' | 'fsType' | 'accessMode'>, readOnly = false): csi.VolumeCapability {
    return volumeCapability({ volumeMode: rec.volumeMode, fsType: rec.fsType, accessMode: rec.accessMode, readOnly });
  }

  async stage(req: StageRequest): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    if (req.volumeMode === 'block' && !this.#s.block) throw new PollyError('UNSUPPORTED', `pool ${this.#poolName}: the CSI plugin is not declared to serve raw block volumes`);
    const ctx = splitContexts(req.publishContext);
    const rec: StagedRecord = {
      backendId: req.backendId,
      stagingPath: req.stagingPath,
      volumeMode: req.volumeMode,
      fsType: req.fsType ?? this.#s.fsType,
      accessMode: ctx.accessMode ?? this.#s.accessModes[0] ?? 'RWO',
      readOnly: req.readOnly === true,
      publishContext: ctx.publish,
      volumeContext: ctx.volume,
      targets: (await this.#read(req.backendId))?.targets ?? {},
    };
    // Recorded first: a crash during NodeStage leaves a record that release can undo.
    await this.#write(rec);
    if (!(await this.#has('STAGE_UNSTAGE_VOLUME'))) return;
    await mkdir(req.stagingPath, { recursive: true });
    await this.#plugin().call('Node', 'NodeStageVolume', {
      volume_id: req.backendId,
      publish_context: rec.publishContext,
      staging_target_path: req.stagingPath,
      volume_capability: this.#cap(rec),
      secrets: this.#secrets(req),
      volume_context: rec.volumeContext,
    });
  }

  async unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    const rec = await this.#read(req.backendId);
    if (rec && Object.keys(rec.targets).length > 0) {
      throw new PollyError('INVALID_STATE', `volume ${req.backendId} is still published at ${Object.keys(rec.targets).join(', ')}; unpublish it first`);
    }
    if (await this.#has('STAGE_UNSTAGE_VOLUME')) {
      await this.#plugin().call('Node', 'NodeUnstageVolume', { volume_id: req.backendId, staging_target_path: req.stagingPath });
    }
    await rm(this.#file(req.backendId), { force: true });
  }

  async publish(req: PublishRequest): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    const rec = await this.#read(req.backendId);
    if (!rec) throw new PollyError('INVALID_STATE', `volume ${req.backendId} is not staged on this node`);
    const known = rec.targets[req.targetPath];
    if (known !== undefined && known !== req.readOnly) {
      throw new PollyError('INVALID_STATE', `volume ${req.backendId} is already published at ${req.targetPath} ${known ? 'read-only' : 'read-write'}`);
    }
    await mkdir(dirname(req.targetPath), { recursive: true });
    const staged = await this.#has('STAGE_UNSTAGE_VOLUME');
    await this.#plugin().call(
      'Node',
      'NodePublishVolume',
      {
        volume_id: req.backendId,
        publish_context: rec.publishContext,
        staging_target_path: staged ? rec.stagingPath : '',
        target_path: req.targetPath,
        volume_capability: this.#cap(rec, req.readOnly),
        readonly: req.readOnly,
        secrets: {},
        volume_context: rec.volumeContext,
      },
      // The same target with other flags: a conflicting repeat.
      { 6: 'INVALID_STATE' },
    );
    rec.targets[req.targetPath] = req.readOnly;
    await this.#write(rec);
  }

  async unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    await this.#plugin().call('Node', 'NodeUnpublishVolume', { volume_id: req.backendId, target_path: req.targetPath }).catch(ignoreNotFound);
    const rec = await this.#read(req.backendId);
    if (rec && req.targetPath in rec.targets) {
      delete rec.targets[req.targetPath];
      await this.#write(rec);
    }
  }

  async stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    assertBackendId(this.#poolName, req.backendId);
    if (await this.#has('GET_VOLUME_STATS')) {
      const rec = await this.#read(req.backendId);
      const res = await this.#plugin().call<{ usage: Array<{ total: number; used: number; available: number; unit: 'BYTES' | 'INODES' | 'UNKNOWN' }> }>('Node', 'NodeGetVolumeStats', {
        volume_id: req.backendId,
        volume_path: req.path,
        staging_target_path: rec?.stagingPath ?? '',
      });
      const bytes = res.usage.find((u) => u.unit === 'BYTES');
      const inodes = res.usage.find((u) => u.unit === 'INODES');
      if (bytes) {
        return {
          totalBytes: bytes.total,
          usedBytes: bytes.used,
          availableBytes: bytes.available,
          ...(inodes ? { totalInodes: inodes.total, usedInodes: inodes.used } : {}),
        };
      }
    }
    const fs = await fsUsage(req.path);
    return { totalBytes: fs.totalBytes, usedBytes: fs.usedBytes, availableBytes: fs.freeBytes, totalInodes: fs.totalInodes, usedInodes: fs.usedInodes };
  }

  async expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    if (!(await this.#has('EXPAND_VOLUME'))) return;
    const rec = await this.#read(req.backendId);
    // volume_path: a published target where there is one (some plugins resize through it), else the staging path.
    const target = Object.keys(rec?.targets ?? {})[0];
    await this.#plugin().call('Node', 'NodeExpandVolume', {
      volume_id: req.backendId,
      volume_path: target ?? req.stagingPath,
      capacity_range: { required_bytes: req.sizeBytes, limit_bytes: 0 },
      staging_target_path: req.stagingPath,
      volume_capability: rec ? this.#cap(rec) : null,
      secrets: {},
    });
  }

  async listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    const out: Array<{ backendId: string; description: string }> = [];
    for (const name of await readdir(this.#root).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const rec = JSON.parse(await readFile(join(this.#root, name), 'utf8')) as StagedRecord;
      const targets = Object.keys(rec.targets);
      out.push({ backendId: rec.backendId, description: `CSI stage at ${rec.stagingPath}${targets.length > 0 ? `, published at ${targets.join(', ')}` : ''}` });
    }
    return out;
  }

  /** NodeUnpublish of every recorded target, then NodeUnstage (not an error when nothing is recorded). */
  async releaseNodeResources(backendId: string): Promise<void> {
    assertBackendId(this.#poolName, backendId);
    const rec = await this.#read(backendId);
    if (!rec) return;
    for (const target of Object.keys(rec.targets)) await this.unpublish({ backendId, volumeId: backendId, targetPath: target });
    await this.unstage({ backendId, volumeId: backendId, stagingPath: rec.stagingPath });
  }

  /**
   * A CSI plugin offers no read-only switch on its storage: every mount of what is staged or published
   * (same device and root), in every mount namespace, is detached; then the plugin is asked to unpublish and
   * unstage. `storageReadOnly` cannot be honoured beyond that.
   */
  async selfFence(req: SelfFenceRequest): Promise<void> {
    assertBackendId(this.#poolName, req.backendId);
    const staging = await findMount(req.stagingPath);
    const targets = await Promise.all(req.targetPaths.map((t) => findMount(t)));
    // Device and root together: subvolumes of one btrfs (or directories of one export) share a device.
    const held = new Set([staging, ...targets].flatMap((m) => (m ? [`${m.device} ${m.root}`] : [])));
    if (held.size > 0) await fenceMountsEverywhere((e) => held.has(`${e.device} ${e.root}`));
    await this.releaseNodeResources(req.backendId).catch(() => undefined);
  }
}

function ignoreNotFound(err: unknown): void {
  if (err instanceof PollyError && err.code === 'NOT_FOUND') return;
  throw err;
}
