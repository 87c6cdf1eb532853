import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { ADMIN } from '../../../src/core/types.js';
import { newService } from '../../helpers/polly.js';
import { expectCode, MOUNT_RWO, secrets, startCsi, type CsiHarness } from './csi-harness.js';

const MiB = 1024 * 1024;

let h: CsiHarness;
let token: string;
let volumeId: string;
let otherVolumeId: string;

async function createVolume(name: string, extra: Partial<csi.CreateVolumeRequest> = {}): Promise<csi.Volume> {
  const res = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name,
    volume_capabilities: [MOUNT_RWO],
    capacity_range: { required_bytes: 4 * MiB, limit_bytes: 0 },
    secrets: secrets(token),
    ...extra,
  });
  if (!res.volume) throw new Error('no volume');
  return res.volume;
}

const createSnapshot = (name: string, source_volume_id: string, parameters: Record<string, string> = {}) =>
  h.client.controller<csi.CreateSnapshotResponse>('CreateSnapshot', { name, source_volume_id, parameters, secrets: secrets(token) });

const listSnapshots = (req: Partial<csi.ListSnapshotsRequest>) =>
  h.client.controller<csi.ListSnapshotsResponse>('ListSnapshots', { secrets: secrets(token), ...req });

beforeAll(async () => {
  h = await startCsi();
  token = await newService(h.polly, 'k8s');
  volumeId = (await createVolume('source')).volume_id;
  otherVolumeId = (await createVolume('other-source')).volume_id;
});
afterAll(async () => {
  await h?.stop();
});

describe('CreateSnapshot', () => {
  it('takes a ready snapshot with its size, source and creation time', async () => {
    const before = Math.floor(Date.now() / 1000) - 1;
    const { snapshot } = await createSnapshot('snapshot-1', volumeId);
    expect(snapshot).toMatchObject({ source_volume_id: volumeId, size_bytes: 4 * MiB, ready_to_use: true });
    expect(snapshot?.snapshot_id).toMatch(/^snap-/);
    expect(snapshot?.creation_time?.seconds).toBeGreaterThanOrEqual(before);
  });

  it('is idempotent by name; the same name for another volume is ALREADY_EXISTS', async () => {
    const first = await createSnapshot('snapshot-twice', volumeId);
    const again = await createSnapshot('snapshot-twice', volumeId);
    expect(again.snapshot?.snapshot_id).toBe(first.snapshot?.snapshot_id);
    await expectCode(createSnapshot('snapshot-twice', otherVolumeId), status.ALREADY_EXISTS);
  });

  it('refuses missing arguments and unknown parameters; an unknown source is NOT_FOUND', async () => {
    await expectCode(createSnapshot('', volumeId), status.INVALID_ARGUMENT);
    await expectCode(createSnapshot('nosource', ''), status.INVALID_ARGUMENT);
    await expectCode(createSnapshot('params', volumeId, { speed: 'fast' }), status.INVALID_ARGUMENT);
    await expectCode(createSnapshot('orphan', 'vol-unknown'), status.NOT_FOUND);
  });
});

describe('DeleteSnapshot', () => {
  it('deletes, and deleting again or an unknown id is OK', async () => {
    const { snapshot } = await createSnapshot('snapshot-doomed', volumeId);
    const id = snapshot?.snapshot_id ?? '';
    await h.client.controller('DeleteSnapshot', { snapshot_id: id, secrets: secrets(token) });
    await expect(h.polly.server.app.snapshots.get(ADMIN, id)).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await h.client.controller('DeleteSnapshot', { snapshot_id: id, secrets: secrets(token) });
    await h.client.controller('DeleteSnapshot', { snapshot_id: 'snap-unknown', secrets: secrets(token) });
    await expectCode(h.client.controller('DeleteSnapshot', { snapshot_id: '', secrets: secrets(token) }), status.INVALID_ARGUMENT);
  });
});

