import { Type } from 'typebox';
import { PollyError } from '../../core/errors.js';
import type {
  BackendCapacity,
  BackendObject,
  ControllerAttachRequest,
  CreatedSnapshot,
  CreatedVolume,
  CreateVolumeRequest,
  DriverCapabilities,
  DriverContext,
  NodeConnector,
  PublishContext,
  StorageDriver,
  StorageFence,
} from '../../core/ports/driver.js';
import { assertObjectId, assertSizeBytes } from '../system/object-ids.js';
import { poolParameterSchema, wholeNumberParameter } from '../system/pool-parameters.js';
import { type FakeMethod, FaultInjector, type FaultOptions } from './fake-faults.js';
import { FakeNodeDriver } from './fake-node.js';
import { type FakeObject, FakeState, usedBytes } from './fake-state.js';

export type { FakeMethod, FaultOptions } from './fake-faults.js';
export { FakeNodeDriver } from './fake-node.js';

const TiB = 1024 ** 4;

/** Capabilities a pool can switch off with the `disable` parameter, to test how the rest of Polly refuses. */
const DISABLEABLE = ['snapshots', 'clones', 'restore', 'block', 'expand', 'qos'] as const;
type Disableable = (typeof DISABLEABLE)[number];

/** The live fake drivers by pool name: tests reach the driver a server built with {@link fakeDriverFor}. */
/** Pool parameters of `fake` (see {@link FakeDriver}). */
export const FAKE_PARAMETERS = poolParameterSchema({
  capacityBytes: wholeNumberParameter('the pool size in bytes, a whole number'),
  latencyMs: wholeNumberParameter('milliseconds added to every call, a whole number'),
  disable: Type.String({ pattern: `^\\s*((${DISABLEABLE.join('|')})\\s*(,\\s*|$))*$`, description: `comma-separated capabilities to switch off: ${DISABLEABLE.join(', ')}` }),
  storageFence: Type.String({ pattern: '^(true|false)$', description: '"true" gives the pool a storage-side fence (recorded, for failover tests)' }),
  attach: Type.String({ pattern: '^(true|false)$', description: '"true" makes the pool networked-like: a controller attach answers a publish context' }),
});

const LIVE = new Map<string, FakeDriver>();

/**
 * The fake driver serving `poolName` (the most recently created one that is not closed), or undefined.
 * Lets a test that starts a whole server inject faults into one pool:
 *
 * ```ts
 * fakeDriverFor('mem')!.failNext('create', new PollyError('BACKEND_FAILED', 'disk on fire'));
 * ```
 */
export function fakeDriverFor(poolName: string): FakeDriver | undefined {
  return LIVE.get(poolName);
}

/**
 * `fake`: an in-memory driver for tests and benchmarks. Nothing touches the host.
 *
 * Pool parameters:
 * - `capacityBytes` (default 1 TiB): the pool's size. A volume larger than what is free is refused
 *   (`NO_CAPACITY`); data written through {@link FakeNodeDriver.writeFile} uses it up.
 * - `latencyMs` (default 0): added to every call. At 0 no timer is involved, so thousands of calls per
 *   second cost next to nothing.
 * - `disable`: comma-separated capabilities to switch off (`snapshots,clones,restore,block,expand,qos`);
 *   the driver then refuses those calls with `UNSUPPORTED`, like a backend that cannot.
 *
 * Fault injection: {@link FakeDriver.failNext} queues failures per method (node calls are named
 * `node.stage`, …), optionally after the work is done (a lost reply); {@link FakeDriver.calls} counts
 * calls; {@link FakeDriver.clearFaults} and {@link FakeDriver.setLatency} change behaviour mid-test.
 */
export class FakeDriver implements StorageDriver {
  readonly driverName = 'fake';
  readonly capabilities: DriverCapabilities;
  readonly node: FakeNodeDriver;
  readonly poolName: string;
  readonly #state: FakeState;
  readonly #faults: FaultInjector;

