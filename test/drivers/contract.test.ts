import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateVolumeRequest, DriverCapabilities, StageRequest, StorageDriver } from '../../src/core/ports/driver.js';
import { pathExists } from '../../src/drivers/system/pool-path.js';
import { Cleanup } from '../helpers/loopfs.js';
import { DRIVERS, MiB, type PoolUnderTest } from './harnesses.js';

/** The storage driver contract (src/core/ports/driver.ts), run against every driver on a real backend. */

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

for (const harness of DRIVERS) {
  // Networked backends (Ceph, Cinder) take tens of seconds per case on a loaded machine; the 60 s
  // default once cut a passing case short.
  describe(harness.name, { timeout: 180_000 }, () => {
    const cleanup = new Cleanup();
    let pool: PoolUnderTest;
    let driver: StorageDriver;
    let caps: DriverCapabilities;
    let seq = 0;
    const newId = (prefix: 'vol' | 'snap') => `${prefix}-${harness.name}-${++seq}`;

    // Networked backends (Ceph, Cinder with its broker and database) take minutes to come up on a busy machine.
    beforeAll(async () => {
      pool = await harness.open(cleanup);
      driver = pool.driver;
      caps = driver.capabilities;
    }, 300_000);
    afterAll(() => cleanup.run());

    /** Stages with what a networked driver's controller half answered for this node (its publish context). */
    const stageVolume = async (req: StageRequest) => driver.node.stage({ ...req, ...(await pool.stageExtras?.(req.backendId)) });

    /**
     * The backend id each create and snapshot answered, by Polly's id, as Polly's store records it: a
     * driver whose backend names objects itself (a CSI plugin's volume_id) answers ids of its own.
     */
    const backendIds = new Map<string, string>();
    const b = (id: string): string => backendIds.get(id) ?? id;

    const createVolume = async (volumeId: string, extra: Partial<CreateVolumeRequest> = {}) => {
      const created = await driver.create({ volumeId, sizeBytes: pool.volumeSize, volumeMode: 'filesystem', fsType: pool.fsType, ...extra });
      backendIds.set(volumeId, created.backendId);
      return created;
    };
    const takeSnapshot = async (volumeId: string, snapshotId: string) => {
      const snap = await driver.snapshot(b(volumeId), snapshotId);
      backendIds.set(snapshotId, snap.backendId);
      return snap;
    };

    /** Stages and publishes a filesystem volume at fresh paths. */
    async function attach(id: string, opts: { readOnly: boolean } = { readOnly: false }) {
      const backendId = b(id);
      const dir = await pool.scratch();
      const stagingPath = join(dir, 'staging');
      const targetPath = join(dir, 'target');
      await stageVolume({ backendId, volumeId: backendId, stagingPath, volumeMode: 'filesystem', fsType: pool.fsType });
      await driver.node.publish({ backendId, volumeId: backendId, stagingPath, targetPath, volumeMode: 'filesystem', readOnly: opts.readOnly });
      return {
        stagingPath,
        targetPath,
        async detach() {
          await driver.node.unpublish({ backendId, volumeId: backendId, targetPath });
          await driver.node.unstage({ backendId, volumeId: backendId, stagingPath });
        },
      };
    }

    async function withAttached<T>(backendId: string, fn: (target: string) => Promise<T>, opts?: { readOnly: boolean }): Promise<T> {
      const a = await attach(backendId, opts);
      try {
        return await fn(a.targetPath);
      } finally {
        await a.detach();
      }
    }

    it('init is idempotent and capacity is real', async () => {
      await driver.init();
      const cap = await driver.capacity();
      expect(cap.totalBytes).toBeGreaterThan(0);
      expect(cap.freeBytes).toBeGreaterThanOrEqual(0);
      expect(cap.freeBytes).toBeLessThanOrEqual(cap.totalBytes);
    });

    it('creates a volume, and a repeat returns the same object', async () => {
      const id = newId('vol');
      const first = await createVolume(id);
      if (!pool.opaqueBackendIds) expect(first.backendId).toBe(id);
      expect(first.sizeBytes).toBeGreaterThanOrEqual(pool.volumeSize);
      expect(await createVolume(id)).toEqual(first);
      expect(await pool.onBackend('volume', b(id))).toBe(true);
      expect(await driver.list()).toContainEqual(expect.objectContaining({ backendId: b(id), kind: 'volume', sizeBytes: first.sizeBytes }));
    });

    it('keeps data written through the node half; snapshots, restores and clones it byte for byte', async () => {
      const id = newId('vol');
      await createVolume(id);
      const original = randomBytes(MiB);
      await withAttached(id, (t) => pool.writeFile(t, 'data.bin', original));
      await withAttached(id, async (t) => expect((await pool.readFile(t, 'data.bin')).equals(original)).toBe(true));
      let current = original;

      if (!caps.snapshots) {
        await expectCode(driver.snapshot(b(id), newId('snap')), 'UNSUPPORTED');
      } else {
        const snapId = newId('snap');
        const snap = await takeSnapshot(id, snapId);
        if (!pool.opaqueBackendIds) expect(snap.backendId).toBe(snapId);
        expect(snap.sizeBytes).toBeGreaterThanOrEqual(pool.volumeSize);
        expect(await takeSnapshot(id, snapId)).toEqual(snap);
        expect(await pool.onBackend('snapshot', b(snapId))).toBe(true);

        const changed = randomBytes(MiB);
        await withAttached(id, (t) => pool.writeFile(t, 'data.bin', changed));
        current = changed;

        if (caps.restore) {
          const restored = newId('vol');
          const made = await createVolume(restored, { source: { kind: 'snapshot', backendId: b(snapId) } });
          expect(await createVolume(restored, { source: { kind: 'snapshot', backendId: b(snapId) } })).toEqual(made);
          await withAttached(restored, async (t) => expect((await pool.readFile(t, 'data.bin')).equals(original)).toBe(true));
        }
      }
      if (!caps.restore) {
        await expectCode(createVolume(newId('vol'), { source: { kind: 'snapshot', backendId: 'snap-anything' } }), 'UNSUPPORTED');
      }

      if (caps.clones) {
        const clone = newId('vol');
        await createVolume(clone, { source: { kind: 'volume', backendId: b(id) } });
        await withAttached(clone, async (t) => expect((await pool.readFile(t, 'data.bin')).equals(current)).toBe(true));
      } else {
        await expectCode(createVolume(newId('vol'), { source: { kind: 'volume', backendId: b(id) } }), 'UNSUPPORTED');
      }
      // The source volume still holds its own latest data.
      await withAttached(id, async (t) => expect((await pool.readFile(t, 'data.bin')).equals(current)).toBe(true));
    });

    it('expands online and never shrinks', async () => {
      const id = newId('vol');
      const { sizeBytes } = await createVolume(id);
      if (caps.expand === 'none') {
        await expectCode(driver.expand(b(id), 2 * sizeBytes), 'UNSUPPORTED');
        return;
      }
      const a = await attach(id);
      try {
        const before = await driver.node.stats({ backendId: b(id), path: a.targetPath });
        const grown = await driver.expand(b(id), 2 * sizeBytes);
        expect(grown.sizeBytes).toBeGreaterThanOrEqual(2 * sizeBytes);
        await driver.node.expand({ backendId: b(id), stagingPath: a.stagingPath, sizeBytes: grown.sizeBytes });
        // Repeats, and a smaller size, change nothing.
        expect(await driver.expand(b(id), 2 * sizeBytes)).toEqual(grown);
        expect(await driver.expand(b(id), sizeBytes)).toEqual(grown);
        await driver.node.expand({ backendId: b(id), stagingPath: a.stagingPath, sizeBytes: grown.sizeBytes });
        expect(await driver.list()).toContainEqual(expect.objectContaining({ backendId: b(id), sizeBytes: grown.sizeBytes }));

        if (caps.sizeEnforced) {
          // What the container sees (statfs of the mounted filesystem, or the raised qgroup limit) grew…
          const after = await driver.node.stats({ backendId: b(id), path: a.targetPath });
          expect(after.totalBytes).toBeGreaterThan(before.totalBytes + 0.8 * sizeBytes);
          // …and it can really hold more than the old size now.
          await pool.writeFile(a.targetPath, 'more.bin', Buffer.alloc(Math.round(1.25 * sizeBytes), 0xab));
        }
      } finally {
        await a.detach();
      }
    });

    it('enforces the size it declares', async () => {
      const id = newId('vol');
      const { sizeBytes } = await createVolume(id);
      const tooMuch = Buffer.alloc(sizeBytes + 8 * MiB, 0xcd);
      await withAttached(id, async (t) => {
        if (caps.sizeEnforced) {
          await expect(pool.writeFile(t, 'big.bin', tooMuch)).rejects.toMatchObject({ code: pool.fullErrno });
        } else {
          await pool.writeFile(t, 'big.bin', tooMuch);
        }
      });
    });

    it('reports capacity and usage that follow what is written', async () => {
      const id = newId('vol');
      await createVolume(id);
      await withAttached(id, async (t) => {
        await pool.settle();
        const before = await driver.capacity();
        await pool.writeFile(t, 'fill.bin', randomBytes(32 * MiB));
        await pool.settle();
        const after = await driver.capacity();
        expect(before.freeBytes - after.freeBytes).toBeGreaterThanOrEqual(16 * MiB);
        expect(after.totalBytes).toBe(before.totalBytes);
      });
      if (pool.usageUnknown) expect(await driver.usage(b(id))).toBeUndefined();
      else expect(await driver.usage(b(id))).toBeGreaterThanOrEqual(30 * MiB);
    });

    it('lists objects left on the backend without any record (crash leftovers), and deletes them', async () => {
      const vol = newId('vol');
      const snap = newId('snap');
      const volB = (await pool.plantLeftover('volume', vol)) ?? vol;
      const snapB = (await pool.plantLeftover('snapshot', snap)) ?? snap;
      const listed = await driver.list();
      expect(listed).toContainEqual(expect.objectContaining({ backendId: volB, kind: 'volume' }));
      expect(listed).toContainEqual(expect.objectContaining({ backendId: snapB, kind: 'snapshot' }));
      await driver.delete(volB);
      await driver.deleteSnapshot(snapB);
      expect(await pool.onBackend('volume', volB)).toBe(false);
      expect(await pool.onBackend('snapshot', snapB)).toBe(false);
    });

    it('deletes volumes and snapshots for real; repeats and unknown ids succeed', async () => {
      const id = newId('vol');
      await createVolume(id);
      const snapId = newId('snap');
      if (caps.snapshots) await takeSnapshot(id, snapId);
      await driver.deleteSnapshot(b(snapId));
      await driver.deleteSnapshot(b(snapId));
      await driver.delete(b(id));
      await driver.delete(b(id));
      await driver.delete('vol-never-existed');
      expect(await pool.onBackend('volume', b(id))).toBe(false);
      expect(await pool.onBackend('snapshot', b(snapId))).toBe(false);
      const listed = (await driver.list()).map((o) => o.backendId);
      expect(listed).not.toContain(b(id));
      expect(listed).not.toContain(b(snapId));
    });

    it('answers NOT_FOUND for missing volumes and VALIDATION_FAILED for ids that are not names', async () => {
      await expectCode(driver.expand('vol-missing', pool.volumeSize), caps.expand === 'none' ? 'UNSUPPORTED' : 'NOT_FOUND');
      await expectCode(driver.usage('vol-missing'), 'NOT_FOUND');
      if (caps.snapshots) await expectCode(driver.snapshot('vol-missing', newId('snap')), 'NOT_FOUND');
      if (caps.clones) await expectCode(createVolume(newId('vol'), { source: { kind: 'volume', backendId: 'vol-missing' } }), 'NOT_FOUND');
      await expectCode(createVolume('../escape'), 'VALIDATION_FAILED');
      await expectCode(createVolume(newId('vol'), { sizeBytes: 0 }), 'VALIDATION_FAILED');
    });

    it('repeats every node call idempotently and refuses conflicting repeats', async () => {
      const { backendId: id } = await createVolume(newId('vol'));
      const dir = await pool.scratch();
      const stagingPath = join(dir, 'staging');
      const targetPath = join(dir, 'target');
      const stage = () => stageVolume({ backendId: id, volumeId: id, stagingPath, volumeMode: 'filesystem', fsType: pool.fsType });
      const publish = (readOnly: boolean) =>
        driver.node.publish({ backendId: id, volumeId: id, stagingPath, targetPath, volumeMode: 'filesystem', readOnly });
      await stage();
      await stage();
      await publish(false);
      await publish(false);
      await expectCode(publish(true), 'INVALID_STATE');
      await driver.node.expand({ backendId: id, stagingPath, sizeBytes: pool.volumeSize });
      const stats = await driver.node.stats({ backendId: id, path: targetPath });
      expect(stats.totalBytes).toBeGreaterThan(0);
      expect(stats.usedBytes + stats.availableBytes).toBeLessThanOrEqual(stats.totalBytes + MiB);
      expect((await driver.node.listNodeResources()).map((r) => r.backendId)).toContain(id);
      for (let i = 0; i < 2; i++) await driver.node.unpublish({ backendId: id, volumeId: id, targetPath });
      expect(await pathExists(targetPath)).toBe(false);
      for (let i = 0; i < 2; i++) await driver.node.unstage({ backendId: id, volumeId: id, stagingPath });
      expect((await driver.node.listNodeResources()).map((r) => r.backendId)).not.toContain(id);
      await driver.node.releaseNodeResources(id);
    });

    it('refuses writes through a read-only publish (EROFS) but serves reads', async () => {
      const id = newId('vol');
      await createVolume(id);
      const data = randomBytes(64 * 1024);
      await withAttached(id, (t) => pool.writeFile(t, 'kept.bin', data));
      await withAttached(
        id,
        async (t) => {
          expect((await pool.readFile(t, 'kept.bin')).equals(data)).toBe(true);
          await expect(pool.writeFile(t, 'new.bin', data)).rejects.toMatchObject({ code: 'EROFS' });
        },
        { readOnly: true },
      );
    });

    it('serves raw block volumes, or refuses them with UNSUPPORTED', async () => {
      const volumeId = newId('vol');
      const dir = await pool.scratch();
      const stagingPath = join(dir, 'staging');
      const targetPath = join(dir, 'device');
      if (!caps.block) {
        await expectCode(driver.create({ volumeId, sizeBytes: pool.volumeSize, volumeMode: 'block' }), 'UNSUPPORTED');
        const { backendId } = await createVolume(volumeId);
        await expectCode(stageVolume({ backendId, volumeId, stagingPath, volumeMode: 'block' }), 'UNSUPPORTED');
        return;
      }
      const { backendId: id } = await driver.create({ volumeId, sizeBytes: pool.volumeSize, volumeMode: 'block' });
      const req = { backendId: id, volumeId: id, stagingPath, volumeMode: 'block' as const };
      const data = randomBytes(8192);
      await stageVolume(req);
      await stageVolume(req);
      const publish = () => driver.node.publish({ ...req, targetPath, readOnly: false });
      await publish();
      await publish();
      await pool.writeBlock(targetPath, data);
      await driver.node.unpublish({ backendId: id, volumeId: id, targetPath });
      await driver.node.unstage(req);
      await stageVolume(req);
      await publish();
      expect((await pool.readBlock(targetPath, data.length)).equals(data)).toBe(true);
      await driver.node.unpublish({ backendId: id, volumeId: id, targetPath });
      await driver.node.unstage(req);
      expect((await driver.node.listNodeResources()).map((r) => r.backendId)).not.toContain(id);
    });
  });
}
