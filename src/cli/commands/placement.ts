import type { Command } from 'commander';
import { accessModeArg, collect, keyValue, parseKeyValues, sizeArg, type AccessMode } from '../args.js';
import { contextOf } from '../context.js';
import { print, serialize, table, type Format } from '../output.js';
import type { Explanation, PoolVerdict } from '../types.js';

/** The placement constraints shared by `volume create` and `placement explain`. */
export interface PlacementOptions {
  accessMode?: AccessMode;
  zone?: string[];
  preferZone?: string[];
  affinity?: string[];
  antiAffinity?: string[];
}

export function withPlacementOptions(cmd: Command): Command {
  return cmd
    .option('--access-mode <mode>', 'RWO, RWOP, ROX or RWX', accessModeArg)
    .option('--zone <zone>', 'a zone the volume may go to: any of these (repeatable)', collect)
    .option('--prefer-zone <zone>', 'a preferred zone, best first (repeatable)', collect)
    .option('--affinity <key=value>', 'prefer pools holding this service’s volumes with this label (repeatable)', keyValue('affinity'))
    .option('--anti-affinity <key=value>', 'refuse pools holding this service’s volumes with this label (repeatable)', keyValue('anti-affinity'));
}

/** The body keys for the placement options (only those given). */
export function placementBody(opts: PlacementOptions): Record<string, unknown> {
  const topology = opts.zone || opts.preferZone ? { requisite: opts.zone, preferred: opts.preferZone } : undefined;
  const body: Record<string, unknown> = {
    accessMode: opts.accessMode,
    topology,
    affinity: opts.affinity ? parseKeyValues(opts.affinity, 'affinity') : undefined,
    antiAffinity: opts.antiAffinity ? parseKeyValues(opts.antiAffinity, 'anti-affinity') : undefined,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function verdict(p: PoolVerdict, chosen: string | null): string {
  if (p.pool === chosen) return 'chosen';
  if (p.passed) return 'passed';
  return p.rejectedBy ? `rejected by ${p.rejectedBy.filter}` : 'rejected';
}

/** For pools that passed: the weighers that added to the score, e.g. `free-capacity=0.93 affinity=0.50`. */
function weightsOf(p: PoolVerdict): string {
  const entries = Object.entries(p.weights ?? {}).filter(([, w]) => w.weighted !== 0);
  return entries.length === 0 ? '-' : entries.map(([name, w]) => `${name}=${w.weighted.toFixed(2)}`).join(' ');
}

/** Chosen first, then the others that passed by rank, then the rejected ones as the server listed them. */
export function sortVerdicts(pools: PoolVerdict[], chosen: string | null): PoolVerdict[] {
  const order = (p: PoolVerdict) => (p.pool === chosen ? 0 : p.passed ? 1 : 2);
  return pools
    .map((p, i) => ({ p, i }))
    .sort((a, b) => order(a.p) - order(b.p) || (a.p.rank ?? Infinity) - (b.p.rank ?? Infinity) || a.i - b.i)
    .map(({ p }) => p);
}

/** A table of every pool (verdict, reason, score, rank), then the summary line. */
export function renderExplanation(e: Explanation, format: Format, color?: boolean): string {
  if (format !== 'table') return serialize(e, format);
  const rows = sortVerdicts(e.pools, e.chosen).map((p) => [
    p.pool,
    verdict(p, e.chosen),
    p.rejectedBy ? p.rejectedBy.reason : weightsOf(p),
    p.score === undefined ? '-' : p.score.toFixed(3),
    p.rank === undefined ? '-' : String(p.rank),
  ]);
  const head = rows.length === 0 ? 'No pools.' : table(['POOL', 'VERDICT', 'REASON', 'SCORE', 'RANK'], rows, color);
  return `${head}\n\n${e.summary}`;
}

interface ExplainOptions extends PlacementOptions {
  size: number;
  profile?: string;
  pool?: string;
  service?: string;
}

export function registerPlacement(program: Command): void {
  const placement = program.command('placement').description('Placement: why a volume would land where it would');

  withPlacementOptions(
    placement
      .command('explain')
      .description('Run the scheduler for a would-be volume: every pool with the filter that rejected it, or its score')
      .requiredOption('--size <size>', 'size, e.g. 10GiB', sizeArg)
      .option('--profile <profile>', 'profile (storage class)')
      .option('--pool <pool>', 'pin to this pool')
      .option('--service <service>', 'the service asking (admin)'),
  ).action(async (opts: ExplainOptions, cmd: Command) => {
    const { client, format } = contextOf(cmd);
    // The body is a volume create; the name is required but plays no part in placement.
    const body = { name: 'explain', sizeBytes: opts.size, profile: opts.profile, pool: opts.pool, service: opts.service, ...placementBody(opts) };
    print(renderExplanation(await client.post<Explanation>('/v1/placement/explain', body), format));
  });
}
