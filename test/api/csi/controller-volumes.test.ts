import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { ADMIN } from '../../../src/core/types.js';
import { newService } from '../../helpers/polly.js';
import { BLOCK_RWO, bearer, expectCode, mountCap, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

let h: CsiHarness;
let token: string;

beforeAll(async () => {
  h = await startCsi((dataDir) => ({
    pools: [
      { name: 'mem', driver: 'fake' },
      { name: 'disk', driver: 'local', path: join(dataDir, 'disk') },
    ],
    profiles: [
      { name: 'raw', volumeMode: 'block' },
      { name: 'fast', qos: { iops: 500 } },
      { name: 'small', maxBytes: 2 * MiB },
      { name: 'mem-only', pools: ['mem'] },
    ],
  }));
  token = await newService(h.polly, 'k8s');
});
afterAll(async () => {
  await h?.stop();
});

const app = () => h.polly.server.app;

function createVolume(req: Partial<csi.CreateVolumeRequest>): Promise<csi.CreateVolumeResponse> {
  return h.client.controller<csi.CreateVolumeResponse>('CreateVolume', { volume_capabilities: [MOUNT_RWO], secrets: secrets(token), ...req });
}

async function newVolume(name: string, bytes = 4 * MiB, parameters: Record<string, string> = { pool: 'mem' }): Promise<csi.Volume> {
  const res = await createVolume({ name, capacity_range: { required_bytes: bytes, limit_bytes: 0 }, parameters });
  if (!res.volume) throw new Error('no volume in CreateVolume response');
  return res.volume;
}

describe('CreateVolume', () => {
  it('creates a volume of the required size and reports it', async () => {
    const v = await newVolume('pvc-0b6e7a52-3b5f-4c1e-9a8c-111111111111', 8 * MiB);
    expect(v.volume_id).toMatch(/^vol-/);
    expect(v.capacity_bytes).toBe(8 * MiB);
    expect(v.accessible_topology).toEqual([]);
    const stored = await app().volumes.get(ADMIN, v.volume_id);
    expect(stored).toMatchObject({ name: 'pvc-0b6e7a52-3b5f-4c1e-9a8c-111111111111', service: 'k8s', pool: 'mem', sizeBytes: 8 * MiB, status: 'available' });
  });

  it('is idempotent: the same name and a compatible request return the same volume', async () => {
    const first = await newVolume('twice', 4 * MiB);
    const again = await newVolume('twice', 4 * MiB);
    expect(again.volume_id).toBe(first.volume_id);
    // A range the existing size satisfies is compatible too.
    const within = await createVolume({ name: 'twice', capacity_range: { required_bytes: 2 * MiB, limit_bytes: 8 * MiB }, parameters: { pool: 'mem' } });
    expect(within.volume?.volume_id).toBe(first.volume_id);
  });

  it('the same name with a different size is ALREADY_EXISTS', async () => {
    await newVolume('sized', 4 * MiB);
    const err = await expectCode(newVolume('sized', 16 * MiB), status.ALREADY_EXISTS);
    expect(err.details).toContain('4194304 bytes');
  });

  it('the same name with another profile or pool is ALREADY_EXISTS', async () => {
    await newVolume('placed', 4 * MiB, { pool: 'mem' });
    await expectCode(newVolume('placed', 4 * MiB, { pool: 'disk' }), status.ALREADY_EXISTS);
  });

  const invalid: Array<[string, () => Partial<csi.CreateVolumeRequest>, string]> = [
    ['a missing name', () => ({ name: '' }), 'name is required'],
    ['missing capabilities', () => ({ name: 'nocaps', volume_capabilities: [] }), 'volume_capabilities is required'],
    ['a capability without access type', () => ({ name: 'noat', volume_capabilities: [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }), 'access_type is required'],
    ['a capability without access mode', () => ({ name: 'noam', volume_capabilities: [{ mount: { fs_type: '', mount_flags: [], volume_mount_group: '' }, access_mode: null }] }), 'access_mode.mode'],
    ['limit below required', () => ({ name: 'lim', capacity_range: { required_bytes: 8 * MiB, limit_bytes: 4 * MiB } }), 'limit_bytes'],
    ['a negative size', () => ({ name: 'neg', capacity_range: { required_bytes: -1, limit_bytes: 0 } }), 'negative'],
    ['mixed block and mount', () => ({ name: 'mixed', volume_capabilities: [MOUNT_RWO, BLOCK_RWO] }), 'mix block and mount'],
    ['an unknown parameter', () => ({ name: 'typo', parameters: { profil: 'default' } }), 'unknown key "profil"'],
    ['an unknown profile', () => ({ name: 'noprof', parameters: { profile: 'gold' } }), 'parameters.profile'],
    ['an unknown pool', () => ({ name: 'nopool', parameters: { pool: 'atlantis' } }), 'pool atlantis not found'],
    ['a block volume from a filesystem profile', () => ({ name: 'blk', volume_capabilities: [BLOCK_RWO], parameters: { pool: 'mem' } }), 'filesystem volumes'],
    ['a block profile on a directory pool', () => ({ name: 'blk2', volume_capabilities: [BLOCK_RWO], parameters: { pool: 'disk', profile: 'raw' } }), 'no block volumes'],
    ['a filesystem the pool cannot make', () => ({ name: 'btrfs', volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'btrfs')], parameters: { pool: 'mem' } }), 'cannot format btrfs'],
    ['a filesystem other than the profile’s', () => ({ name: 'xfs', volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'xfs')], parameters: { pool: 'mem' } }), 'formats volumes as ext4'],
    ['an unknown mutable parameter', () => ({ name: 'mut', mutable_parameters: { iops: '100' } }), 'mutable_parameters: "iops" cannot be changed'],
    ['an invalid label', () => ({ name: 'badlabel', parameters: { 'labels.-bad': 'x' } }), 'labels'],
  ];
  for (const [what, req, message] of invalid) {
    it(`${what} is INVALID_ARGUMENT`, async () => {
      const err = await expectCode(createVolume({ capacity_range: { required_bytes: MiB, limit_bytes: 0 }, ...req() }), status.INVALID_ARGUMENT);
      expect(err.details).toContain(message);
    });
  }

  it('a size no pool may hold is OUT_OF_RANGE', async () => {
    await expectCode(createVolume({ name: 'huge', capacity_range: { required_bytes: 2 ** 60, limit_bytes: 0 } }), status.OUT_OF_RANGE);
  });

  it('without required bytes, takes the default 1 GiB, kept under limit_bytes', async () => {
    const limited = await createVolume({ name: 'limited', capacity_range: { required_bytes: 0, limit_bytes: 64 * MiB }, parameters: { pool: 'mem' } });
    expect(limited.volume?.capacity_bytes).toBe(64 * MiB);
    const unbounded = await createVolume({ name: 'default-size', parameters: { pool: 'mem' } });
    expect(unbounded.volume?.capacity_bytes).toBe(GiB);
  });

  it('maps each access mode and accepts a filesystem type on a directory pool', async () => {
    const modes: csi.AccessModeName[] = ['SINGLE_NODE_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_MULTI_WRITER'];
    for (const mode of modes) {
      const res = await createVolume({ name: `mode-${mode.toLowerCase()}`, volume_capabilities: [mountCap(mode, 'ext4')], capacity_range: { required_bytes: MiB, limit_bytes: 0 }, parameters: { pool: 'disk' } });
      expect(res.volume?.volume_id).toMatch(/^vol-/);
    }
  });

  it('passes labels.<key> parameters as labels', async () => {
    const v = await newVolume('labelled', MiB, { pool: 'mem', 'labels.team': 'storage', 'csi.storage.k8s.io/pvc/name': 'data' });
    expect((await app().volumes.get(ADMIN, v.volume_id)).labels).toEqual({ team: 'storage' });
  });

  it('maps a CSI name Polly refuses to a stable hashed name, and keeps the original as a field', async () => {
    const csiName = `ns/claim:${'x'.repeat(200)}`;
    const first = await newVolume(csiName, MiB);
    const again = await newVolume(csiName, MiB);
    expect(again.volume_id).toBe(first.volume_id);
    const stored = await app().volumes.get(ADMIN, first.volume_id);
    expect(stored.name).toMatch(/^csi-[0-9a-f]{40}$/);
    expect(stored.fields['polly.csi.dev/name']).toBe(csiName);
  });
});

