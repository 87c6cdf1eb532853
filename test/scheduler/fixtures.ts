/** Builders for scheduler tests: a pool, a candidate and a request with sensible defaults. */
import type { DriverCapabilities } from '../../src/core/ports/driver.js';
import type { Labels, Pool, PoolCapacity, Profile } from '../../src/core/types.js';
import { toCandidate } from '../../src/scheduler/index.js';
import type { PlacementRequest, PoolCandidate } from '../../src/scheduler/index.js';

export const MIB = 1024 ** 2;
export const GIB = 1024 ** 3;

export const DIRECTORY_DRIVER: DriverCapabilities = {
  snapshots: true,
  clones: true,
  restore: true,
  expand: 'online',
  block: false,
  fsTypes: [],
  accessModes: ['RWO', 'RWOP', 'ROX', 'RWX'],
  qos: false,
  sizeEnforced: true,
};

export const BLOCK_DRIVER: DriverCapabilities = {
  snapshots: true,
  clones: false,
  restore: true,
  expand: 'offline',
  block: true,
  fsTypes: ['ext4', 'xfs'],
  accessModes: ['RWO', 'RWOP'],
  qos: true,
  sizeEnforced: true,
};

export interface CandidateSpec {
  name: string;
  zone?: string;
  /** Default `local`. */
  driver?: string;
  /** Node-local pools: the nodes that see the path, or shared between every node. */
  nodes?: string[];
  shared?: boolean;
  state?: Pool['state'];
  labels?: Labels;
  overSubscriptionRatio?: number;
  reservedPercent?: number;
  capabilities?: DriverCapabilities;
  capacity?: Partial<PoolCapacity>;
  /** Labels of the requesting service's volumes in the pool. */
  volumes?: Labels[];
}

export function pool(spec: CandidateSpec): Pool {
  return {
    name: spec.name,
    driver: spec.driver ?? 'local',
    parameters: {},
    labels: spec.labels ?? {},
    topology: {
      ...(spec.zone === undefined ? {} : { zone: spec.zone }),
      ...(spec.nodes === undefined ? {} : { nodes: spec.nodes }),
      ...(spec.shared === undefined ? {} : { shared: spec.shared }),
    },
    state: spec.state ?? 'enabled',
    overSubscriptionRatio: spec.overSubscriptionRatio ?? 1,
    reservedPercent: spec.reservedPercent ?? 0,
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

/** A 100 GiB empty pool unless told otherwise. */
export function candidate(spec: CandidateSpec): PoolCandidate {
  const capacity: PoolCapacity = {
    totalBytes: 100 * GIB,
    freeBytes: 100 * GIB,
    allocatedBytes: 0,
    volumeCount: 0,
    ...spec.capacity,
  };
  return toCandidate(pool(spec), spec.capabilities ?? DIRECTORY_DRIVER, capacity, spec.volumes);
}

export function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    name: 'standard',
    description: '',
    minBytes: 0,
    maxBytes: 1024 * GIB,
    volumeMode: 'filesystem',
    fsType: 'ext4',
    media: null,
    qos: {},
    replicas: 1,
    failover: 'safe',
    forceAfterSeconds: 60,
    accessModes: ['RWO'],
    poolSelector: {},
    pools: [],
    parameters: {},
    services: [],
    createdAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A 10 GiB RWO filesystem volume for service `tenant-a` with the `standard` profile. */
export function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    service: 'tenant-a',
    sizeBytes: 10 * GIB,
    profile: profile(),
    accessMode: 'RWO',
    volumeMode: 'filesystem',
    fsType: null,
    needs: {},
    ...overrides,
  };
}
