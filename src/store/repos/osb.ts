import type { Executor } from '../store.js';

/** What an instance is doing; `deleted` rows are kept so a late last_operation poll still succeeds. */
export type InstanceState = 'provisioning' | 'ready' | 'updating' | 'deprovisioning' | 'deleted' | 'failed';
export type OperationKind = 'provision' | 'update' | 'deprovision';
/** The OSB last_operation states, spelled as the spec spells them. */
export type OperationState = 'in progress' | 'succeeded' | 'failed';

/** One Open Service Broker service instance: a Polly volume of the broker credential's service. */
export interface OsbInstance {
  id: string;
  service: string;
  serviceId: string;
  planId: string;
  profile: string;
  sizeBytes: number;
  /** Derived from the instance id, so a provision that crashed half-way finds its volume again. */
  volumeName: string;
  volumeId: string | null;
  state: InstanceState;
  operation: string | null;
  operationKind: OperationKind | null;
  operationState: OperationState | null;
  operationDescription: string | null;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** A binding of an instance to an app: the volume_mounts the platform was given. */
export interface OsbBinding {
  id: string;
  instanceId: string;
  service: string;
  volumeId: string;
  appGuid: string;
  parameters: Record<string, unknown>;
  volumeMounts: unknown[];
  createdAt: string;
}

type InstanceRow = {
  id: string;
  service: string;
  service_id: string;
  plan_id: string;
  profile: string;
  size_bytes: number | string | bigint;
  volume_name: string;
  volume_id: string | null;
  state: string;
  operation: string | null;
  operation_kind: string | null;
  operation_state: string | null;
  operation_description: string | null;
  parameters: string;
  context: string;
  created_at: string;
  updated_at: string;
};

function toInstance(r: InstanceRow): OsbInstance {
  return {
    id: r.id,
    service: r.service,
    serviceId: r.service_id,
    planId: r.plan_id,
    profile: r.profile,
    sizeBytes: Number(r.size_bytes),
    volumeName: r.volume_name,
    volumeId: r.volume_id,
    state: r.state as InstanceState,
    operation: r.operation,
    operationKind: r.operation_kind as OperationKind | null,
    operationState: r.operation_state as OperationState | null,
    operationDescription: r.operation_description,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    context: JSON.parse(r.context) as Record<string, unknown>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function findInstance(ex: Executor, id: string): Promise<OsbInstance | undefined> {
  const row = await ex.selectFrom('osb_instances').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toInstance(row) : undefined;
}

/** Inserts an instance, or replaces a `deleted` one of the same id (ids may be reused after deletion). */
export async function saveInstance(ex: Executor, i: OsbInstance): Promise<void> {
  const values = {
    id: i.id,
    service: i.service,
    service_id: i.serviceId,
    plan_id: i.planId,
    profile: i.profile,
    size_bytes: i.sizeBytes,
    volume_name: i.volumeName,
    volume_id: i.volumeId,
    state: i.state,
    operation: i.operation,
    operation_kind: i.operationKind,
    operation_state: i.operationState,
    operation_description: i.operationDescription,
    parameters: JSON.stringify(i.parameters),
    context: JSON.stringify(i.context),
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  };
  const { id: _id, ...rest } = values;
  const res = await ex.updateTable('osb_instances').set(rest).where('id', '=', i.id).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) await ex.insertInto('osb_instances').values(values).execute();
}

/** Compare-and-set on the state: false when another request moved the instance on meanwhile. */
export async function updateInstance(
  ex: Executor,
  id: string,
  expectedOperation: string | null,
  patch: Partial<Pick<OsbInstance, 'state' | 'volumeId' | 'operationState' | 'operationDescription' | 'sizeBytes' | 'profile' | 'planId' | 'parameters'>>,
  at: string,
): Promise<boolean> {
  const set: Record<string, unknown> = { updated_at: at };
  if (patch.state !== undefined) set.state = patch.state;
  if (patch.volumeId !== undefined) set.volume_id = patch.volumeId;
  if (patch.operationState !== undefined) set.operation_state = patch.operationState;
  if (patch.operationDescription !== undefined) set.operation_description = patch.operationDescription;
  if (patch.sizeBytes !== undefined) set.size_bytes = patch.sizeBytes;
  if (patch.profile !== undefined) set.profile = patch.profile;
  if (patch.planId !== undefined) set.plan_id = patch.planId;
  if (patch.parameters !== undefined) set.parameters = JSON.stringify(patch.parameters);
  let q = ex.updateTable('osb_instances').set(set).where('id', '=', id);
  q = expectedOperation === null ? q.where('operation', 'is', null) : q.where('operation', '=', expectedOperation);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Instances whose operation is still in progress (for the resume pass). */
export async function listInstancesInProgress(ex: Executor): Promise<OsbInstance[]> {
  const rows = await ex.selectFrom('osb_instances').selectAll().where('operation_state', '=', 'in progress').execute();
  return rows.map(toInstance);
}

type BindingRow = {
  id: string;
  instance_id: string;
  service: string;
  volume_id: string;
  app_guid: string;
  parameters: string;
  volume_mounts: string;
  created_at: string;
};

function toBinding(r: BindingRow): OsbBinding {
  return {
    id: r.id,
    instanceId: r.instance_id,
    service: r.service,
    volumeId: r.volume_id,
    appGuid: r.app_guid,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    volumeMounts: JSON.parse(r.volume_mounts) as unknown[],
    createdAt: r.created_at,
  };
}

export async function findBinding(ex: Executor, id: string): Promise<OsbBinding | undefined> {
  const row = await ex.selectFrom('osb_bindings').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toBinding(row) : undefined;
}

export async function insertBinding(ex: Executor, b: OsbBinding): Promise<void> {
  await ex
    .insertInto('osb_bindings')
    .values({
      id: b.id,
      instance_id: b.instanceId,
      service: b.service,
      volume_id: b.volumeId,
      app_guid: b.appGuid,
      parameters: JSON.stringify(b.parameters),
      volume_mounts: JSON.stringify(b.volumeMounts),
      created_at: b.createdAt,
    })
    .execute();
}

export async function deleteBinding(ex: Executor, id: string): Promise<boolean> {
  const res = await ex.deleteFrom('osb_bindings').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

export async function countBindingsOfInstance(ex: Executor, instanceId: string): Promise<number> {
  const row = await ex
    .selectFrom('osb_bindings')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('instance_id', '=', instanceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Whether some app is bound to the volume right now (a cell may then mount it). */
export async function isVolumeBound(ex: Executor, volumeId: string): Promise<boolean> {
  const row = await ex.selectFrom('osb_bindings').select('id').where('volume_id', '=', volumeId).executeTakeFirst();
  return row !== undefined;
}

/** Volume ids with at least one live binding. */
export async function listBoundVolumeIds(ex: Executor): Promise<string[]> {
  const rows = await ex.selectFrom('osb_bindings').select('volume_id').distinct().execute();
  return rows.map((r) => r.volume_id);
}
