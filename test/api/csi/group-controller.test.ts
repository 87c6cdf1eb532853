import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { ADMIN } from '../../../src/core/types.js';
import { newService } from '../../helpers/polly.js';
import { expectCode, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const MiB = 1024 * 1024;

let h: CsiHarness;
let token: string;
let a: string;
let b: string;
let c: string;

const group = <Res>(method: string, request: object) => h.client.call<Res>('GroupController', method, request);

async function createVolume(name: string): Promise<string> {
  const res = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name,
    volume_capabilities: [MOUNT_RWO],
    capacity_range: { required_bytes: 4 * MiB, limit_bytes: 0 },
    secrets: secrets(token),
  });
  return res.volume?.volume_id ?? '';
}

const createGroup = (name: string, source_volume_ids: string[], parameters: Record<string, string> = {}) =>
  group<csi.CreateVolumeGroupSnapshotResponse>('CreateVolumeGroupSnapshot', { name, source_volume_ids, parameters, secrets: secrets(token) });

beforeAll(async () => {
  h = await startCsi();
  token = await newService(h.polly, 'k8s');
  a = await createVolume('db-data');
  b = await createVolume('db-wal');
  c = await createVolume('other');
});
afterAll(async () => {
  await h?.stop();
});

describe('Identity and capabilities', () => {
  it('the plugin offers the GroupController service, which offers group snapshots', async () => {
    const caps = await h.client.identity<csi.GetPluginCapabilitiesResponse>('GetPluginCapabilities');
    expect(caps.capabilities.map((x) => x.service?.type)).toContain('GROUP_CONTROLLER_SERVICE');
    const g = await group<csi.GroupControllerGetCapabilitiesResponse>('GroupControllerGetCapabilities', {});
    expect(g.capabilities).toEqual([{ rpc: { type: 'CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT' }, type: 'rpc' }]);
  });
});

describe('CreateVolumeGroupSnapshot', () => {
  it('cuts one ready snapshot per volume, each naming its group and source', async () => {
    const before = Math.floor(Date.now() / 1000) - 1;
    const { group_snapshot: g } = await createGroup('groupsnapshot-1', [a, b]);
    expect(g?.group_snapshot_id).toMatch(/^gsnap-/);
    expect(g?.ready_to_use).toBe(true);
    expect(g?.creation_time?.seconds).toBeGreaterThanOrEqual(before);
    expect(g?.snapshots.map((s) => s.source_volume_id)).toEqual([a, b]);
    for (const s of g?.snapshots ?? []) expect(s).toMatchObject({ group_snapshot_id: g?.group_snapshot_id, ready_to_use: true, size_bytes: 4 * MiB });
    // The members are ordinary snapshots too: listed, and a source for new volumes.
    const listed = await h.client.controller<csi.ListSnapshotsResponse>('ListSnapshots', { snapshot_id: g?.snapshots[0]?.snapshot_id, secrets: secrets(token) });
    expect(listed.entries[0]?.snapshot?.group_snapshot_id).toBe(g?.group_snapshot_id);
  });

  it('is idempotent by name (any order); the same name over other volumes is ALREADY_EXISTS', async () => {
    const first = await createGroup('groupsnapshot-twice', [a, b]);
    const again = await createGroup('groupsnapshot-twice', [b, a]);
    expect(again.group_snapshot?.group_snapshot_id).toBe(first.group_snapshot?.group_snapshot_id);
    expect(again.group_snapshot?.snapshots.map((s) => s.snapshot_id)).toEqual(first.group_snapshot?.snapshots.map((s) => s.snapshot_id));
    await expectCode(createGroup('groupsnapshot-twice', [a, c]), status.ALREADY_EXISTS);
  });

  it('refuses missing arguments, a volume listed twice and unknown parameters; an unknown volume is NOT_FOUND and leaves nothing', async () => {
    await expectCode(createGroup('', [a]), status.INVALID_ARGUMENT);
    await expectCode(createGroup('nosources', []), status.INVALID_ARGUMENT);
    await expectCode(createGroup('twice', [a, a]), status.INVALID_ARGUMENT);
    await expectCode(createGroup('params', [a], { speed: 'fast' }), status.INVALID_ARGUMENT);
    await expectCode(createGroup('orphan', [a, 'vol-unknown']), status.NOT_FOUND);
    expect(await h.polly.server.app.groupSnapshots.findByName({ kind: 'service', service: 'k8s' }, 'orphan')).toBeUndefined();
  });

  it('a member cannot be deleted on its own: DeleteSnapshot is FAILED_PRECONDITION', async () => {
    const { group_snapshot: g } = await createGroup('groupsnapshot-members', [a]);
    await expectCode(h.client.controller('DeleteSnapshot', { snapshot_id: g?.snapshots[0]?.snapshot_id, secrets: secrets(token) }), status.FAILED_PRECONDITION);
  });
});

