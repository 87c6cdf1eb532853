import { createHash } from 'node:crypto';
import { isPollyError, PollyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Identity, Profile } from '../core/types.js';
import {
  countBindingsOfInstance,
  deleteBinding,
  findBinding,
  findInstance,
  insertBinding,
  listInstancesInProgress,
  saveInstance,
  updateInstance,
  type OperationKind,
  type OsbBinding,
  type OsbInstance,
} from '../store/repos/osb.js';
import { findPool } from '../store/repos/pools.js';
import { findVolume, findVolumeByName } from '../store/repos/volumes.js';
import { isUniqueViolation, nowIso, type Executor } from '../store/store.js';
import type { AppContext } from './context.js';
import type { PoolUseCases } from './pools.js';
import type { ProfileUseCases } from './profiles.js';
import { misfitReason, type VolumeProfileUseCases } from './volume-profile.js';
import type { VolumeUseCases } from './volumes.js';
import { volumeRef } from '../core/volume-ref.js';

export type { OsbBinding, OsbInstance } from '../store/repos/osb.js';

/** Who calls the broker: the Polly service its basic-auth credential maps to, and the platform's user. */
export interface BrokerCaller {
  service: string;
  /** `X-Broker-API-Originating-Identity`, decoded: recorded with every event the request causes. */
  originatingIdentity?: { platform: string; value: Record<string, unknown> } | undefined;
}

export interface ProvisionInput {
  serviceId: string;
  planId: string;
  sizeBytes: number | undefined;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  acceptsIncomplete: boolean;
}

export interface UpdateInput {
  serviceId: string;
  planId: string | undefined;
  sizeBytes: number | undefined;
  parameters: Record<string, unknown> | undefined;
  acceptsIncomplete: boolean;
}

export interface BindInput {
  serviceId: string;
  planId: string;
  appGuid: string | undefined;
  /** Where the app sees the volume (`mount`), and `readonly`. */
  containerDir: string | undefined;
  readOnly: boolean;
  parameters: Record<string, unknown>;
}

/** A provision, update or deprovision answer: done already (200/201) or running as `operation` (202). */
export type OperationAnswer = { kind: 'done'; created: boolean } | { kind: 'accepted'; operation: string };

export interface VolumeMount {
  driver: string;
  container_dir: string;
  mode: 'r' | 'rw';
  device_type: 'shared';
  device: { volume_id: string; mount_config: Record<string, unknown> };
}

/** Where CF puts a volume in the container when the bind names no `mount` (as CF's own brokers do). */
export const DEFAULT_CONTAINER_ROOT = '/var/vcap/data';

