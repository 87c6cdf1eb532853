import { PollyError } from '../../core/errors.js';
import type { DriverContext, NodeDriver, NodeHalf, PublishRequest, SelfFenceRequest, StageRequest, VolumeStats } from '../../core/ports/driver.js';
import { RbdNodeDriver } from '../rbd/rbd-node.js';
import { CINDER_CONTEXT, SUPPORTED_TRANSPORTS } from './connection-info.js';

/**
 * The cinder node half: stages what the attachment's connection info names. RBD goes to the rbd node
 * half (krbd where the kernel has it, else rbd-fuse + a loop device), which also serves every other call
 * (it finds its mappings by backend id); any other `driver_volume_type` is refused with UNSUPPORTED
 * naming it, before anything is touched on the node.
 */
export class CinderNodeDriver implements NodeDriver, NodeHalf {
  readonly #poolName: string;
  readonly #rbd: RbdNodeDriver;

  constructor(ctx: DriverContext) {
    this.#poolName = ctx.poolName;
    this.#rbd = new RbdNodeDriver(ctx);
  }

  get node(): NodeDriver {
    return this;
  }

  init(): Promise<void> {
    return this.#rbd.init();
  }

  close(): Promise<void> {
    return this.#rbd.close();
  }

  async stage(req: StageRequest): Promise<void> {
    const type = req.publishContext?.[CINDER_CONTEXT.driverVolumeType];
    if (type === undefined) {
      throw new PollyError('VALIDATION_FAILED', `volume ${req.backendId}: the publish context has no ${CINDER_CONTEXT.driverVolumeType} (attach the volume to this node through the server first)`);
    }
    if (!(SUPPORTED_TRANSPORTS as readonly string[]).includes(type)) {
      throw new PollyError(
        'UNSUPPORTED',
        `pool ${this.#poolName}: Cinder attaches volume ${req.backendId} over driver_volume_type "${type}", which Polly's nodes cannot map (supported: ${SUPPORTED_TRANSPORTS.join(', ')})`,
        { driverVolumeType: type },
      );
    }
    await this.#rbd.stage(req);
  }

  unstage(req: { backendId: string; volumeId: string; stagingPath: string }): Promise<void> {
    return this.#rbd.unstage(req);
  }

  publish(req: PublishRequest): Promise<void> {
    return this.#rbd.publish(req);
  }

  unpublish(req: { backendId: string; volumeId: string; targetPath: string }): Promise<void> {
    return this.#rbd.unpublish(req);
  }

  stats(req: { backendId: string; path: string }): Promise<VolumeStats> {
    return this.#rbd.stats(req);
  }

  expand(req: { backendId: string; stagingPath: string; sizeBytes: number }): Promise<void> {
    return this.#rbd.expand(req);
  }

  listNodeResources(): Promise<Array<{ backendId: string; description: string }>> {
    return this.#rbd.listNodeResources();
  }

  releaseNodeResources(backendId: string): Promise<void> {
    return this.#rbd.releaseNodeResources(backendId);
  }

  selfFence(req: SelfFenceRequest): Promise<void> {
    return this.#rbd.selfFence(req);
  }
}
