import { describe, expect, it } from 'vitest';
import { createDriver, DRIVER_FACTORIES } from '../../src/drivers/registry.js';

describe('driver registry', () => {
  it.each(Object.keys(DRIVER_FACTORIES))('builds %s drivers without touching anything', (name) => {
    const driver = createDriver(name, { poolName: 'p', parameters: { path: '/nonexistent/pool' }, dataDir: '/nonexistent' });
    expect(driver.driverName).toBe(name);
  });

  it('names the known drivers when the name is unknown', () => {
    expect(() => createDriver('zfs', { poolName: 'tank', parameters: {}, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', message: 'pool tank: unknown driver "zfs" (known: local, btrfs, loopblock, fake)' }),
    );
    expect(() => createDriver('toString', { poolName: 'tank', parameters: {}, dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
