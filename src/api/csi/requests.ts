import { MAX_VOLUME_BYTES } from '../../app/volumes.js';
import type { Labels, Page, VolumeSource } from '../../core/types.js';
import { invalidArgument, outOfRange } from './errors.js';
import type { CapacityRange, StringMap, VolumeContentSource } from './proto.js';

/** Argument checks shared by the controller RPCs; each throws INVALID_ARGUMENT naming the field. */

/** The size of a volume created without `capacity_range.required_bytes`. */
export const DEFAULT_VOLUME_BYTES = 1024 ** 3;

/** Listing pages are at most this long, whatever `max_entries` asks (the spec lets a plugin return fewer). */
const MAX_PAGE = 1000;

/** Keys Kubernetes' sidecars add on their own (`--extra-create-metadata`): accepted and ignored. */
const KUBERNETES_PREFIX = 'csi.storage.k8s.io/';

export function requireField(value: string, field: string): string {
  if (value === '') throw invalidArgument(`${field} is required`);
  return value;
}

export interface VolumeParameters {
  profile: string | undefined;
  pool: string | undefined;
  labels: Labels;
}

/**
 * StorageClass parameters: `profile`, `pool`, and `labels.<key>` for each label. Anything else is refused
 * so that a typo (`profil`) never silently yields a volume of the wrong kind.
 */
export function parseVolumeParameters(params: StringMap, field = 'parameters'): VolumeParameters {
  const out: VolumeParameters = { profile: undefined, pool: undefined, labels: {} };
  for (const [key, value] of Object.entries(params)) {
    if (key === 'profile' || key === 'pool') {
      out[key] = requireField(value, `${field}.${key}`);
    } else if (key.startsWith('labels.') && key.length > 'labels.'.length) {
      out.labels[key.slice('labels.'.length)] = value;
    } else if (!key.startsWith(KUBERNETES_PREFIX)) {
      throw invalidArgument(`${field}: unknown key ${JSON.stringify(key)}; Polly accepts profile, pool and labels.<key>`);
    }
  }
  return out;
}

/** The keys of mutable_parameters (a Kubernetes VolumeAttributesClass) Polly can change on a volume in place. */
export const MUTABLE_PARAMETER_KEYS = ['profile'] as const;

export interface MutableParameters {
  /** Move the volume to this profile (its QoS, media, quotas…), where it lies. */
  profile: string | undefined;
}

/**
 * mutable_parameters of CreateVolume and ControllerModifyVolume: `profile` (the profile carries the QoS
 * and the other per-class settings). Anything else is INVALID_ARGUMENT, as the spec asks for a parameter
 * the plugin cannot change.
 */
export function parseMutableParameters(params: StringMap, field = 'mutable_parameters'): MutableParameters {
  const out: MutableParameters = { profile: undefined };
  for (const [key, value] of Object.entries(params)) {
    if (key === 'profile') out.profile = requireField(value, `${field}.profile`);
    else throw invalidArgument(`${field}: ${JSON.stringify(key)} cannot be changed; Polly's mutable parameters are ${MUTABLE_PARAMETER_KEYS.join(', ')}`);
  }
  return out;
}

/** Snapshot parameters: Polly has none yet; only the Kubernetes sidecars' own keys are accepted. */
export function checkSnapshotParameters(params: StringMap): void {
  const unknown = Object.keys(params).filter((k) => !k.startsWith(KUBERNETES_PREFIX));
  if (unknown.length > 0) throw invalidArgument(`parameters: unknown key ${JSON.stringify(unknown[0])}; snapshots take no parameters`);
}

export interface SizeRange {
  requiredBytes: number;
  /** Undefined when the CO sets no limit. */
  limitBytes: number | undefined;
}

