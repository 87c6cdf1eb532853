import { status } from '@grpc/grpc-js';
import type { PollyApp } from '../../app/polly-app.js';
import type { PoolView } from '../../app/pools.js';
import { isPollyError } from '../../core/errors.js';
import type { AccessMode } from '../../core/ports/driver.js';
import type { Labels, Profile, Volume, VolumeSource } from '../../core/types.js';
import { inconsistentReason, parseCapabilities, unsupportedReason, type WantedCapability } from './capabilities.js';
import type { CsiCaller } from './caller.js';
import { byName, toCsiVolume } from './convert.js';
import { aborted, alreadyExists, CsiError, invalidArgument } from './errors.js';
import { pollyNameFor } from './names.js';
import type * as csi from './proto.js';
import {
  chooseSize,
  parseCapacityRange,
  parseContentSource,
  parseMutableParameters,
  parseVolumeParameters,
  requireField,
  sameSource,
  sizeInRange,
  type SizeRange,
  type VolumeParameters,
} from './requests.js';
import { poolInZones, profileAllows, zoneRequirement, type ZoneRequirement } from './topology.js';

/** A field recording the CSI name of a volume whose name had to be mapped (see names.ts). */
const CSI_NAME_FIELD = 'polly.csi.dev/name';

/** A CreateVolume request, checked: everything the spec requires is there and well-formed. */
export interface CreateVolumeArgs {
  csiName: string;
  name: string;
  range: SizeRange;
  wanted: WantedCapability[];
  params: VolumeParameters;
  source: VolumeSource | null;
  zones: ZoneRequirement;
}

export function parseCreateVolume(req: csi.CreateVolumeRequest): CreateVolumeArgs {
  const csiName = requireField(req.name, 'name');
  if (req.volume_capabilities.length === 0) throw invalidArgument('volume_capabilities is required (at least one)');
  const wanted = parseCapabilities(req.volume_capabilities, 'volume_capabilities');
  const inconsistent = inconsistentReason(wanted);
  if (inconsistent !== undefined) throw invalidArgument(inconsistent);
  // A VolumeAttributesClass's mutable parameters apply from the start; its profile wins over the
  // StorageClass's (as the class a volume is modified to later would).
  const mutable = parseMutableParameters(req.mutable_parameters);
  const params = parseVolumeParameters(req.parameters);
  return {
    csiName,
    name: pollyNameFor(csiName),
    range: parseCapacityRange(req.capacity_range),
    wanted,
    params: mutable.profile !== undefined ? { ...params, profile: mutable.profile } : params,
    source: parseContentSource(req.volume_content_source),
    zones: zoneRequirement(req.accessibility_requirements),
  };
}

/**
 * CreateVolume after its arguments are checked, with the spec's idempotency: a volume of that name that
 * is compatible (its size within the range, the same source, profile, pool and labels, reachable from the
 * requisite topology, able to serve the capabilities) is returned as is; any other is ALREADY_EXISTS.
 *
 * Placement is the scheduler's, as for REST: the accessibility requirements go to it as topology
 * (requisite zones filter, preferred zones weigh), with the access mode asked and an explicit `pool` (or
 * the source's) pinned. The volume's accessible topology is its chosen pool's.
 */