/** A stable UUID-shaped id for a name (plan ids must be globally unique and never change). */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(`polly:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A plan's id: per Polly service too, because Cloud Foundry wants service and plan ids unique across
 * every broker it knows, and each space-scoped registration of this broker is one more broker to it.
 */
export function planIdOf(service: string, profile: string): string {
  return stableUuid(`plan:${service}:${profile}`);
}

const STALE_OPERATION_MS = 30_000;
const DONE: Record<OperationKind, string> = { provision: 'provisioned', update: 'updated', deprovision: 'deprovisioned' };

/**
 * Open Service Broker use cases: service instances are volumes of the caller's service, named after the
 * instance id (so a provision interrupted by a crash finds its volume again), bindings hand out
 * `volume_mounts` that a cell's agent mounts with its node credential. Provision, update and deprovision
 * run asynchronously; each writes its operation before touching the volume and finishes it after, and a
 * poll of an operation nobody drives any more (a restart) drives it again. Instances of other services
 * are reported as not found.
 */
export class BrokerUseCases {
  readonly #ctx: AppContext;
  readonly #volumes: VolumeUseCases;
  readonly #pools: PoolUseCases;
  readonly #profiles: ProfileUseCases;
  readonly #volumeProfiles: VolumeProfileUseCases;
  readonly #running = new Map<string, Promise<void>>();
  /** The CF volume driver name cells know the agent's plugin by. */
  driverName = 'polly';

  constructor(ctx: AppContext, volumes: VolumeUseCases, pools: PoolUseCases, profiles: ProfileUseCases, volumeProfiles: VolumeProfileUseCases) {
    this.#ctx = ctx;
    this.#volumes = volumes;
    this.#pools = pools;
    this.#profiles = profiles;
    this.#volumeProfiles = volumeProfiles;
  }

  #identity(caller: BrokerCaller): Identity {
    return { kind: 'service', service: caller.service };
  }

  /** The plans of the caller: every profile its service may use. */
  plans(caller: BrokerCaller): Promise<Profile[]> {
    return this.#profiles.list(this.#identity(caller));
  }

  async #profileOfPlan(caller: BrokerCaller, planId: string): Promise<Profile> {
    const profile = (await this.plans(caller)).find((p) => planIdOf(caller.service, p.name) === planId);
    if (!profile) throw new PollyError('VALIDATION_FAILED', `plan_id ${planId} is not a plan of this broker`);
    return profile;
  }

  async #instance(ex: Executor, caller: BrokerCaller, id: string): Promise<OsbInstance | undefined> {
    const inst = await findInstance(ex, id);
    return inst && inst.service === caller.service && inst.state !== 'deleted' ? inst : undefined;
  }

  async #record(ex: Executor, caller: BrokerCaller, type: string, objectId: string, data: Record<string, unknown>, at: string): Promise<void> {
    await this.#ctx.events.record(
      ex,
      { type, service: caller.service, objectId, data: { ...data, ...(caller.originatingIdentity ? { originatingIdentity: caller.originatingIdentity } : {}) } },
      at,
    );
  }

  /** Provisions an instance (asynchronously), per the spec's idempotency rules. */
  async provision(caller: BrokerCaller, id: string, input: ProvisionInput): Promise<OperationAnswer> {
    const profile = await this.#profileOfPlan(caller, input.planId);
    const sizeBytes = input.sizeBytes ?? Math.max(profile.minBytes, Math.min(2 ** 30, profile.maxBytes));
    if (sizeBytes < profile.minBytes || sizeBytes > profile.maxBytes) {
      throw new PollyError('VALIDATION_FAILED', `plan ${profile.name} allows sizes from ${profile.minBytes} to ${profile.maxBytes} bytes`);
    }
    const answer = await this.#ctx.store.transaction(async (trx): Promise<OperationAnswer | { start: OsbInstance }> => {
      const existing = await findInstance(trx, id);
      if (existing && existing.state !== 'deleted') {
        const same =
          existing.service === caller.service &&
          existing.serviceId === input.serviceId &&
          existing.planId === input.planId &&
          canonical(existing.parameters) === canonical(input.parameters);
        if (!same) throw new PollyError('INSTANCE_EXISTS', `service instance ${id} already exists with different attributes`);
        if (existing.state === 'provisioning' && existing.operation) return { kind: 'accepted', operation: existing.operation };
        if (existing.state !== 'failed') return { kind: 'done', created: false };
      }
      if (!input.acceptsIncomplete) throw new PollyError('ASYNC_REQUIRED', 'This service plan requires client support for asynchronous service operations.');
      const at = nowIso();
      const inst: OsbInstance = {
        id,
        service: caller.service,
        serviceId: input.serviceId,
        planId: input.planId,
        profile: profile.name,
        sizeBytes,
        volumeName: `osb-${id}`.slice(0, 128),
        volumeId: null,
        state: 'provisioning',
        operation: operationId('provision'),
        operationKind: 'provision',
        operationState: 'in progress',
        operationDescription: `provisioning a ${profile.name} volume of ${sizeBytes} bytes`,
        parameters: input.parameters,
        context: input.context,
        createdAt: existing?.createdAt ?? at,
        updatedAt: at,
      };
      await saveInstance(trx, inst);
      await this.#record(trx, caller, 'osb.instance.provisioning', id, { plan: profile.name, sizeBytes, operation: inst.operation, context: input.context }, at);
      return { start: inst };
    }).catch((err: unknown) => {
      if (isUniqueViolation(err)) throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} is being provisioned by another request`);
      throw err;
    });
    this.#ctx.events.notify();
    if ('start' in answer) {
      this.#drive(answer.start);
      return { kind: 'accepted', operation: answer.start.operation ?? '' };
    }
    return answer;
  }

  /** The instance as the platform may fetch it (not while it is provisioned or updated, as the spec says). */
  async get(caller: BrokerCaller, id: string): Promise<OsbInstance> {
    const inst = await this.#instance(this.#ctx.store.db, caller, id);
    if (!inst || inst.state === 'provisioning' || (inst.state === 'failed' && inst.operationKind === 'provision')) {
      throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${id} not found${inst ? ' (provisioning is not finished)' : ''}`);
    }
    if (inst.state === 'updating' || inst.state === 'deprovisioning') {
      throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} is being ${inst.state === 'updating' ? 'updated' : 'deprovisioned'}`);
    }
    return inst;
  }

  /** The state of an instance's last operation; drives it again when nobody has for a while. */
  async lastOperation(caller: BrokerCaller, id: string, operation: string | undefined): Promise<{ state: 'in progress' | 'succeeded' | 'failed'; description: string; gone: boolean }> {
    const inst = await findInstance(this.#ctx.store.db, id);
    if (!inst || inst.service !== caller.service) throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${id} not found`);
    if (operation !== undefined && operation !== inst.operation) {
      throw new PollyError('VALIDATION_FAILED', `operation ${operation} is not the last operation of service instance ${id}`);
    }
    if (inst.operationState === 'in progress' && !this.#running.has(id) && Date.now() - Date.parse(inst.updatedAt) > STALE_OPERATION_MS) this.#drive(inst);
    return { state: inst.operationState ?? 'succeeded', description: inst.operationDescription ?? '', gone: inst.state === 'deleted' };
  }

  /** Resizes and/or changes the plan of an instance (asynchronously). */
  async update(caller: BrokerCaller, id: string, input: UpdateInput): Promise<OperationAnswer> {
    const inst = await this.#instance(this.#ctx.store.db, caller, id);
    if (!inst) throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${id} not found`);
    if (input.serviceId !== inst.serviceId) throw new PollyError('VALIDATION_FAILED', `service_id ${input.serviceId} is not the service of instance ${id}`);
    const planId = input.planId ?? inst.planId;
    const profile = await this.#profileOfPlan(caller, planId);
    const sizeBytes = input.sizeBytes ?? inst.sizeBytes;
    const parameters = input.parameters ?? inst.parameters;
    if (inst.state === 'updating' && inst.operation) {
      if (planId === inst.planId && sizeBytes === inst.sizeBytes) return { kind: 'accepted', operation: inst.operation };
      throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} is being updated`);
    }
    if (inst.state !== 'ready') throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} is ${inst.state}`);
    if (planId === inst.planId && sizeBytes === inst.sizeBytes) return { kind: 'done', created: false };
    if (sizeBytes < inst.sizeBytes) throw new PollyError('UNSUPPORTED', `volumes cannot shrink (${inst.sizeBytes} → ${sizeBytes} bytes)`);
    if (sizeBytes > profile.maxBytes) throw new PollyError('UNSUPPORTED', `plan ${profile.name} allows at most ${profile.maxBytes} bytes`);
    const volume = inst.volumeId ? await findVolume(this.#ctx.store.db, inst.volumeId) : undefined;
    if (!volume) throw new PollyError('INVALID_STATE', `service instance ${id} has no volume`);
    if (sizeBytes > inst.sizeBytes) {
      const driver = await this.#pools.driver(volume.pool);
      if (driver.capabilities.expand === 'none') throw new PollyError('UNSUPPORTED', `pool ${volume.pool} (driver ${driver.driverName}) cannot grow volumes`);
      if (driver.capabilities.expand === 'offline' && volume.status !== 'available') {
        throw new PollyError('UNSUPPORTED', `pool ${volume.pool} grows only unmounted volumes; volume ${volume.id} is ${volume.status}`);
      }
    }
    if (profile.name !== inst.profile) {
      // Checked now so the platform hears "not possible" at once (422), not as a failed operation later;
      // the change itself checks again, in its transaction.
      const current = await this.#pools.profileFor(this.#identity(caller), caller.service, inst.profile);
      const pool = await findPool(this.#ctx.store.db, volume.pool);
      const driver = await this.#pools.driver(volume.pool);
      const why = pool
        ? misfitReason({ sizeBytes, volumeMode: current.volumeMode, fsType: current.fsType }, pool, profile, { qos: driver.capabilities.qos, fsTypes: driver.capabilities.fsTypes })
        : `pool ${volume.pool} not found`;
      if (why !== undefined) throw new PollyError('UNSUPPORTED', `plan change to ${profile.name} is not possible in place: ${why}`);
    }
    if (!input.acceptsIncomplete) throw new PollyError('ASYNC_REQUIRED', 'This service plan requires client support for asynchronous service operations.');
    const operation = operationId('update');
    const at = nowIso();
    const started = await this.#ctx.store.transaction(async (trx) => {
      const next: OsbInstance = {
        ...inst,
        state: 'updating',
        operation,
        operationKind: 'update',
        operationState: 'in progress',
        operationDescription: `updating to plan ${profile.name}, ${sizeBytes} bytes`,
        updatedAt: at,
        // The target is kept beside the current values until the update succeeds.
        parameters: { ...parameters, '@target': { profile: profile.name, planId, sizeBytes } },
      };
      if (!(await updateInstance(trx, id, inst.operation, { state: 'updating' }, at))) return undefined;
      await saveInstance(trx, next);
      await this.#record(trx, caller, 'osb.instance.updating', id, { plan: profile.name, sizeBytes, operation }, at);
      return next;
    });
    if (!started) throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} changed meanwhile; retry`);
    this.#ctx.events.notify();
    this.#drive(started);
    return { kind: 'accepted', operation };
  }

  /** Deprovisions an instance (asynchronously): its volume is deleted. */
  async deprovision(caller: BrokerCaller, id: string, input: { serviceId: string; planId: string; acceptsIncomplete: boolean }): Promise<OperationAnswer> {
    const inst = await this.#instance(this.#ctx.store.db, caller, id);
    if (!inst) throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${id} not found`);
    if (input.serviceId !== inst.serviceId || input.planId !== inst.planId) {
      throw new PollyError('VALIDATION_FAILED', `service_id/plan_id do not match service instance ${id}`);
    }
    if (inst.state === 'deprovisioning' && inst.operation) return { kind: 'accepted', operation: inst.operation };
    if (inst.state === 'provisioning' || inst.state === 'updating') throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} is ${inst.state}`);
    const bindings = await countBindingsOfInstance(this.#ctx.store.db, id);
    if (bindings > 0) throw new PollyError('VOLUME_BUSY', `service instance ${id} still has ${bindings} binding(s); unbind first`);
    if (!input.acceptsIncomplete) throw new PollyError('ASYNC_REQUIRED', 'This service plan requires client support for asynchronous service operations.');
    const operation = operationId('deprovision');
    const at = nowIso();
    const next: OsbInstance = { ...inst, state: 'deprovisioning', operation, operationKind: 'deprovision', operationState: 'in progress', operationDescription: 'deleting the volume', updatedAt: at };
    const ok = await this.#ctx.store.transaction(async (trx) => {
      if (!(await updateInstance(trx, id, inst.operation, { state: 'deprovisioning' }, at))) return false;
      await saveInstance(trx, next);
      await this.#record(trx, caller, 'osb.instance.deprovisioning', id, { operation, volumeId: inst.volumeId }, at);
      return true;
    });
    if (!ok) throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${id} changed meanwhile; retry`);
    this.#ctx.events.notify();
    this.#drive(next);
    return { kind: 'accepted', operation };
  }

  /** Binds an app to an instance: the answer's `volume_mounts` carry only the volume id and mount hints. */
  async bind(caller: BrokerCaller, instanceId: string, bindingId: string, input: BindInput): Promise<{ binding: OsbBinding; created: boolean }> {
    const inst = await this.#instance(this.#ctx.store.db, caller, instanceId);
    if (!inst) throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${instanceId} not found`);
    if (input.appGuid === undefined || input.appGuid === '') {
      throw new PollyError('APP_REQUIRED', 'This service supports generation of credentials through binding an application only.');
    }
    if (inst.state !== 'ready' || !inst.volumeId) throw new PollyError('OPERATION_IN_PROGRESS', `service instance ${instanceId} is ${inst.state}`);
    const volume = await findVolume(this.#ctx.store.db, inst.volumeId);
    if (!volume) throw new PollyError('INVALID_STATE', `service instance ${instanceId} has lost its volume`);
    const driver = await this.#pools.driver(volume.pool);
    const profile = await this.#pools.profileFor(this.#identity(caller), caller.service, volume.profile);
    // A shared device is mounted by every app instance, on any cell: RWX where the pool and profile allow
    // it; otherwise RWO, and a second cell is refused (VOLUME_BUSY) rather than given a second writer.
    const multi = driver.capabilities.accessModes.includes('RWX') && profile.accessModes.includes('RWX');
    const accessMode = input.readOnly ? (driver.capabilities.accessModes.includes('ROX') && profile.accessModes.includes('ROX') ? 'ROX' : multi ? 'RWX' : 'RWO') : multi ? 'RWX' : 'RWO';
    const mount: VolumeMount = {
      driver: this.driverName,
      container_dir: input.containerDir ?? `${DEFAULT_CONTAINER_ROOT}/${instanceId}`,
      mode: input.readOnly ? 'r' : 'rw',
      device_type: 'shared',
      device: { volume_id: volume.id, mount_config: { access_mode: accessMode, readonly: input.readOnly, instance_id: instanceId, binding_id: bindingId } },
    };
    const at = nowIso();
    try {
      return await this.#ctx.store.transaction(async (trx) => {
        const existing = await findBinding(trx, bindingId);
        if (existing) {
          const same = existing.instanceId === instanceId && existing.service === caller.service && existing.appGuid === input.appGuid && canonical(existing.parameters) === canonical(input.parameters);
          if (!same) throw new PollyError('BINDING_EXISTS', `service binding ${bindingId} already exists with different parameters`);
          return { binding: existing, created: false };
        }
        const binding: OsbBinding = { id: bindingId, instanceId, service: caller.service, volumeId: volume.id, appGuid: input.appGuid ?? '', parameters: input.parameters, volumeMounts: [mount], createdAt: at };
        await insertBinding(trx, binding);
        await this.#record(trx, caller, 'osb.binding.created', bindingId, { instanceId, volumeId: volume.id, appGuid: binding.appGuid, containerDir: mount.container_dir, mode: mount.mode }, at);
        return { binding, created: true };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new PollyError('BINDING_EXISTS', `service binding ${bindingId} was created by another request meanwhile`);
      throw err;
    } finally {
      this.#ctx.events.notify();
    }
  }

  async getBinding(caller: BrokerCaller, instanceId: string, bindingId: string): Promise<OsbBinding> {
    const b = await findBinding(this.#ctx.store.db, bindingId);
    if (!b || b.service !== caller.service || b.instanceId !== instanceId) throw new PollyError('BINDING_NOT_FOUND', `service binding ${bindingId} not found`);
    return b;
  }

  /** Removes a binding; cells mounting it keep their mount until volman unmounts, but no new mount is allowed. */
  async unbind(caller: BrokerCaller, instanceId: string, bindingId: string, input: { serviceId: string; planId: string }): Promise<void> {
    const inst = await this.#instance(this.#ctx.store.db, caller, instanceId);
    if (!inst) throw new PollyError('INSTANCE_NOT_FOUND', `service instance ${instanceId} not found`);
    if (input.serviceId !== inst.serviceId || input.planId !== inst.planId) {
      throw new PollyError('VALIDATION_FAILED', `service_id/plan_id do not match service instance ${instanceId}`);
    }
    await this.#ctx.store.transaction(async (trx) => {
      const b = await findBinding(trx, bindingId);
      if (!b || b.service !== caller.service || b.instanceId !== instanceId) throw new PollyError('BINDING_NOT_FOUND', `service binding ${bindingId} not found`);
      await deleteBinding(trx, bindingId);
      await this.#record(trx, caller, 'osb.binding.deleted', bindingId, { instanceId, volumeId: b.volumeId }, nowIso());
    });
    this.#ctx.events.notify();
  }

  /** Drives every operation left in progress (at start: with SQLite all of them, else the stale ones). */
  async resume(staleMs: number): Promise<void> {
    for (const inst of await listInstancesInProgress(this.#ctx.store.db)) {
      if (Date.now() - Date.parse(inst.updatedAt) >= staleMs && !this.#running.has(inst.id)) this.#drive(inst);
    }
  }

  /** Waits for the operations this process drives (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()]);
  }

  #drive(inst: OsbInstance): void {
    if (this.#running.has(inst.id)) return;
    const run = this.#operate(inst)
      .catch((err: unknown) => this.#ctx.log.error({ err, instance: inst.id }, 'broker operation failed to record its outcome'))
      .finally(() => this.#running.delete(inst.id));
    this.#running.set(inst.id, run);
  }

  async #operate(inst: OsbInstance): Promise<void> {
    const caller: BrokerCaller = { service: inst.service };
    const identity = this.#identity(caller);
    const kind: OperationKind = inst.operationKind ?? 'provision';
    try {
      let volumeId = inst.volumeId;
      let patch: Parameters<typeof updateInstance>[3] = {};
      if (kind === 'provision') {
        const existing = await findVolumeByName(this.#ctx.store.db, inst.service, inst.volumeName);
        const v = existing ?? (await this.#volumes.create(identity, { name: inst.volumeName, sizeBytes: inst.sizeBytes, profile: inst.profile, labels: { 'osb-instance': inst.id } }));
        if (v.status !== 'available' && v.status !== 'attached') throw new PollyError('INVALID_STATE', `${volumeRef(v)} is ${v.status}${v.statusReason ? `: ${v.statusReason}` : ''}`);
        volumeId = v.id;
        patch = { state: 'ready', volumeId: v.id };
      } else if (kind === 'update') {
        const target = (inst.parameters['@target'] ?? {}) as { profile?: string; planId?: string; sizeBytes?: number };
        if (!volumeId) throw new PollyError('INVALID_STATE', `service instance ${inst.id} has no volume`);
        if (target.sizeBytes !== undefined && target.sizeBytes > 0) await this.#volumes.expand(identity, volumeId, target.sizeBytes);
        if (target.profile !== undefined) await this.#volumeProfiles.changeProfile(identity, volumeId, target.profile);
        const { '@target': _target, ...parameters } = inst.parameters;
        patch = { state: 'ready', sizeBytes: target.sizeBytes ?? inst.sizeBytes, profile: target.profile ?? inst.profile, planId: target.planId ?? inst.planId, parameters };
      } else {
        const v = volumeId ? await findVolume(this.#ctx.store.db, volumeId) : await findVolumeByName(this.#ctx.store.db, inst.service, inst.volumeName);
        if (v) await this.#volumes.remove(identity, v.id);
        patch = { state: 'deleted' };
      }
      await this.#finish(inst, { ...patch, operationState: 'succeeded', operationDescription: `${kind} succeeded` }, `osb.instance.${DONE[kind]}`, { volumeId });
    } catch (err) {
      const reason = isPollyError(err) ? err.message : `internal error: ${(err as Error).message}`;
      if (!isPollyError(err)) this.#ctx.log.error({ err, instance: inst.id }, `broker ${kind} failed`);
      // A failed update or deprovision leaves the instance as it was, and usable.
      const state = kind === 'provision' ? 'failed' : 'ready';
      const parameters = kind === 'update' ? Object.fromEntries(Object.entries(inst.parameters).filter(([k]) => k !== '@target')) : undefined;
      await this.#finish(inst, { state, operationState: 'failed', operationDescription: `${kind} failed: ${reason}`, ...(parameters ? { parameters } : {}) }, `osb.instance.${kind}_failed`, { reason });
    }
  }

  async #finish(inst: OsbInstance, patch: Parameters<typeof updateInstance>[3], type: string, data: Record<string, unknown>): Promise<void> {
    const at = nowIso();
    await this.#ctx.store.transaction(async (trx) => {
      if (!(await updateInstance(trx, inst.id, inst.operation, patch, at))) return;
      await this.#record(trx, { service: inst.service }, type, inst.id, { ...data, operation: inst.operation }, at);
    });
    this.#ctx.events.notify();
  }
}

function operationId(kind: OperationKind): string {
  return `${kind}-${newId('op').slice(3)}`;
}

/** JSON with sorted keys, to compare parameters as the spec's "identical". */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
