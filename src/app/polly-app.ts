import { AttachmentUseCases } from './attachments.js';
import { NodeFencingUseCases } from './node-fencing.js';
import { BrokerUseCases } from './broker.js';
import { NodeAccessUseCases } from './node-access.js';
import type { AppContext } from './context.js';
import { GroupSnapshotUseCases } from './group-snapshots.js';
import { IdempotencyUseCases } from './idempotency.js';
import { OfferUseCases } from './offers.js';
import { Placement } from './placement.js';
import { PoolAdminUseCases } from './pool-admin.js';
import { ProfileUseCases } from './profiles.js';
import { PoolUseCases } from './pools.js';
import { QuotaUseCases } from './quotas.js';
import { Admission } from './admission.js';
import { Reconciler } from './reconciler.js';
import { ServiceUseCases } from './services.js';
import { SnapshotUseCases } from './snapshots.js';
import { VolumeOwnershipUseCases } from './volume-ownership.js';
import { VolumeProfileUseCases } from './volume-profile.js';
import { VolumeRecovery } from './volume-recovery.js';
import { VolumeUseCases } from './volumes.js';

/** Every use case, wired once. Frontends hold this and nothing below it. */
export class PollyApp {
  readonly ctx: AppContext;
  readonly services: ServiceUseCases;
  readonly pools: PoolUseCases;
  readonly volumes: VolumeUseCases;
  readonly volumeRecovery: VolumeRecovery;
  readonly quotas: QuotaUseCases;
  /** The one quota + capacity admission step (create, expand, restore/clone, offers, import). */
  readonly admission: Admission;
  readonly offers: OfferUseCases;
  readonly profiles: ProfileUseCases;
  readonly poolAdmin: PoolAdminUseCases;
  readonly ownership: VolumeOwnershipUseCases;
  readonly volumeProfiles: VolumeProfileUseCases;
  readonly placement: Placement;
  readonly snapshots: SnapshotUseCases;
  readonly groupSnapshots: GroupSnapshotUseCases;
  readonly idempotency: IdempotencyUseCases;
  readonly reconciler: Reconciler;
  readonly attachments: AttachmentUseCases;
  readonly broker: BrokerUseCases;
  readonly nodeAccess: NodeAccessUseCases;
  readonly nodeFencing: NodeFencingUseCases;

  constructor(ctx: AppContext) {
    this.ctx = ctx;
    this.services = new ServiceUseCases(ctx);
    this.pools = new PoolUseCases(ctx);
    this.quotas = new QuotaUseCases(ctx);
    this.placement = new Placement(ctx.store.db, this.pools);
    this.admission = new Admission(ctx.store, this.quotas);
    this.volumes = new VolumeUseCases(ctx, this.pools, this.placement, this.admission);
    this.offers = new OfferUseCases(ctx, this.placement, this.quotas, this.admission);
    this.profiles = new ProfileUseCases(ctx);
    this.poolAdmin = new PoolAdminUseCases(ctx, this.pools);
    this.ownership = new VolumeOwnershipUseCases(ctx, this.volumes, this.pools, this.admission);
    this.volumeProfiles = new VolumeProfileUseCases(ctx, this.volumes, this.pools, this.admission);
    this.snapshots = new SnapshotUseCases(ctx, this.pools, this.volumes, this.admission);
    this.groupSnapshots = new GroupSnapshotUseCases(ctx, this.pools, this.volumes, this.admission);
    this.volumeRecovery = new VolumeRecovery(ctx, this.volumes);
    this.idempotency = new IdempotencyUseCases(ctx, this.volumeRecovery);
    this.reconciler = new Reconciler(ctx, this.volumeRecovery, this.snapshots, this.groupSnapshots);
    this.attachments = new AttachmentUseCases(ctx, this.volumes, this.pools);
    this.broker = new BrokerUseCases(ctx, this.volumes, this.pools, this.profiles, this.volumeProfiles);
    this.nodeFencing = new NodeFencingUseCases(ctx);
    this.nodeAccess = new NodeAccessUseCases(ctx, this.attachments, this.pools, this.nodeFencing);
  }

  get events() {
    return this.ctx.events;
  }
}
