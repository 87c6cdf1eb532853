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
