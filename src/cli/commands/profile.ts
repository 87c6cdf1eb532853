import { Option, type Command } from 'commander';
import { accessModes, collect, keyValue, parseKeyValues, nonNegativeInt, positiveInt, sizeArg, type AccessMode } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { UsageError } from '../errors.js';
import { formatAge, formatLabels, note, print, renderList, renderObject, type Column, type Field } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Profile } from '../types.js';
import { removeEach } from './remove.js';

const list = (items: string[]) => (items.length === 0 ? '-' : items.join(','));

function formatQos(q: Profile['qos']): string {
  const parts = [q.iops !== undefined && `iops=${q.iops}`, q.bandwidthBytes !== undefined && `bandwidth=${formatSize(q.bandwidthBytes)}/s`];
  return parts.filter(Boolean).join(' ') || '-';
}

export const PROFILE_COLUMNS: Column<Profile>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'MODE', value: (p) => p.volumeMode },
  { header: 'MIN', value: (p) => formatSize(p.minBytes) },
  { header: 'MAX', value: (p) => formatSize(p.maxBytes) },
  { header: 'ACCESS', value: (p) => list(p.accessModes) },
  { header: 'POOLS', value: (p) => list(p.pools) },
  { header: 'SELECTOR', value: (p) => formatLabels(p.poolSelector) },
  { header: 'SERVICES', value: (p) => list(p.services) },
  { header: 'AGE', value: (p) => formatAge(p.createdAt) },
];

export const PROFILE_FIELDS: Field<Profile>[] = [
  ['Name', (p) => p.name],
  ['Description', (p) => p.description || '-'],
  ['Sizes', (p) => `${formatSize(p.minBytes)} to ${formatSize(p.maxBytes)}`],
  ['Volume mode', (p) => p.volumeMode],
  ['FS type', (p) => p.fsType || '-'],
  ['Media', (p) => p.media ?? '-'],
  ['QoS', (p) => formatQos(p.qos)],
  ['Replicas', (p) => String(p.replicas)],
  ['Failover', (p) => (p.failover === 'force-after' ? `force-after ${p.forceAfterSeconds}s` : p.failover)],
  ['Access modes', (p) => list(p.accessModes)],
  ['Pool selector', (p) => formatLabels(p.poolSelector)],
  ['Pools', (p) => list(p.pools)],
  ['Parameters', (p) => formatLabels(p.parameters)],
  ['Services', (p) => (p.services.length === 0 ? 'all' : p.services.join(','))],
  ['Created', (p) => p.createdAt],
];

export interface ProfileOptions {
  /** Keep a profile that no current pool could serve (PROFILE_UNSATISFIABLE otherwise): `?force=true`. */
  force?: boolean;
  minSize?: number;
  maxSize?: number;
  volumeMode?: 'filesystem' | 'block';
  fsType?: string;
  media?: string;
  iops?: number;
  bandwidth?: number;
  replicas?: number;
  failover?: 'safe' | 'storage-fence' | 'force-after';
  forceAfter?: number;
  accessMode?: AccessMode[];
  poolSelector?: string[];
  pool?: string[];
  param?: string[];
  service?: string[];
  description?: string;
}

/** The request body for the given options: only the keys given (a PATCH changes just those). */
export function profileSpec(opts: ProfileOptions): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    description: opts.description,
    minBytes: opts.minSize,
    maxBytes: opts.maxSize,
    volumeMode: opts.volumeMode,
    fsType: opts.fsType,
    media: opts.media,
    qos: opts.iops !== undefined || opts.bandwidth !== undefined ? { iops: opts.iops, bandwidthBytes: opts.bandwidth } : undefined,
    replicas: opts.replicas,
    failover: opts.failover,
    forceAfterSeconds: opts.forceAfter,
    accessModes: opts.accessMode,
    poolSelector: opts.poolSelector ? parseKeyValues(opts.poolSelector, 'pool selector') : undefined,
    pools: opts.pool,
    parameters: opts.param ? parseKeyValues(opts.param, 'parameter') : undefined,
    services: opts.service,
  };
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined));
}

function withProfileOptions(cmd: Command): Command {
  return cmd
    .option('--min-size <size>', 'smallest volume, e.g. 1GiB', sizeArg)
    .option('--max-size <size>', 'largest volume, e.g. 1TiB', sizeArg)
    .addOption(new Option('--volume-mode <mode>', 'filesystem or raw block').choices(['filesystem', 'block']))
    .option('--fs-type <type>', 'filesystem type, e.g. ext4, xfs')
    .option('--media <media>', 'media the pool must offer, e.g. ssd')
    .option('--iops <n>', 'QoS: IOPS limit', positiveInt)
    .option('--bandwidth <size>', 'QoS: bandwidth per second, e.g. 100MiB', sizeArg)
    .option('--replicas <n>', 'copies of the data (1-16)', positiveInt)
    .addOption(new Option('--failover <policy>', 'when a RWO volume may move off a silent node (see README: Failover)').choices(['safe', 'storage-fence', 'force-after']))
    .option('--force-after <seconds>', 'with --failover force-after: seconds past the re-grant time', nonNegativeInt)
    .option('--access-mode <mode>', 'RWO, RWOP, ROX or RWX (repeatable; replaces the list)', accessModes)
    .option('--pool-selector <key=value>', 'pool label the pool must have (repeatable; replaces the selector)', keyValue('pool selector'))
    .option('--pool <pool>', 'a pool it may use (repeatable; replaces the list)', collect)
    .option('--param <key=value>', 'driver parameter (repeatable; replaces the parameters)', keyValue('parameter'))
    .option('--service <service>', 'a service allowed to use it (repeatable; replaces the list; none: all)', collect)
    .option('--description <text>', 'what it is for')
    .option('--force', 'keep it even when no current pool could serve it (for pools added later)');
}

export function registerProfile(program: Command): void {
  const profile = program.command('profile').alias('profiles').description('Profiles (storage classes): what a volume needs from a pool');

  profile
    .command('ls')
    .alias('list')
    .description('List the profiles the caller may use')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { items } = await client.get<{ items: Profile[] }>('/v1/profiles');
      if (format === 'table' && items.length === 0) note('No profiles.');
      else print(renderList(items, PROFILE_COLUMNS, format));
    });

  profile
    .command('get')
    .description('Show one profile')
    .argument('<name>', 'profile name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.get<Profile>(`/v1/profiles/${seg(name)}`), PROFILE_FIELDS, format));
    });

  withProfileOptions(profile.command('create').description('Create a profile (admin)').argument('<name>', 'profile name')).action(
    async (name: string, opts: ProfileOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderObject(await client.post<Profile>(`/v1/profiles${opts.force ? '?force=true' : ''}`, { name, ...profileSpec(opts) }), PROFILE_FIELDS, format));
    },
  );

  withProfileOptions(profile.command('update').description('Change the given settings of a profile (admin)').argument('<name>', 'profile name')).action(
    async (name: string, opts: ProfileOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const patch = profileSpec(opts);
      if (Object.keys(patch).length === 0) throw new UsageError('profile update: give at least one setting to change (see --help)');
      print(renderObject(await client.patch<Profile>(`/v1/profiles/${seg(name)}${opts.force ? '?force=true' : ''}`, patch), PROFILE_FIELDS, format));
    },
  );

  profile
    .command('rm')
    .alias('delete')
    .description('Delete profiles no volume uses (admin)')
    .argument('<name...>', 'profile names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await removeEach('profile', names, format, (name) => client.delete(`/v1/profiles/${seg(name)}`));
    });
}
