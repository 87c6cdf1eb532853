import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { ADMIN } from '../../../src/core/types.js';
import { ADMIN_TOKEN, newService } from '../../helpers/polly.js';
import { bearer, expectCode, MOUNT_RWO, secrets, startCsi, type CsiClient, type CsiHarness } from './csi-harness.js';

const MiB = 1024 * 1024;

let h: CsiHarness;
let owner: string;
let intruder: string;
let volumeId: string;
let snapshotId: string;

beforeAll(async () => {
  h = await startCsi();
  owner = await newService(h.polly, 'owner');
  intruder = await newService(h.polly, 'intruder');
  const v = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
    name: 'secret',
    volume_capabilities: [MOUNT_RWO],
    capacity_range: { required_bytes: MiB, limit_bytes: 0 },
    secrets: secrets(owner),
  });
  volumeId = v.volume?.volume_id ?? '';
  const s = await h.client.controller<csi.CreateSnapshotResponse>('CreateSnapshot', { name: 'secret-snap', source_volume_id: volumeId, secrets: secrets(owner) });
  snapshotId = s.snapshot?.snapshot_id ?? '';
});
afterAll(async () => {
  await h?.stop();
});

describe("another service's objects are invisible over CSI", () => {
  it('ValidateVolumeCapabilities and ControllerGetVolume say NOT_FOUND', async () => {
    await expectCode(
      h.client.controller('ValidateVolumeCapabilities', { volume_id: volumeId, volume_capabilities: [MOUNT_RWO], secrets: secrets(intruder) }),
      status.NOT_FOUND,
    );
    const err = await expectCode(h.client.controller('ControllerGetVolume', { volume_id: volumeId }, bearer(intruder)), status.NOT_FOUND);
    expect(err.details).not.toContain('owner');
  });

  it('DeleteVolume and DeleteSnapshot answer OK, and both remain for their owner', async () => {
    await h.client.controller('DeleteSnapshot', { snapshot_id: snapshotId, secrets: secrets(intruder) });
    await h.client.controller('DeleteVolume', { volume_id: volumeId, secrets: secrets(intruder) });
    expect((await h.polly.server.app.volumes.get(ADMIN, volumeId)).status).toBe('available');
    expect((await h.polly.server.app.snapshots.get(ADMIN, snapshotId)).status).toBe('ready');
  });

  it('lists, expansion, snapshots and clones do not reach them', async () => {
    const volumes = await h.client.controller<csi.ListVolumesResponse>('ListVolumes', {}, bearer(intruder));
    expect(volumes.entries).toEqual([]);
    const snaps = await h.client.controller<csi.ListSnapshotsResponse>('ListSnapshots', { snapshot_id: snapshotId, secrets: secrets(intruder) });
    expect(snaps.entries).toEqual([]);
    await expectCode(
      h.client.controller('ControllerExpandVolume', { volume_id: volumeId, capacity_range: { required_bytes: 2 * MiB, limit_bytes: 0 }, secrets: secrets(intruder) }),
      status.NOT_FOUND,
    );
    await expectCode(h.client.controller('CreateSnapshot', { name: 'steal', source_volume_id: volumeId, secrets: secrets(intruder) }), status.NOT_FOUND);
    await expectCode(
      h.client.controller('CreateVolume', {
        name: 'clone',
        volume_capabilities: [MOUNT_RWO],
        volume_content_source: { volume: { volume_id: volumeId } },
        secrets: secrets(intruder),
      }),
      status.NOT_FOUND,
    );
  });

  it('the same name in two services is two volumes', async () => {
    const mine = await h.client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'secret',
      volume_capabilities: [MOUNT_RWO],
      capacity_range: { required_bytes: MiB, limit_bytes: 0 },
      secrets: secrets(intruder),
    });
    expect(mine.volume?.volume_id).not.toBe(volumeId);
  });
});

describe('caller identity', () => {
  const calls: Array<[string, (token: string | undefined) => [string, object, ReturnType<typeof bearer> | undefined]]> = [
    ['CreateVolume', (t) => ['CreateVolume', { name: 'x', volume_capabilities: [MOUNT_RWO], secrets: t ? secrets(t) : {} }, undefined]],
    ['DeleteVolume', (t) => ['DeleteVolume', { volume_id: 'vol-x', secrets: t ? secrets(t) : {} }, undefined]],
    ['ListVolumes', (t) => ['ListVolumes', {}, t ? bearer(t) : undefined]],
    ['GetCapacity', (t) => ['GetCapacity', {}, t ? bearer(t) : undefined]],
    ['ListSnapshots', (t) => ['ListSnapshots', { secrets: t ? secrets(t) : {} }, undefined]],
  ];
  for (const [name, build] of calls) {
    it(`${name}: a missing or an invalid token is UNAUTHENTICATED`, async () => {
      const [method, req, md] = build(undefined);
      const missing = await expectCode(h.client.controller(method, req, md), status.UNAUTHENTICATED);
      expect(missing.details).toContain('pollyToken');
      const [m2, r2, md2] = build('not-a-real-token-0123456789');
      await expectCode(h.client.controller(m2, r2, md2), status.UNAUTHENTICATED);
    });
  }

  it('the admin token cannot act on an endpoint shared by services', async () => {
    await expectCode(h.client.controller('ListVolumes', {}, bearer(ADMIN_TOKEN)), status.PERMISSION_DENIED);
  });

  describe('an endpoint bound to one service', () => {
    let bound: CsiClient;
    beforeAll(async () => {
      bound = await h.open({ name: 'owner', service: 'owner' });
    });

    it('acts as that service without a token', async () => {
      const list = await bound.controller<csi.ListVolumesResponse>('ListVolumes', {});
      expect(list.entries.map((e) => e.volume?.volume_id)).toContain(volumeId);
      const got = await bound.controller<csi.ControllerGetVolumeResponse>('ControllerGetVolume', { volume_id: volumeId });
      expect(got.volume?.volume_id).toBe(volumeId);
    });

    it("refuses another service's token, takes the admin token as the bound service", async () => {
      await expectCode(bound.controller('ListVolumes', {}, bearer(intruder)), status.PERMISSION_DENIED);
      await expectCode(bound.controller('ListVolumes', {}, bearer('not-a-real-token-0123456789')), status.UNAUTHENTICATED);
      const asAdmin = await bound.controller<csi.ListVolumesResponse>('ListVolumes', {}, bearer(ADMIN_TOKEN));
      expect(asAdmin.entries.map((e) => e.volume?.volume_id)).toContain(volumeId);
    });

    it('cannot be bound to a service that does not exist', async () => {
      await expect(h.open({ name: 'ghost', service: 'ghost' })).rejects.toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    });
  });
});
