import { PollyError } from '../core/errors.js';
import type { DriverContext, DriverFactory, StorageDriver } from '../core/ports/driver.js';
import { BtrfsDriver } from './btrfs/btrfs-driver.js';
import { FakeDriver } from './fake/fake-driver.js';
import { LocalDriver } from './local/local-driver.js';
import { LoopblockDriver } from './loopblock/loopblock-driver.js';

/** Every driver Polly can build, by the name pools use in configuration. Wired explicitly: no import side effects. */
export const DRIVER_FACTORIES: Record<string, DriverFactory> = {
  local: (ctx) => new LocalDriver(ctx),
  btrfs: (ctx) => new BtrfsDriver(ctx),
  loopblock: (ctx) => new LoopblockDriver(ctx),
  fake: (ctx) => new FakeDriver(ctx),
};

/** Builds the driver for one pool; `VALIDATION_FAILED` naming the known drivers when `name` is not one. */
export function createDriver(name: string, ctx: DriverContext): StorageDriver {
  const factory = Object.hasOwn(DRIVER_FACTORIES, name) ? DRIVER_FACTORIES[name] : undefined;
  if (!factory) {
    throw new PollyError('VALIDATION_FAILED', `pool ${ctx.poolName}: unknown driver "${name}" (known: ${Object.keys(DRIVER_FACTORIES).join(', ')})`);
  }
  return factory(ctx);
}
