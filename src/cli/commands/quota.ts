import type { Command } from 'commander';
import { limitArg, limitValue, parseProfileSizes, profileSizeArg, sizeLimitArg, type Unlimited } from '../args.js';
import { seg } from '../client.js';
import { contextOf } from '../context.js';
import { UsageError } from '../errors.js';
import { print, serialize, table, type Format } from '../output.js';
import { formatSize } from '../sizes.js';
import type { Quota } from '../types.js';

type Limits = Pick<Quota, 'maxVolumes' | 'maxBytes' | 'maxSnapshots' | 'profileBytes'>;

export interface QuotaChanges {
  maxVolumes?: number | Unlimited;
  maxSize?: number | Unlimited;
  maxSnapshots?: number | Unlimited;
  profileSize?: string[];
}

/** The whole quota to PUT: the current limits with the given changes (a profile size of none drops it). */
export function applyQuotaChanges(current: Limits, changes: QuotaChanges): Limits {
  const profileBytes: Record<string, number> = { ...current.profileBytes };
  for (const [profile, bytes] of Object.entries(parseProfileSizes(changes.profileSize))) {
    if (bytes === null) delete profileBytes[profile];
    else profileBytes[profile] = bytes;
  }
  return {
    maxVolumes: changes.maxVolumes !== undefined ? limitValue(changes.maxVolumes) : current.maxVolumes,
    maxBytes: changes.maxSize !== undefined ? limitValue(changes.maxSize) : current.maxBytes,
    maxSnapshots: changes.maxSnapshots !== undefined ? limitValue(changes.maxSnapshots) : current.maxSnapshots,
    profileBytes,
  };
}

/** Limits and usage side by side: one row per resource, sizes in binary units. */
export function renderQuota(q: Quota, format: Format, color?: boolean): string {
  if (format !== 'table') return serialize(q, format);
  const limit = (n: number | null, size = false) => (n === null ? 'unlimited' : size ? formatSize(n) : String(n));
  const free = (used: number, n: number | null, size = false) => (n === null ? '-' : size ? formatSize(Math.max(0, n - used)) : String(Math.max(0, n - used)));
  const reserved = q.usage.reservedBytes > 0 ? ` (+${formatSize(q.usage.reservedBytes)} reserved)` : '';
  const usedBytes = q.usage.bytes + q.usage.reservedBytes;
  const rows = [
    ['volumes', String(q.usage.volumes), limit(q.maxVolumes), free(q.usage.volumes, q.maxVolumes)],
    ['size', `${formatSize(q.usage.bytes)}${reserved}`, limit(q.maxBytes, true), free(usedBytes, q.maxBytes, true)],
    ['snapshots', String(q.usage.snapshots), limit(q.maxSnapshots), free(q.usage.snapshots, q.maxSnapshots)],
  ];
  const profiles = [...new Set([...Object.keys(q.profileBytes), ...Object.keys(q.usage.profileBytes)])].sort();
  for (const p of profiles) {
    const used = q.usage.profileBytes[p] ?? 0;
    const max = q.profileBytes[p] ?? null;
    rows.push([`size of profile ${p}`, formatSize(used), limit(max, true), free(used, max, true)]);
  }
  return table(['RESOURCE', 'USED', 'LIMIT', 'FREE'], rows, color);
}

export function registerQuota(program: Command): void {
  const quota = program.command('quota').alias('quotas').description('Per-service limits: volumes, size, snapshots, size per profile');

  quota
    .command('get')
    .description('Show a service’s limits and usage')
    .argument('<service>', 'service name')
    .action(async (service: string, _opts: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      print(renderQuota(await client.get<Quota>(`/v1/services/${seg(service)}/quota`), format));
    });

  quota
    .command('set')
    .description('Change limits of a service (admin); the limits not given are kept')
    .argument('<service>', 'service name')
    .option('--max-volumes <n>', 'most volumes, or none', limitArg)
    .option('--max-size <size>', 'most bytes in all, e.g. 1TiB, or none', sizeLimitArg)
    .option('--max-snapshots <n>', 'most snapshots, or none', limitArg)
    .option('--profile-size <profile=size>', 'most bytes of one profile, or PROFILE=none (repeatable)', profileSizeArg)
    .action(async (service: string, opts: QuotaChanges, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      if (opts.maxVolumes === undefined && opts.maxSize === undefined && opts.maxSnapshots === undefined && !opts.profileSize?.length) {
        throw new UsageError('quota set: give at least one of --max-volumes, --max-size, --max-snapshots, --profile-size');
      }
      // PUT replaces the whole quota: start from the current one.
      const path = `/v1/services/${seg(service)}/quota`;
      const current = await client.get<Quota>(path);
      print(renderQuota(await client.put<Quota>(path, applyQuotaChanges(current, opts)), format));
    });
}
