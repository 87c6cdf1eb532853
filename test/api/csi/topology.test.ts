import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { ZONE_KEY } from '../../../src/api/csi/topology.js';
import { ADMIN } from '../../../src/core/types.js';
import { newService } from '../../helpers/polly.js';
import { bearer, expectCode, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const MiB = 1024 * 1024;
const zone = (z: string): csi.Topology => ({ segments: { [ZONE_KEY]: z } });

let h: CsiHarness;
let token: string;

beforeAll(async () => {
  h = await startCsi({
    pools: [
      { name: 'east', driver: 'fake', topology: { zone: 'z-east' } },
      { name: 'west', driver: 'fake', topology: { zone: 'z-west' } },
      { name: 'closed', driver: 'fake', topology: { zone: 'z-closed' }, state: 'disabled' },
    ],
  });
  token = await newService(h.polly, 'k8s');
});
afterAll(async () => {
  await h?.stop();
});

function create(name: string, requirement: Partial<csi.TopologyRequirement> | null, parameters: Record<string, string> = {}) {
  return h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name,
    volume_capabilities: [MOUNT_RWO],
    capacity_range: { required_bytes: MiB, limit_bytes: 0 },
    accessibility_requirements: requirement,
    parameters,
    secrets: secrets(token),
  });
}

const poolOf = async (id: string) => (await h.polly.server.app.volumes.get(ADMIN, id)).pool;

describe('accessibility requirements', () => {
  it('places the volume in the requisite zone and reports it', async () => {
    for (const [z, pool] of [['z-west', 'west'], ['z-east', 'east']] as const) {
      const res = await create(`in-${z}`, { requisite: [zone(z)] });
      expect(res.volume?.accessible_topology).toEqual([zone(z)]);
      expect(await poolOf(res.volume?.volume_id ?? '')).toBe(pool);
    }
  });

  it('honours the preferred order among requisite zones', async () => {
    const res = await create('preferred', { requisite: [zone('z-east'), zone('z-west')], preferred: [zone('z-west'), zone('z-east')] });
    expect(await poolOf(res.volume?.volume_id ?? '')).toBe('west');
  });

  it('a zone without an enabled pool is RESOURCE_EXHAUSTED', async () => {
    await expectCode(create('nowhere', { requisite: [zone('z-mars')] }), status.RESOURCE_EXHAUSTED);
    await expectCode(create('closed', { requisite: [zone('z-closed')] }), status.RESOURCE_EXHAUSTED);
  });

  it('an explicit pool outside the requisite zone is RESOURCE_EXHAUSTED', async () => {
    await expectCode(create('conflict', { requisite: [zone('z-east')] }, { pool: 'west' }), status.RESOURCE_EXHAUSTED);
  });

  it('an existing volume outside the requisite zone is not the same volume', async () => {
    await create('zoned-once', { requisite: [zone('z-east')] });
    await expectCode(create('zoned-once', { requisite: [zone('z-west')] }), status.ALREADY_EXISTS);
    const again = await create('zoned-once', { requisite: [zone('z-east')] });
    expect(again.volume?.accessible_topology).toEqual([zone('z-east')]);
  });
});

describe('GetCapacity by topology', () => {
  it('counts only the pools of the given zone', async () => {
    const pools = await h.polly.server.app.pools.list(ADMIN);
    const free = (name: string) => pools.find((p) => p.name === name)?.capacity.freeBytes ?? -1;
    const east = await h.client.controller<csi.GetCapacityResponse>('GetCapacity', { accessible_topology: zone('z-east') }, bearer(token));
    expect(east.available_capacity).toBe(free('east'));
    const all = await h.client.controller<csi.GetCapacityResponse>('GetCapacity', {}, bearer(token));
    // The disabled pool never counts.
    expect(all.available_capacity).toBe(free('east') + free('west'));
  });
});

/*
 * One placement path: CSI hands its accessibility requirements to the scheduler, so the REST and CSI
 * answers for the same pools and the same topology agree, including the zone rule for a pool without a
 * zone (reachable from every zone), and explain names the topology filter for what it rejected.
 */
describe('one placement path for REST and CSI', () => {
  let g: CsiHarness;
  let k: string;

  beforeAll(async () => {
    g = await startCsi({
      pools: [
        { name: 'anywhere', driver: 'fake' },
        { name: 'east', driver: 'fake', topology: { zone: 'z-east' } },
        { name: 'west', driver: 'fake', topology: { zone: 'z-west' } },
      ],
    });
    k = await newService(g.polly, 'k8s-one-path');
  });
  afterAll(async () => {
    await g?.stop();
  });

  const csiCreate = (name: string, requirement: Partial<csi.TopologyRequirement>) =>
    g.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name,
      volume_capabilities: [MOUNT_RWO],
      capacity_range: { required_bytes: MiB, limit_bytes: 0 },
      accessibility_requirements: requirement,
      secrets: secrets(k),
    });
  const restCreate = (name: string, topology: { requisite?: string[]; preferred?: string[] }) =>
    g.polly.call('POST', '/v1/volumes', { token: k, body: { name, sizeBytes: MiB, topology } });
  const poolOfVolume = async (id: string) => (await g.polly.server.app.volumes.get(ADMIN, id)).pool;

  it('a zoneless pool serves a requisite zone without a pool of its own, the same via REST and CSI', async () => {
    const rest = await restCreate('rest-north', { requisite: ['z-north'] });
    expect(rest.status).toBe(201);
    expect(rest.body.pool).toBe('anywhere');
    const res = await csiCreate('csi-north', { requisite: [zone('z-north')] });
    expect(await poolOfVolume(res.volume?.volume_id ?? '')).toBe('anywhere');
    // Its accessible topology is its pool's: no zone, reachable from everywhere.
    expect(res.volume?.accessible_topology).toEqual([]);
  });

  it('the preferred order is honoured through the scheduler, and accessible_topology is the chosen pool', async () => {
    for (const [first, pool] of [['z-west', 'west'], ['z-east', 'east']] as const) {
      const requisite = [zone('z-east'), zone('z-west')];
      const res = await csiCreate(`csi-pref-${first}`, { requisite, preferred: [zone(first), ...requisite.filter((t) => t.segments[ZONE_KEY] !== first)] });
      expect(await poolOfVolume(res.volume?.volume_id ?? '')).toBe(pool);
      expect(res.volume?.accessible_topology).toEqual([zone(first)]);
      const rest = await restCreate(`rest-pref-${first}`, { requisite: ['z-east', 'z-west'], preferred: [first] });
      expect(rest.body.pool).toBe(pool);
    }
  });

  it('explain names the topology filter for the pools a requisite zone rules out, and passes the zoneless one', async () => {
    const res = await g.polly.call('POST', '/v1/placement/explain', { token: k, body: { name: 'explained', sizeBytes: MiB, topology: { requisite: ['z-east'] } } });
    expect(res.status).toBe(200);
    const verdict = (name: string) => (res.body.pools as Array<{ pool: string; passed: boolean; rejectedBy?: { filter: string } }>).find((p) => p.pool === name);
    expect(verdict('west')?.rejectedBy?.filter).toBe('topology');
    expect(verdict('east')?.passed).toBe(true);
    expect(verdict('anywhere')?.passed).toBe(true);
    expect(res.body.filters.find((f: { name: string }) => f.name === 'topology')).toMatchObject({ active: true, rejected: 1 });
  });
});
