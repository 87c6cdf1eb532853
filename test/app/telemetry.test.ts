import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../src/app/telemetry.js';
import type { StorageDriver } from '../../src/core/ports/driver.js';
import { FakeDriver } from '../../src/drivers/fake/fake-driver.js';

/** A driver whose capabilities are a getter over a private field, as a driver that learns them at init has. */
class DiscoveringDriver extends FakeDriver {
  #learned = { snapshots: false };
  get learned(): { snapshots: boolean } {
    return this.#learned;
  }
}

describe('Telemetry.instrumentDriver', () => {
  it('times data-path calls by driver, op and outcome, and leaves getters over private fields working', async () => {
    const telemetry = new Telemetry();
    const raw = new DiscoveringDriver({ poolName: 'tele', parameters: {}, dataDir: '/nonexistent' });
    const driver = telemetry.instrumentDriver(raw as StorageDriver) as DiscoveringDriver;
    expect(driver.learned).toEqual({ snapshots: false });
    await driver.init();
    await driver.create({ volumeId: 'vol-tele-1', sizeBytes: 1 << 20, volumeMode: 'filesystem', fsType: 'ext4' });
    await expect(driver.expand('vol-tele-missing', 2 << 20)).rejects.toThrow();
    const text = await telemetry.registry.metrics();
    expect(text).toMatch(/polly_driver_operation_duration_seconds_count\{driver="fake",op="create",outcome="ok"\} 1/);
    expect(text).toMatch(/polly_driver_operation_duration_seconds_count\{driver="fake",op="expand",outcome="[A-Z_]+"\} 1/);
    await driver.close();
  });
});