describe('DeleteVolume', () => {
  it('deletes, and deleting again (or an unknown id) is OK', async () => {
    const v = await newVolume('doomed');
    await h.client.controller('DeleteVolume', { volume_id: v.volume_id, secrets: secrets(token) });
    await expect(app().volumes.get(ADMIN, v.volume_id)).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    await h.client.controller('DeleteVolume', { volume_id: v.volume_id, secrets: secrets(token) });
    await h.client.controller('DeleteVolume', { volume_id: 'vol-doesnotexist', secrets: secrets(token) });
  });

  it('a missing volume_id is INVALID_ARGUMENT', async () => {
    await expectCode(h.client.controller('DeleteVolume', { volume_id: '', secrets: secrets(token) }), status.INVALID_ARGUMENT);
  });
});

describe('ValidateVolumeCapabilities', () => {
  const validate = (req: Partial<csi.ValidateVolumeCapabilitiesRequest>) =>
    h.client.controller<csi.ValidateVolumeCapabilitiesResponse>('ValidateVolumeCapabilities', { volume_capabilities: [MOUNT_RWO], secrets: secrets(token), ...req });

  it('confirms what the volume can do, echoing the request', async () => {
    const v = await newVolume('validated');
    const res = await validate({ volume_id: v.volume_id, volume_context: v.volume_context, parameters: { pool: 'mem' } });
    expect(res.confirmed?.volume_capabilities).toHaveLength(1);
    expect(res.confirmed?.volume_context).toEqual(v.volume_context);
    expect(res.confirmed?.parameters).toEqual({ pool: 'mem' });
  });

  it('does not confirm what it cannot do, and says why', async () => {
    const v = await newVolume('validated-block');
    const block = await validate({ volume_id: v.volume_id, volume_capabilities: [BLOCK_RWO] });
    expect(block.confirmed).toBeNull();
    expect(block.message).not.toBe('');
    const otherProfile = await validate({ volume_id: v.volume_id, parameters: { profile: 'raw' } });
    expect(otherProfile.confirmed).toBeNull();
  });

  it('an unknown volume is NOT_FOUND; missing arguments are INVALID_ARGUMENT', async () => {
    await expectCode(validate({ volume_id: 'vol-unknown' }), status.NOT_FOUND);
    await expectCode(validate({ volume_id: '' }), status.INVALID_ARGUMENT);
    const v = await newVolume('validated-nocaps');
    await expectCode(validate({ volume_id: v.volume_id, volume_capabilities: [] }), status.INVALID_ARGUMENT);
  });
});