describe('ListSnapshots', () => {
  let ids: string[];
  let lister: string;

  beforeAll(async () => {
    lister = await newService(h.polly, 'snap-lister');
    const vol = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'vol',
      volume_capabilities: [MOUNT_RWO],
      capacity_range: { required_bytes: MiB, limit_bytes: 0 },
      secrets: secrets(lister),
    });
    const vol2 = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'vol2',
      volume_capabilities: [MOUNT_RWO],
      capacity_range: { required_bytes: MiB, limit_bytes: 0 },
      secrets: secrets(lister),
    });
    ids = [];
    for (const [name, vid] of [['s1', vol.volume?.volume_id], ['s2', vol.volume?.volume_id], ['s3', vol2.volume?.volume_id]] as const) {
      const res = await h.client.controller<csi.CreateSnapshotResponse>('CreateSnapshot', { name, source_volume_id: vid, secrets: secrets(lister) });
      ids.push(res.snapshot?.snapshot_id ?? '');
    }
  });

  const list = (req: Partial<csi.ListSnapshotsRequest>) => listSnapshots({ secrets: secrets(lister), ...req });

  it('walks every snapshot one page at a time', async () => {
    const seen: string[] = [];
    let next = '';
    for (let pages = 0; pages < 10; pages++) {
      const page = await list({ max_entries: 1, starting_token: next });
      seen.push(...page.entries.map((e) => e.snapshot?.snapshot_id ?? ''));
      next = page.next_token;
      if (next === '') break;
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('filters by snapshot_id and by source_volume_id', async () => {
    const [s1, , s3] = ids;
    const one = await list({ snapshot_id: s1 });
    expect(one.entries.map((e) => e.snapshot?.snapshot_id)).toEqual([s1]);
    const source = one.entries[0]?.snapshot?.source_volume_id ?? '';
    const ofVolume = await list({ source_volume_id: source });
    expect(ofVolume.entries.map((e) => e.snapshot?.snapshot_id).sort()).toEqual(ids.slice(0, 2).sort());
    const mismatch = await list({ snapshot_id: s3, source_volume_id: source });
    expect(mismatch.entries).toEqual([]);
  });

  it('an unknown snapshot or volume gives an empty list; a bad token is ABORTED', async () => {
    expect((await list({ snapshot_id: 'snap-unknown' })).entries).toEqual([]);
    expect((await list({ source_volume_id: 'vol-unknown' })).entries).toEqual([]);
    await expectCode(list({ starting_token: 'invalid-token' }), status.ABORTED);
  });

  it('GetSnapshot returns one snapshot, NOT_FOUND for others', async () => {
    const res = await h.client.controller<csi.GetSnapshotResponse>('GetSnapshot', { snapshot_id: ids[0], secrets: secrets(lister) });
    expect(res.snapshot?.snapshot_id).toBe(ids[0]);
    await expectCode(h.client.controller('GetSnapshot', { snapshot_id: ids[0], secrets: secrets(token) }), status.NOT_FOUND);
  });
});

describe('volumes from snapshots and volumes', () => {
  it('restores a snapshot into a new volume, idempotently, reporting its source', async () => {
    const { snapshot } = await createSnapshot('snapshot-restore', volumeId);
    const source = { snapshot: { snapshot_id: snapshot?.snapshot_id ?? '' } };
    const restored = await createVolume('restored', { volume_content_source: source });
    expect(restored.content_source?.snapshot?.snapshot_id).toBe(snapshot?.snapshot_id);
    const again = await createVolume('restored', { volume_content_source: source });
    expect(again.volume_id).toBe(restored.volume_id);
    // The same name from another source is not the same volume.
    await expectCode(createVolume('restored', { volume_content_source: { volume: { volume_id: volumeId } } }), status.ALREADY_EXISTS);
    await expectCode(createVolume('restored'), status.ALREADY_EXISTS);
  });

  it('without required bytes a restore takes at least the snapshot size', async () => {
    const { snapshot } = await createSnapshot('snapshot-size', volumeId);
    const res = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'restored-default',
      volume_capabilities: [MOUNT_RWO],
      capacity_range: { required_bytes: 0, limit_bytes: 4 * MiB },
      volume_content_source: { snapshot: { snapshot_id: snapshot?.snapshot_id ?? '' } },
      secrets: secrets(token),
    });
    expect(res.volume?.capacity_bytes).toBe(4 * MiB);
  });

  it('clones a volume', async () => {
    const clone = await createVolume('clone', { volume_content_source: { volume: { volume_id: volumeId } } });
    expect(clone.content_source?.volume?.volume_id).toBe(volumeId);
    expect((await h.polly.server.app.volumes.get(ADMIN, clone.volume_id)).source).toEqual({ kind: 'volume', id: volumeId });
  });

  it('an unknown source is NOT_FOUND; a source smaller than the limit allows is OUT_OF_RANGE', async () => {
    await expectCode(createVolume('from-nothing', { volume_content_source: { snapshot: { snapshot_id: 'snap-unknown' } } }), status.NOT_FOUND);
    await expectCode(
      createVolume('too-small', { capacity_range: { required_bytes: MiB, limit_bytes: 2 * MiB }, volume_content_source: { volume: { volume_id: volumeId } } }),
      status.OUT_OF_RANGE,
    );
  });

  it('a volume with snapshots cannot be deleted (FAILED_PRECONDITION)', async () => {
    const v = await createVolume('has-snapshots');
    await createSnapshot('pinning', v.volume_id);
    await expectCode(h.client.controller('DeleteVolume', { volume_id: v.volume_id, secrets: secrets(token) }), status.FAILED_PRECONDITION);
  });
});