export async function createVolume(app: PollyApp, caller: CsiCaller, args: CreateVolumeArgs): Promise<csi.CreateVolumeResponse> {
  const pools = await app.pools.list(caller);
  const poolsByName = byName(pools);
  const existing = await app.volumes.findByName(caller, args.name);
  if (existing) return answerExisting(app, caller, existing, args, poolsByName);

  const sourceInfo = await lookUpSource(app, caller, args.source);
  const profile = await profileOf(app, caller, args.params.profile);
  const sizeBytes = chooseSize(args.range, {
    minBytes: Math.max(profile.minBytes, sourceInfo?.sizeBytes ?? 0),
    maxBytes: profile.maxBytes,
    why: sourceInfo ? `profile ${profile.name} with a ${sourceInfo.sizeBytes}-byte source` : `profile ${profile.name}`,
  });
  const pinned = checkPinnedPool(pools, poolsByName, profile, args, sourceInfo?.pool);

  // The CSI name is kept beside a mapped Polly name, so that operators can tell which PV it is.
  const fields: Labels = {};
  if (args.name !== args.csiName && args.csiName.length <= 1024) fields[CSI_NAME_FIELD] = args.csiName;
  try {
    const v = await app.volumes.create(caller, {
      name: args.name,
      sizeBytes,
      profile: profile.name,
      pool: pinned,
      labels: args.params.labels,
      fields,
      accessMode: strongestAccessMode(args.wanted),
      topology: { requisite: args.zones.requisite, preferred: args.zones.preferred },
      fromSnapshot: args.source?.kind === 'snapshot' ? args.source.id : undefined,
      fromVolume: args.source?.kind === 'volume' ? args.source.id : undefined,
    });
    return { volume: toCsiVolume(v, poolsByName.get(v.pool) ?? (await app.pools.list(caller)).find((p) => p.name === v.pool)) };
  } catch (err) {
    if (isPollyError(err) && err.code === 'VOLUME_NAME_TAKEN') {
      // A concurrent CreateVolume of the same name won the race: answer as a retry would.
      const winner = await app.volumes.findByName(caller, args.name);
      if (winner) return answerExisting(app, caller, winner, args, poolsByName);
    }
    // "Unable to provision in accessible_topology" is RESOURCE_EXHAUSTED in the spec.
    if (isPollyError(err) && err.code === 'NO_MATCHING_POOL' && args.zones.requisite !== undefined && /\btopology\b/.test(err.message)) {
      throw new CsiError(status.RESOURCE_EXHAUSTED, err.message);
    }
    throw err;
  }
}

/** The access mode the scheduler checks: the most demanding one asked (a pool offering it serves the rest). */
function strongestAccessMode(wanted: readonly WantedCapability[]): AccessMode | undefined {
  const order: readonly AccessMode[] = ['RWX', 'ROX', 'RWOP', 'RWO'];
  return order.find((mode) => wanted.some((w) => w.accessMode === mode));
}

async function lookUpSource(app: PollyApp, caller: CsiCaller, source: VolumeSource | null): Promise<{ pool: string; sizeBytes: number } | undefined> {
  if (source === null) return undefined;
  // NOT_FOUND for a missing source, as the spec asks.
  const found = source.kind === 'snapshot' ? await app.snapshots.get(caller, source.id) : await app.volumes.get(caller, source.id);
  return { pool: found.pool, sizeBytes: found.sizeBytes };
}

/** The profile a StorageClass names (`default` when none); an unknown one is a bad parameter. */
export async function profileOf(app: PollyApp, caller: CsiCaller, name: string | undefined): Promise<Profile> {
  try {
    return await app.pools.profileFor(caller, caller.service, name ?? 'default');
  } catch (err) {
    // A bad StorageClass parameter, not a missing source: INVALID_ARGUMENT rather than NOT_FOUND.
    if (isPollyError(err) && err.code === 'PROFILE_NOT_FOUND') throw invalidArgument(`parameters.profile: ${err.message}`);
    throw err;
  }
}

/**
 * The pool a request fixes (`parameters.pool`), checked against the capabilities and topology asked so
 * that a bad StorageClass is INVALID_ARGUMENT with a precise message; undefined lets the scheduler choose
 * (a restore or clone stays in its source's pool, which the use case pins). Without a fixed pool, only
 * "no pool at all can serve these capabilities" is answered here; which pool serves is the scheduler's.
 */