  constructor(ctx: DriverContext) {
    this.poolName = ctx.poolName;
    const capacityBytes = numberParam(ctx, 'capacityBytes', TiB, 1);
    const latencyMs = numberParam(ctx, 'latencyMs', 0, 0);
    const disabled = disabledParam(ctx);
    this.capabilities = {
      snapshots: !disabled.has('snapshots'),
      clones: !disabled.has('clones'),
      restore: !disabled.has('restore'),
      expand: disabled.has('expand') ? 'none' : 'online',
      block: !disabled.has('block'),
      fsTypes: ['ext4', 'xfs'],
      accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
      qos: !disabled.has('qos'),
      sizeEnforced: true,
    };
    this.#state = new FakeState(capacityBytes);
    this.#faults = new FaultInjector(latencyMs);
    this.node = new FakeNodeDriver({ poolName: ctx.poolName, state: this.#state, faults: this.#faults, block: this.capabilities.block });
    if (ctx.parameters.storageFence === 'true') {
      this.storageFence = { fenceNode: (req) => this.#faults.around('storageFence', () => void this.#storageFenced.push(req)) };
    }
    if (ctx.parameters.attach === 'true') {
      this.attach = (req) => this.#faults.around('attach', () => ({ 'fake.volume': req.backendId, 'fake.node': req.node.node }));
      this.detach = (req) => this.#faults.around('detach', () => void req);
    }
    LIVE.set(ctx.poolName, this);
  }

  /** A controller attach, when the pool parameter `attach: "true"` asks for it: answers a publish context naming the volume and node. */
  readonly attach: ((req: ControllerAttachRequest) => Promise<PublishContext>) | undefined;
  readonly detach: ((req: { backendId: string; volumeId: string; node: NodeConnector }) => Promise<void>) | undefined;

  /** The next call of `method` waits until `until` settles (a slow backend the test releases). */
  holdNext(method: FakeMethod, until: Promise<unknown>): void {
    this.#faults.holdNext(method, until);
  }

  /** Storage-side fencing, when the pool parameter `storageFence: "true"` asks for it (records each fence). */
  readonly storageFence: StorageFence | undefined;
  readonly #storageFenced: Array<{ backendId: string; node: string }> = [];

  /** The storage fences done so far (for assertions). */
  storageFences(): Array<{ backendId: string; node: string }> {
    return [...this.#storageFenced];
  }

  /**
   * Makes the next `opts.times` (default 1) calls of `method` fail with `error` (default a
   * `BACKEND_FAILED` PollyError). With `phase: 'after'` the call does its work before failing.
   */
  failNext(method: FakeMethod, error?: Error, opts: FaultOptions = {}): void {
    this.#faults.failNext(method, error, opts);
  }

  /** Drops every queued failure. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /** How many times `method` was called (including calls that failed). */
  calls(method: FakeMethod): number {
    return this.#faults.calls(method);
  }

  setLatency(latencyMs: number): void {
    this.#faults.latencyMs = latencyMs;
  }

  /**
   * Puts an object on the "backend" without any call, as a crash or an operator would leave it: it shows in
   * `list()` and can be imported or deleted like any other.
   */
  addBackendObject(obj: BackendObject): void {
    const map = obj.kind === 'volume' ? this.#state.volumes : this.#state.snapshots;
    map.set(obj.backendId, { sizeBytes: obj.sizeBytes, volumeMode: 'filesystem', files: new Map() });
  }

  init(): Promise<void> {
    return this.#faults.around('init', () => undefined);
  }

  capacity(): Promise<BackendCapacity> {
    return this.#faults.around('capacity', () => ({ totalBytes: this.#state.capacityBytes, freeBytes: this.#state.freeBytes }));
  }

  create(req: CreateVolumeRequest): Promise<CreatedVolume> {
    return this.#faults.around('create', () => {
      assertObjectId(this.poolName, 'volume', req.volumeId);
      assertSizeBytes(this.poolName, req.sizeBytes);
      const existing = this.#state.volumes.get(req.volumeId);
      if (existing) {
        existing.sizeBytes = Math.max(existing.sizeBytes, req.sizeBytes);
        return { backendId: req.volumeId, sizeBytes: existing.sizeBytes };
      }
      if (req.volumeMode === 'block' && !this.capabilities.block) this.#unsupported('has no block volumes');
      let source: FakeObject | undefined;
      if (req.source) {
        if (req.source.kind === 'snapshot' && !this.capabilities.restore) this.#unsupported('cannot restore snapshots');
        if (req.source.kind === 'volume' && !this.capabilities.clones) this.#unsupported('cannot clone volumes');
        source = (req.source.kind === 'snapshot' ? this.#state.snapshots : this.#state.volumes).get(req.source.backendId);
        if (!source) throw new PollyError('NOT_FOUND', `pool ${this.poolName}: ${req.source.kind} ${req.source.backendId} does not exist`);
        if (req.sizeBytes < source.sizeBytes) {
          throw new PollyError('VALIDATION_FAILED', `pool ${this.poolName}: volume ${req.volumeId} (${req.sizeBytes} bytes) is smaller than its source (${source.sizeBytes} bytes)`);
        }
        if (usedBytes(source) > this.#state.freeBytes) throw new PollyError('NO_CAPACITY', `pool ${this.poolName}: no room to copy ${req.source.kind} ${req.source.backendId}`);
      }
      if (req.sizeBytes > this.#state.freeBytes) {
        throw new PollyError('NO_CAPACITY', `pool ${this.poolName}: ${req.sizeBytes} bytes requested, ${this.#state.freeBytes} free`);
      }
      const files = source ? this.#state.copyFiles(source) : new Map<string, Buffer>();
      this.#state.volumes.set(req.volumeId, { sizeBytes: req.sizeBytes, volumeMode: req.volumeMode, files });
      return { backendId: req.volumeId, sizeBytes: req.sizeBytes };
    });
  }

  delete(backendId: string): Promise<void> {
    return this.#faults.around('delete', () => this.#state.drop(this.#state.volumes, backendId));
  }

  expand(backendId: string, sizeBytes: number): Promise<{ sizeBytes: number }> {
    return this.#faults.around('expand', () => {
      if (this.capabilities.expand === 'none') this.#unsupported('cannot expand volumes');
      assertSizeBytes(this.poolName, sizeBytes);
      const vol = this.#volume(backendId);
      vol.sizeBytes = Math.max(vol.sizeBytes, sizeBytes);
      return { sizeBytes: vol.sizeBytes };
    });
  }

  snapshot(volumeBackendId: string, snapshotId: string): Promise<CreatedSnapshot> {
    return this.#faults.around('snapshot', () => {
      if (!this.capabilities.snapshots) this.#unsupported('cannot take snapshots');
      assertObjectId(this.poolName, 'snapshot', snapshotId);
      const existing = this.#state.snapshots.get(snapshotId);
      if (existing) return { backendId: snapshotId, sizeBytes: existing.sizeBytes };
      const vol = this.#volume(volumeBackendId);
      if (usedBytes(vol) > this.#state.freeBytes) throw new PollyError('NO_CAPACITY', `pool ${this.poolName}: no room for snapshot ${snapshotId}`);
      this.#state.snapshots.set(snapshotId, { sizeBytes: vol.sizeBytes, volumeMode: vol.volumeMode, files: this.#state.copyFiles(vol) });
      return { backendId: snapshotId, sizeBytes: vol.sizeBytes };
    });
  }

  deleteSnapshot(backendId: string): Promise<void> {
    return this.#faults.around('deleteSnapshot', () => this.#state.drop(this.#state.snapshots, backendId));
  }

  usage(backendId: string): Promise<number | undefined> {
    return this.#faults.around('usage', () => usedBytes(this.#volume(backendId)));
  }

  list(): Promise<BackendObject[]> {
    return this.#faults.around('list', () => {
      const out: BackendObject[] = [];
      for (const [kind, map] of [['volume', this.#state.volumes], ['snapshot', this.#state.snapshots]] as const) {
        for (const [backendId, obj] of map) out.push({ backendId, kind, sizeBytes: obj.sizeBytes, usedBytes: usedBytes(obj) });
      }
      return out;
    });
  }

  async close(): Promise<void> {
    if (LIVE.get(this.poolName) === this) LIVE.delete(this.poolName);
  }

  #volume(backendId: string): FakeObject {
    const vol = this.#state.volumes.get(backendId);
    if (!vol) throw new PollyError('NOT_FOUND', `pool ${this.poolName}: volume ${backendId} does not exist`);
    return vol;
  }

  #unsupported(what: string): never {
    throw new PollyError('UNSUPPORTED', `pool ${this.poolName} (driver fake) ${what}`);
  }
}

function numberParam(ctx: DriverContext, name: string, fallback: number, min: number): number {
  const raw = ctx.parameters[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new PollyError('VALIDATION_FAILED', `pool ${ctx.poolName}: parameter ${name} must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

function disabledParam(ctx: DriverContext): Set<Disableable> {
  const raw = ctx.parameters.disable ?? '';
  const out = new Set<Disableable>();
  for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(DISABLEABLE as readonly string[]).includes(item)) {
      throw new PollyError('VALIDATION_FAILED', `pool ${ctx.poolName}: parameter disable: unknown capability "${item}" (known: ${DISABLEABLE.join(', ')})`);
    }
    out.add(item as Disableable);
  }
  return out;
}