export function parseCapacityRange(range: CapacityRange | null, field = 'capacity_range'): SizeRange {
  const required = range?.required_bytes ?? 0;
  const limit = range?.limit_bytes ?? 0;
  if (required < 0) throw invalidArgument(`${field}.required_bytes must not be negative (got ${required})`);
  if (limit < 0) throw invalidArgument(`${field}.limit_bytes must not be negative (got ${limit})`);
  if (limit > 0 && limit < required) {
    throw invalidArgument(`${field}.limit_bytes (${limit}) is smaller than required_bytes (${required})`);
  }
  return { requiredBytes: required, limitBytes: limit > 0 ? limit : undefined };
}

/** Whether an existing size satisfies a range (the spec's "compatible capacity"). */
export function sizeInRange(sizeBytes: number, range: SizeRange): boolean {
  return sizeBytes >= range.requiredBytes && (range.limitBytes === undefined || sizeBytes <= range.limitBytes);
}

/**
 * The size to create: the required bytes, raised to the smallest size allowed (profile minimum, the
 * source's size); without required bytes, {@link DEFAULT_VOLUME_BYTES} kept within what is allowed.
 * OUT_OF_RANGE, as the spec asks, when nothing in the range is allowed.
 */
export function chooseSize(range: SizeRange, bounds: { minBytes: number; maxBytes: number; why: string }): number {
  const lo = Math.max(range.requiredBytes, bounds.minBytes, 1);
  const hi = Math.min(range.limitBytes ?? Infinity, bounds.maxBytes, MAX_VOLUME_BYTES);
  if (lo > hi) {
    const asked = `${range.requiredBytes}..${range.limitBytes ?? 'unlimited'} bytes`;
    throw outOfRange(`capacity_range ${asked} has no size that ${bounds.why} allows (${bounds.minBytes}..${Math.min(bounds.maxBytes, MAX_VOLUME_BYTES)} bytes)`);
  }
  return range.requiredBytes > 0 ? lo : Math.min(Math.max(DEFAULT_VOLUME_BYTES, lo), hi);
}

export function parseContentSource(source: VolumeContentSource | null, field = 'volume_content_source'): VolumeSource | null {
  if (source === null) return null;
  if (source.type === 'snapshot' || source.snapshot) {
    return { kind: 'snapshot', id: requireField(source.snapshot?.snapshot_id ?? '', `${field}.snapshot.snapshot_id`) };
  }
  if (source.type === 'volume' || source.volume) {
    return { kind: 'volume', id: requireField(source.volume?.volume_id ?? '', `${field}.volume.volume_id`) };
  }
  throw invalidArgument(`${field}: set snapshot or volume`);
}

export function sameSource(a: VolumeSource | null, b: VolumeSource | null): boolean {
  return a === null || b === null ? a === b : a.kind === b.kind && a.id === b.id;
}

/** `max_entries`: 0 means "no limit" in CSI. Returns undefined for that. */
export function parseMaxEntries(maxEntries: number): number | undefined {
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw invalidArgument(`max_entries must not be negative (got ${maxEntries})`);
  return maxEntries === 0 ? undefined : maxEntries;
}

/**
 * Reads one CSI page through Polly's cursor paging. The CSI token is Polly's opaque cursor, so an
 * unreadable token fails in the use case as INVALID_CURSOR, which the catalog maps to ABORTED as the spec
 * asks. Without `max_entries`, every page is read.
 */
export async function readPage<T>(
  maxEntries: number | undefined,
  startingToken: string,
  fetch: (limit: number, cursor: string | undefined) => Promise<Page<T>>,
): Promise<{ items: T[]; nextToken: string }> {
  let cursor = startingToken === '' ? undefined : startingToken;
  if (maxEntries !== undefined) {
    const page = await fetch(Math.min(maxEntries, MAX_PAGE), cursor);
    return { items: page.items, nextToken: page.nextCursor ?? '' };
  }
  const items: T[] = [];
  for (;;) {
    const page = await fetch(MAX_PAGE, cursor);
    items.push(...page.items);
    if (page.nextCursor === null) return { items, nextToken: '' };
    cursor = page.nextCursor;
  }
}