function checkPinnedPool(
  pools: readonly PoolView[],
  poolsByName: Map<string, PoolView>,
  profile: Profile,
  args: CreateVolumeArgs,
  sourcePool: string | undefined,
): string | undefined {
  const fixed = sourcePool ?? args.params.pool;
  if (fixed !== undefined) {
    if (sourcePool !== undefined && args.params.pool !== undefined && args.params.pool !== sourcePool) {
      throw invalidArgument(`parameters.pool is ${args.params.pool}, but the source lives in pool ${sourcePool}; a restore or clone stays in its source's pool`);
    }
    const pool = poolsByName.get(fixed);
    if (!pool) throw invalidArgument(`parameters.pool: pool ${fixed} not found`);
    if (!poolInZones(pool, args.zones.requisite)) {
      throw new CsiError(status.RESOURCE_EXHAUSTED, `pool ${pool.name} is in zone ${pool.topology.zone}, outside the requisite zone(s) ${args.zones.requisite?.join(', ')}`);
    }
    const reason = unsupportedReason(pool, profile, args.wanted);
    if (reason !== undefined) throw invalidArgument(reason);
    return args.params.pool;
  }
  const usable = pools.filter((p) => p.state === 'enabled' && profileAllows(profile, p));
  if (usable.length > 0 && usable.every((p) => unsupportedReason(p, profile, args.wanted) !== undefined)) {
    const reasons = [...new Set(usable.map((p) => unsupportedReason(p, profile, args.wanted)))];
    throw invalidArgument(`no pool can serve the requested capabilities: ${reasons.join('; ')}`);
  }
  return undefined;
}

async function answerExisting(
  app: PollyApp,
  caller: CsiCaller,
  v: Volume,
  args: CreateVolumeArgs,
  poolsByName: Map<string, PoolView>,
): Promise<csi.CreateVolumeResponse> {
  if (v.status === 'creating' || v.status === 'deleting' || v.status === 'importing') {
    throw aborted(`volume ${args.csiName} (${v.id}) is ${v.status}: an operation on it is pending; retry`);
  }
  if (v.status === 'error') {
    throw new CsiError(status.INTERNAL, `volume ${args.csiName} (${v.id}) is in error (${v.statusReason ?? 'no reason recorded'}); delete it to reuse the name`);
  }
  const pool = poolsByName.get(v.pool);
  const profile = (await app.profiles.list(caller)).find((p) => p.name === v.profile);
  const conflict = incompatibility(v, args, pool, profile);
  if (conflict !== undefined) throw alreadyExists(`volume ${args.csiName} already exists (${v.id}) and ${conflict}`);
  return { volume: toCsiVolume(v, pool) };
}

/** How an existing volume differs from what is asked, or undefined when it is compatible. */
function incompatibility(v: Volume, args: CreateVolumeArgs, pool: PoolView | undefined, profile: Profile | undefined): string | undefined {
  if (!sizeInRange(v.sizeBytes, args.range)) {
    return `has ${v.sizeBytes} bytes, outside the requested ${args.range.requiredBytes}..${args.range.limitBytes ?? 'unlimited'} bytes`;
  }
  if (!sameSource(v.source, args.source)) return `was made from ${describeSource(v.source)}, not ${describeSource(args.source)}`;
  if (args.params.profile !== undefined && args.params.profile !== v.profile) return `has profile ${v.profile}`;
  if (args.params.pool !== undefined && args.params.pool !== v.pool) return `is in pool ${v.pool}`;
  const labels: Labels = args.params.labels;
  const differing = Object.keys(labels).find((k) => v.labels[k] !== labels[k]);
  if (differing !== undefined) return `has a different label ${differing}`;
  if (pool !== undefined) {
    if (!poolInZones(pool, args.zones.requisite)) return `is in zone ${pool.topology.zone}, outside the requisite topology`;
    const reason = unsupportedReason(pool, profile, args.wanted);
    if (reason !== undefined) return `cannot serve the requested capabilities: ${reason}`;
  }
  return undefined;
}

function describeSource(source: VolumeSource | null): string {
  return source === null ? 'nothing' : `${source.kind} ${source.id}`;
}
