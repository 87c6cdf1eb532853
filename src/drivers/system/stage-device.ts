import { mkdir } from 'node:fs/promises';
import { PollyError } from '../../core/errors.js';
import { detectFilesystem, growExtOffline, growFilesystem, isExtFilesystem, makeFilesystem, type SupportedFsType } from './fs-tools.js';
import { blockDeviceBytes, deviceNumber } from './loop.js';
import { findMount, mountDevice } from './mounts.js';

/**
 * Stages a filesystem volume that lives on a block device (a loop device on an image, an rbd mapping):
 * mounts `device` at `stagingPath`, making the filesystem on a blank device first. Idempotent: a staging
 * path that already holds this device with the same read-only mode is left as it is; one that holds
 * another device, or this one in the other mode, is `INVALID_STATE`.
 */
export async function mountStagedDevice(device: string, req: { backendId: string; stagingPath: string; fsType: SupportedFsType; readOnly: boolean }): Promise<void> {
  const { stagingPath, readOnly } = req;
  const existing = await findMount(stagingPath);
  if (existing) {
    if (existing.device !== (await deviceNumber(device))) {
      throw new PollyError('INVALID_STATE', `${stagingPath} is already a mountpoint of ${existing.source}, not of volume ${req.backendId}`);
    }
    if (existing.readOnly !== readOnly) {
      throw new PollyError('INVALID_STATE', `volume ${req.backendId} is already staged ${existing.readOnly ? 'read-only' : 'read-write'} at ${stagingPath}`);
    }
    return;
  }
  let fsType = await detectFilesystem(device);
  if (fsType === undefined) {
    await makeFilesystem(device, req.fsType);
    fsType = req.fsType;
  }
  // Catch up with an expand that happened while the volume was not staged: ext4 before mounting
  // (offline growth needs no privilege beyond the device), xfs after (it only grows mounted).
  if (!readOnly && isExtFilesystem(fsType)) await growExtOffline(device, await blockDeviceBytes(device));
  await mkdir(stagingPath, { recursive: true });
  // nouuid: a restored or cloned xfs image carries its source's UUID, and xfs refuses duplicates.
  const options = [...(readOnly ? ['ro'] : []), ...(fsType === 'xfs' ? ['nouuid'] : [])];
  await mountDevice(device, stagingPath, { fsType, options });
  if (!readOnly && fsType === 'xfs') await growFilesystem({ device, mountPoint: stagingPath, fsType });
}
