import type { AppContext } from './context.js';
import { IdempotencyUseCases } from './idempotency.js';
import { PoolUseCases } from './pools.js';
import { Reconciler } from './reconciler.js';
import { ServiceUseCases } from './services.js';
import { SnapshotUseCases } from './snapshots.js';
import { VolumeUseCases } from './volumes.js';

/** Every use case, wired once. Frontends hold this and nothing below it. */
export class PollyApp {
  readonly ctx: AppContext;
  readonly services: ServiceUseCases;
  readonly pools: PoolUseCases;
  readonly volumes: VolumeUseCases;
  readonly snapshots: SnapshotUseCases;
  readonly idempotency: IdempotencyUseCases;
  readonly reconciler: Reconciler;

  constructor(ctx: AppContext) {
    this.ctx = ctx;
    this.services = new ServiceUseCases(ctx);
    this.pools = new PoolUseCases(ctx);
    this.volumes = new VolumeUseCases(ctx, this.pools);
    this.snapshots = new SnapshotUseCases(ctx, this.pools, this.volumes);
    this.idempotency = new IdempotencyUseCases(ctx);
    this.reconciler = new Reconciler(ctx, this.volumes, this.snapshots);
  }

  get events() {
    return this.ctx.events;
  }
}