describe('ListVolumes', () => {
  let lister: string;
  const ids: string[] = [];

  beforeAll(async () => {
    lister = await newService(h.polly, 'lister');
    for (const name of ['a', 'b', 'c', 'd']) {
      const res = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
        name,
        volume_capabilities: [MOUNT_RWO],
        capacity_range: { required_bytes: MiB, limit_bytes: 0 },
        parameters: { pool: 'mem' },
        secrets: secrets(lister),
      });
      ids.push(res.volume?.volume_id ?? '');
    }
  });

  const list = (req: Partial<csi.ListVolumesRequest>) => h.client.controller<csi.ListVolumesResponse>('ListVolumes', req, bearer(lister));

  it('walks every volume one page of max_entries 1 at a time', async () => {
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; pages < 10; pages++) {
      const page = await list({ max_entries: 1, starting_token: token });
      expect(page.entries.length).toBeLessThanOrEqual(1);
      seen.push(...page.entries.map((e) => e.volume?.volume_id ?? ''));
      token = page.next_token;
      if (token === '') break;
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('without max_entries returns everything, with capacity and no next token', async () => {
    const all = await list({});
    expect(all.entries.map((e) => e.volume?.volume_id).sort()).toEqual([...ids].sort());
    expect(all.entries.every((e) => e.volume?.capacity_bytes === MiB)).toBe(true);
    expect(all.next_token).toBe('');
  });

  it('a bad starting_token is ABORTED; a negative max_entries is INVALID_ARGUMENT', async () => {
    await expectCode(list({ starting_token: 'invalid-token' }), status.ABORTED);
    await expectCode(list({ max_entries: -1 }), status.INVALID_ARGUMENT);
  });
});

