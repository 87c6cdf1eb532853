import { describe, expect, it } from 'vitest';
import { createDriver, DRIVER_FACTORIES } from '../../src/drivers/registry.js';

describe('driver registry', () => {
  it.each(Object.keys(DRIVER_FACTORIES))('builds %s drivers without touching anything', (name) => {
    const parameters: Record<string, string> = name === 'fake' ? {} : { path: '/nonexistent/pool' };
    const driver = createDriver(name, { poolName: 'p', parameters, dataDir: '/nonexistent' });
    expect(driver.driverName).toBe(name);
  });

  it('names the known drivers when the name is unknown', () => {
    expect(() => createDriver('zfs', { poolName: 'tank', parameters: {}, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', message: 'pool tank: unknown driver "zfs" (known: local, btrfs, loopblock, fake)' }),
    );
    expect(() => createDriver('toString', { poolName: 'tank', parameters: {}, dataDir: '/d' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  // The examples: a parameter another driver might take, and plain nonsense, both named.
  it.each([
    ['local', { capacity: '20GiB' }, 'capacity', 'pool p: driver local has no parameter "capacity" (accepted: path)'],
    ['btrfs', { path: '/srv/b', bogus: '1' }, 'bogus', 'pool p: driver btrfs has no parameter "bogus" (accepted: path)'],
    ['loopblock', {}, 'path', 'pool p: driver loopblock requires parameter "path"'],
    ['fake', { capacityBytes: '20GiB' }, 'capacityBytes', 'pool p: parameter "capacityBytes" has a malformed value "20GiB" (the pool size in bytes, a whole number)'],
    ['fake', { disable: 'snapshots,teleport' }, 'disable', expect.stringContaining('parameter "disable" has a malformed value')],
  ])('refuses %s parameters %j naming the key', (driver, parameters, key, message) => {
    expect(() => createDriver(driver, { poolName: 'p', parameters, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'INVALID_POOL_PARAMETER', message, details: { pool: 'p', key } }),
    );
  });

  it('accepts every declared parameter', () => {
    expect(createDriver('fake', { poolName: 'p', parameters: { capacityBytes: '1024', latencyMs: '0', disable: 'snapshots, clones' }, dataDir: '/d' }).capabilities.snapshots).toBe(false);
  });
});
