import type { TObject } from 'typebox';
import { PollyError } from '../core/errors.js';
import type { DriverContext, DriverFactory, NodeHalf, NodeHalfFactory, StorageDriver } from '../core/ports/driver.js';
import { CSI_PARAMETERS, CsiDriver } from './csi/csi-driver.js';
import { CsiNodeDriver } from './csi/csi-node.js';
import { CEPHFS_PARAMETERS, CephfsDriver } from './cephfs/cephfs-driver.js';
import { CephfsNodeDriver } from './cephfs/cephfs-node.js';
import { BTRFS_PARAMETERS, BtrfsDriver } from './btrfs/btrfs-driver.js';
import { CINDER_PARAMETERS, CinderDriver } from './cinder/cinder-driver.js';
import { CinderNodeDriver } from './cinder/cinder-node.js';
import { FAKE_PARAMETERS, FakeDriver } from './fake/fake-driver.js';
import { LOCAL_PARAMETERS, LocalDriver } from './local/local-driver.js';
import { LOOPBLOCK_PARAMETERS, LoopblockDriver } from './loopblock/loopblock-driver.js';
import { RBD_PARAMETERS, RbdDriver } from './rbd/rbd-driver.js';
import { RbdNodeDriver } from './rbd/rbd-node.js';
import { assertPoolParameters, secretParameterKeys } from './system/pool-parameters.js';

/** Every driver Polly can build, by the name pools use in configuration. Wired explicitly: no import side effects. */
export const DRIVER_FACTORIES: Record<string, DriverFactory> = {
  local: (ctx) => new LocalDriver(ctx),
  btrfs: (ctx) => new BtrfsDriver(ctx),
  loopblock: (ctx) => new LoopblockDriver(ctx),
  fake: (ctx) => new FakeDriver(ctx),
  rbd: (ctx) => new RbdDriver(ctx),
  csi: (ctx) => new CsiDriver(ctx),
  cinder: (ctx) => new CinderDriver(ctx),
  cephfs: (ctx) => new CephfsDriver(ctx),
};

/**
 * Node halves built on their own, for networked drivers (an agent has no controller credentials). A
 * driver not listed here is node-local: the agent builds the whole driver and uses its `node`.
 */
export const NODE_HALF_FACTORIES: Record<string, NodeHalfFactory> = {
  rbd: (ctx) => new RbdNodeDriver(ctx),
  csi: (ctx) => new CsiNodeDriver(ctx),
  cinder: (ctx) => new CinderNodeDriver(ctx),
  cephfs: (ctx) => new CephfsNodeDriver(ctx),
};

/** The pool parameters each driver declares (TypeBox schemas; every value is a string). Nothing else is accepted. */
export const DRIVER_PARAMETERS: Record<string, TObject> = {
  local: LOCAL_PARAMETERS,
  btrfs: BTRFS_PARAMETERS,
  loopblock: LOOPBLOCK_PARAMETERS,
  fake: FAKE_PARAMETERS,
  rbd: RBD_PARAMETERS,
  csi: CSI_PARAMETERS,
  cinder: CINDER_PARAMETERS,
  cephfs: CEPHFS_PARAMETERS,
};

/**
 * Builds the driver for one pool; `VALIDATION_FAILED` naming the known drivers when `name` is not one,
 * `INVALID_POOL_PARAMETER` naming the key when a parameter is unknown to the driver or malformed.
 */
export function createDriver(name: string, ctx: DriverContext): StorageDriver {
  const factory = Object.hasOwn(DRIVER_FACTORIES, name) ? DRIVER_FACTORIES[name] : undefined;
  const schema = Object.hasOwn(DRIVER_PARAMETERS, name) ? DRIVER_PARAMETERS[name] : undefined;
  if (!factory || !schema) {
    throw new PollyError('VALIDATION_FAILED', `pool ${ctx.poolName}: unknown driver "${name}" (known: ${Object.keys(DRIVER_FACTORIES).join(', ')})`);
  }
  assertPoolParameters(ctx.poolName, name, schema, ctx.parameters);
  return factory(ctx);
}

/** Builds the node half of a pool's driver, as an agent does (checked against the same schema). */
export function createNodeHalf(name: string, ctx: DriverContext): NodeHalf {
  const factory = Object.hasOwn(NODE_HALF_FACTORIES, name) ? NODE_HALF_FACTORIES[name] : undefined;
  if (!factory) return createDriver(name, ctx);
  const schema = DRIVER_PARAMETERS[name];
  if (schema) assertPoolParameters(ctx.poolName, name, schema, ctx.parameters);
  return factory(ctx);
}

/** pino `redact` paths for every secret pool parameter and node-scoped secret map, wherever a log line carries one. */
export const LOG_REDACT_PATHS: string[] = (() => {
  const keys = new Set<string>();
  for (const schema of Object.values(DRIVER_PARAMETERS)) for (const k of secretParameterKeys(schema).keys()) keys.add(k);
  return ['secrets', '*.secrets', ...[...keys].flatMap((k) => [`parameters.${k}`, `*.parameters.${k}`])];
})();