describe('ControllerGetVolume', () => {
  it('returns the volume and a normal condition', async () => {
    const v = await newVolume('got');
    const res = await h.client.controller<csi.ControllerGetVolumeResponse>('ControllerGetVolume', { volume_id: v.volume_id }, bearer(token));
    expect(res.volume).toMatchObject({ volume_id: v.volume_id, capacity_bytes: v.capacity_bytes });
    expect(res.status?.volume_condition?.abnormal).toBe(false);
    expect(res.status?.published_node_ids).toEqual([]);
  });

  it('flags a volume in error as abnormal, with the reason', async () => {
    const v = await newVolume('broken');
    await app().ctx.store.db.updateTable('volumes').set({ status: 'error', status_reason: 'disk on fire' }).where('id', '=', v.volume_id).execute();
    const res = await h.client.controller<csi.ControllerGetVolumeResponse>('ControllerGetVolume', { volume_id: v.volume_id }, bearer(token));
    expect(res.status?.volume_condition).toEqual({ abnormal: true, message: 'error: disk on fire' });
  });

  it('an unknown volume is NOT_FOUND', async () => {
    await expectCode(h.client.controller('ControllerGetVolume', { volume_id: 'vol-unknown' }, bearer(token)), status.NOT_FOUND);
  });
});

describe('ControllerExpandVolume', () => {
  const expand = (volume_id: string, required: number, limit = 0) =>
    h.client.controller<csi.ControllerExpandVolumeResponse>('ControllerExpandVolume', {
      volume_id,
      capacity_range: { required_bytes: required, limit_bytes: limit },
      secrets: secrets(token),
    });

  it('grows a volume; a directory pool needs no node expansion', async () => {
    const v = await newVolume('grow', 2 * MiB, { pool: 'disk' });
    const res = await expand(v.volume_id, 6 * MiB);
    expect(res).toEqual({ capacity_bytes: 6 * MiB, node_expansion_required: false });
    expect((await app().volumes.get(ADMIN, v.volume_id)).sizeBytes).toBe(6 * MiB);
  });

  it('a block-backed pool needs the filesystem grown on the node, a raw block volume does not', async () => {
    const fs = await newVolume('grow-fs', 2 * MiB, { pool: 'mem' });
    expect(await expand(fs.volume_id, 4 * MiB)).toEqual({ capacity_bytes: 4 * MiB, node_expansion_required: true });
    const raw = await createVolume({ name: 'grow-raw', volume_capabilities: [BLOCK_RWO], capacity_range: { required_bytes: 2 * MiB, limit_bytes: 0 }, parameters: { pool: 'mem', profile: 'raw' } });
    const res = await h.client.controller<csi.ControllerExpandVolumeResponse>('ControllerExpandVolume', {
      volume_id: raw.volume?.volume_id,
      capacity_range: { required_bytes: 4 * MiB, limit_bytes: 0 },
      volume_capability: BLOCK_RWO,
      secrets: secrets(token),
    });
    expect(res).toEqual({ capacity_bytes: 4 * MiB, node_expansion_required: false });
  });

  it('is idempotent and never shrinks', async () => {
    const v = await newVolume('grow-twice', 4 * MiB, { pool: 'disk' });
    expect((await expand(v.volume_id, 8 * MiB)).capacity_bytes).toBe(8 * MiB);
    expect((await expand(v.volume_id, 8 * MiB)).capacity_bytes).toBe(8 * MiB);
    expect((await expand(v.volume_id, 2 * MiB)).capacity_bytes).toBe(8 * MiB);
  });

  it('refuses bad arguments, an unknown volume and a limit below the current size', async () => {
    const v = await newVolume('grow-bad', 4 * MiB, { pool: 'disk' });
    await expectCode(expand('', MiB), status.INVALID_ARGUMENT);
    await expectCode(expand(v.volume_id, 0), status.INVALID_ARGUMENT);
    await expectCode(
      h.client.controller('ControllerExpandVolume', { volume_id: v.volume_id, secrets: secrets(token) }),
      status.INVALID_ARGUMENT,
    );
    await expectCode(expand('vol-unknown', 8 * MiB), status.NOT_FOUND);
    await expectCode(expand(v.volume_id, MiB, 2 * MiB), status.OUT_OF_RANGE);
  });
});

describe('GetCapacity', () => {
  const capacity = (req: Partial<csi.GetCapacityRequest>) => h.client.controller<csi.GetCapacityResponse>('GetCapacity', req, bearer(token));

  it('sums the free bytes of the enabled pools, or of the one named', async () => {
    const pools = await app().pools.list(ADMIN);
    const free = (name: string) => pools.find((p) => p.name === name)?.capacity.freeBytes ?? -1;
    const all = await capacity({});
    // Free space of a real filesystem moves; compare within a margin.
    expect(Math.abs(all.available_capacity - (free('mem') + free('disk')))).toBeLessThan(64 * MiB);
    const mem = await capacity({ parameters: { pool: 'mem' } });
    expect(mem.available_capacity).toBe(free('mem'));
    expect(mem.maximum_volume_size?.value).toBe(free('mem'));
  });

  it('counts only pools that can serve the capabilities and the profile', async () => {
    const block = await capacity({ volume_capabilities: [BLOCK_RWO], parameters: { pool: 'disk', profile: 'raw' } });
    expect(block.available_capacity).toBe(0);
    await expectCode(capacity({ parameters: { profile: 'gold' } }), status.INVALID_ARGUMENT);
  });
});