describe('GetVolumeGroupSnapshot', () => {
  it('answers the group; a missing id is INVALID_ARGUMENT, an unknown one NOT_FOUND, a wrong member list INVALID_ARGUMENT', async () => {
    const { group_snapshot: g } = await createGroup('groupsnapshot-get', [a, c]);
    const ids = g?.snapshots.map((s) => s.snapshot_id) ?? [];
    const got = await group<csi.GetVolumeGroupSnapshotResponse>('GetVolumeGroupSnapshot', { group_snapshot_id: g?.group_snapshot_id, snapshot_ids: ids, secrets: secrets(token) });
    expect(got.group_snapshot).toEqual(g);
    await expectCode(group('GetVolumeGroupSnapshot', { secrets: secrets(token) }), status.INVALID_ARGUMENT);
    await expectCode(group('GetVolumeGroupSnapshot', { group_snapshot_id: 'gsnap-unknown', secrets: secrets(token) }), status.NOT_FOUND);
    await expectCode(group('GetVolumeGroupSnapshot', { group_snapshot_id: g?.group_snapshot_id, snapshot_ids: [ids[0]], secrets: secrets(token) }), status.INVALID_ARGUMENT);
  });

  it('another service does not see the group', async () => {
    const { group_snapshot: g } = await createGroup('groupsnapshot-private', [a]);
    const otherToken = await newService(h.polly, 'k8s-other');
    await expectCode(group('GetVolumeGroupSnapshot', { group_snapshot_id: g?.group_snapshot_id, secrets: secrets(otherToken) }), status.NOT_FOUND);
  });
});

describe('DeleteVolumeGroupSnapshot', () => {
  it('deletes the group with all its members; again, or an unknown id, is OK; a missing id is INVALID_ARGUMENT', async () => {
    const { group_snapshot: g } = await createGroup('groupsnapshot-doomed', [a, b]);
    const id = g?.group_snapshot_id ?? '';
    await expectCode(group('DeleteVolumeGroupSnapshot', { group_snapshot_id: id, snapshot_ids: ['snap-other'], secrets: secrets(token) }), status.INVALID_ARGUMENT);
    await group('DeleteVolumeGroupSnapshot', { group_snapshot_id: id, snapshot_ids: g?.snapshots.map((s) => s.snapshot_id), secrets: secrets(token) });
    await expect(h.polly.server.app.groupSnapshots.get(ADMIN, id)).rejects.toMatchObject({ code: 'GROUP_SNAPSHOT_NOT_FOUND' });
    for (const s of g?.snapshots ?? []) await expect(h.polly.server.app.snapshots.get(ADMIN, s.snapshot_id)).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await group('DeleteVolumeGroupSnapshot', { group_snapshot_id: id, secrets: secrets(token) });
    await group('DeleteVolumeGroupSnapshot', { group_snapshot_id: 'gsnap-unknown', secrets: secrets(token) });
    await expectCode(group('DeleteVolumeGroupSnapshot', { secrets: secrets(token) }), status.INVALID_ARGUMENT);
  });
});
