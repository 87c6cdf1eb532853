import { describe, expect, it } from 'vitest';
import { createDriver, createNodeHalf, DRIVER_FACTORIES, DRIVER_PARAMETERS } from '../../src/drivers/registry.js';
import { nodeSecrets, redactParameters } from '../../src/drivers/system/pool-parameters.js';

const CSI = { endpoint: 'unix:///nonexistent/csi.sock', controllerSecrets: '{"password":"p4ss"}', nodeSecrets: '{"chap":"c0de"}' };
const RBD = { monHost: '[v2:127.0.0.1:3300]', pool: 'rbd', key: 'QUJDRA==', nodeUser: 'node', nodeKey: 'Tk9ERQ==' };
const CEPHFS = { monHost: '[v2:127.0.0.1:3300]', fsName: 'cephfs', key: 'QUJDRA==', nodeUser: 'node', nodeKey: 'Tk9ERQ==' };
const CINDER = { auth: 'noauth', endpoint: 'http://127.0.0.1:8776/v3', projectId: 'c0ffee', nodeKey: 'Tk9ERQ==' };

describe('driver registry', () => {
  it.each(Object.keys(DRIVER_FACTORIES))('builds %s drivers without touching anything', (name) => {
    const parameters: Record<string, string> = name === 'fake' ? {} : name === 'rbd' ? RBD : name === 'csi' ? CSI : name === 'cinder' ? CINDER : name === 'cephfs' ? CEPHFS : { path: '/nonexistent/pool' };
    const driver = createDriver(name, { poolName: 'p', parameters, dataDir: '/nonexistent' });
    expect(driver.driverName).toBe(name);
  });

  it('names the known drivers when the name is unknown', () => {
    expect(() => createDriver('zfs', { poolName: 'tank', parameters: {}, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', message: 'pool tank: unknown driver "zfs" (known: local, btrfs, loopblock, fake, rbd, csi, cinder, cephfs)' }),
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
    ['csi', {}, 'endpoint', 'pool p: driver csi requires parameter "endpoint"'],
    ['csi', { endpoint: '/run/csi.sock' }, 'endpoint', expect.stringContaining('parameter "endpoint" has a malformed value "/run/csi.sock"')],
    ['csi', { endpoint: 'unix:///c.sock', topology: '{"zone":1}' }, 'topology', 'pool p: parameter "topology" must be a JSON object of strings'],
  ])('refuses %s parameters %j naming the key', (driver, parameters, key, message) => {
    expect(() => createDriver(driver, { poolName: 'p', parameters, dataDir: '/d' })).toThrow(
      expect.objectContaining({ code: 'INVALID_POOL_PARAMETER', message, details: { pool: 'p', key } }),
    );
  });

  it('declares secret parameters: redacted for APIs and logs, only node-scoped ones handed to nodes', () => {
    const schema = DRIVER_PARAMETERS.rbd;
    expect(redactParameters(schema, RBD)).toEqual({ ...RBD, key: '(secret)', nodeKey: '(secret)' });
    expect(nodeSecrets(schema, RBD)).toEqual({ nodeKey: 'Tk9ERQ==' });
    expect(redactParameters(DRIVER_PARAMETERS.local, { path: '/p' })).toEqual({ path: '/p' });
    expect(redactParameters(DRIVER_PARAMETERS.csi, CSI)).toEqual({ ...CSI, controllerSecrets: '(secret)', nodeSecrets: '(secret)' });
    expect(nodeSecrets(DRIVER_PARAMETERS.csi!, CSI)).toEqual({ nodeSecrets: '{"chap":"c0de"}' });
  });

  it('builds a networked driver\'s node half alone, from redacted parameters (as an agent does)', () => {
    const half = createNodeHalf('rbd', { poolName: 'p', parameters: redactParameters(DRIVER_PARAMETERS.rbd, RBD), dataDir: '/nonexistent' });
    expect(half.node).toBeDefined();
    expect('create' in half).toBe(false);
    const csiHalf = createNodeHalf('csi', { poolName: 'p', parameters: redactParameters(DRIVER_PARAMETERS.csi, CSI), dataDir: '/nonexistent' });
    expect('create' in csiHalf).toBe(false);
    // A node-local driver's node half is the whole driver (one object, both halves).
    expect(createNodeHalf('fake', { poolName: 'p', parameters: {}, dataDir: '/d' })).toHaveProperty('driverName', 'fake');
  });

  it('accepts every declared parameter', () => {
    expect(createDriver('fake', { poolName: 'p', parameters: { capacityBytes: '1024', latencyMs: '0', disable: 'snapshots, clones' }, dataDir: '/d' }).capabilities.snapshots).toBe(false);
  });
});