describe('capabilities', () => {
  it('ControllerGetCapabilities lists exactly what is implemented', async () => {
    const res = await h.client.controller<csi.ControllerGetCapabilitiesResponse>('ControllerGetCapabilities');
    expect(res.capabilities.map((c) => c.rpc?.type).sort()).toEqual(
      [
        'CLONE_VOLUME',
        'CREATE_DELETE_SNAPSHOT',
        'CREATE_DELETE_VOLUME',
        'EXPAND_VOLUME',
        'GET_CAPACITY',
        'GET_VOLUME',
        'LIST_SNAPSHOTS',
        'LIST_VOLUMES',
        'MODIFY_VOLUME',
        'PUBLISH_READONLY',
        'PUBLISH_UNPUBLISH_VOLUME',
      ].sort(),
    );
  });
});

describe('ControllerModifyVolume (mutable parameters: profile)', () => {
  const modify = (volumeId: string, mutable: Record<string, string>) =>
    h.client.controller('ControllerModifyVolume', { volume_id: volumeId, mutable_parameters: mutable, secrets: secrets(token) });
  const usageOf = async (profile: string) => (await app().quotas.get(ADMIN, 'k8s')).usage.profileBytes[profile] ?? 0;

  it('moves a volume to another profile in place, with its usage; again is a no-op', async () => {
    const v = await newVolume('mod-fast', 4 * MiB);
    const before = await usageOf('default');
    await modify(v.volume_id, { profile: 'fast' });
    const stored = await app().volumes.get(ADMIN, v.volume_id);
    expect(stored.profile).toBe('fast');
    expect(stored.pool).toBe('mem');
    expect(await usageOf('fast')).toBe(4 * MiB);
    expect(await usageOf('default')).toBe(before - 4 * MiB);
    await modify(v.volume_id, { profile: 'fast' });
    expect(await usageOf('fast')).toBe(4 * MiB);
  });

  it('CreateVolume applies the mutable profile (a VolumeAttributesClass) from the start', async () => {
    const res = await createVolume({ name: 'mod-vac', capacity_range: { required_bytes: MiB, limit_bytes: 0 }, parameters: { pool: 'mem' }, mutable_parameters: { profile: 'fast' } });
    expect((await app().volumes.get(ADMIN, res.volume!.volume_id)).profile).toBe('fast');
  });

  it('refuses what it cannot change, what does not fit, and a missing volume', async () => {
    const v = await newVolume('mod-refused', 4 * MiB, { pool: 'disk' });
    const unknown = await expectCode(modify(v.volume_id, { iops: '100' }), status.INVALID_ARGUMENT);
    expect(unknown.details).toContain('"iops" cannot be changed');
    // QoS on a pool whose driver has none, a size the profile does not allow, a pool it excludes, another mode.
    expect((await expectCode(modify(v.volume_id, { profile: 'fast' }), status.INVALID_ARGUMENT)).details).toContain('QoS');
    expect((await expectCode(modify(v.volume_id, { profile: 'small' }), status.INVALID_ARGUMENT)).details).toContain('outside');
    expect((await expectCode(modify(v.volume_id, { profile: 'mem-only' }), status.INVALID_ARGUMENT)).details).toContain('does not allow pool disk');
    expect((await expectCode(modify(v.volume_id, { profile: 'raw' }), status.INVALID_ARGUMENT)).details).toContain('block');
    expect((await expectCode(modify(v.volume_id, { profile: 'gold' }), status.INVALID_ARGUMENT)).details).toContain('profile');
    expect((await app().volumes.get(ADMIN, v.volume_id)).profile).toBe('default');
    await expectCode(modify('vol-missing', { profile: 'fast' }), status.NOT_FOUND);
    await expectCode(modify('', { profile: 'fast' }), status.INVALID_ARGUMENT);
  });
});
