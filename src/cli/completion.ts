import type { Command } from 'commander';
import { DEFAULT_URL, resolveToken } from './context.js';

/**
 * `polly completion bash|zsh|fish|powershell` prints a completion script; the script asks `polly complete
 * -- WORDS…` for the candidates (subcommands, options, the values of options with fixed choices, and the
 * names of the caller's volumes and snapshots), which @bomb.sh/tab derives from the commander tree. The
 * library is loaded only when one of the two commands runs (about 20 ms), so every other command starts
 * as fast as before.
 */

export const COMPLETION_COMMANDS = ['completion', 'complete'] as const;

const DESCRIPTION = 'Print a shell completion script: bash, zsh, fish or powershell (e.g. polly completion bash > /etc/bash_completion.d/polly)';

/** Arguments and options that take a volume or a snapshot, by their name in the command tree. */
const ARGUMENT_KIND: Record<string, Kind> = { volume: 'volume', snapshot: 'snapshot' };
const OPTION_KIND: Record<string, Kind> = { volume: 'volume', 'from-volume': 'volume', 'from-snapshot': 'snapshot' };
type Kind = 'volume' | 'snapshot';

/** A completion waits this long for the server at most, then offers no names. */
const NAMES_TIMEOUT_MS = 800;

/** Whether this command line may run `completion` or `complete` (a false positive only costs the load). */
export function wantsCompletion(argv: readonly string[]): boolean {
  return argv.slice(2).some((a) => (COMPLETION_COMMANDS as readonly string[]).includes(a));
}

/** The real commands, from the library; call after every other command is registered. */
export async function registerCompletion(program: Command, argv: readonly string[] = []): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  const root = tab(program, { completionCommandName: 'completion' });
  program.commands.find((c) => c.name() === 'completion')?.description(DESCRIPTION);
  if (!argv.slice(2).includes('complete')) return;
  // Handlers are synchronous: read the names first (POLLY_URL / POLLY_TOKEN, as the CLI would).
  const names = await fetchNames();
  const offer = (kind: Kind) => (complete: (value: string, description: string) => void) => {
    for (const name of names[kind]) complete(name, kind);
  };
  for (const cmd of root.commands.values()) {
    for (const arg of cmd.arguments.values()) {
      const kind = ARGUMENT_KIND[arg.name];
      if (kind) arg.handler = offer(kind);
    }
    for (const [key, opt] of cmd.options) {
      const kind = OPTION_KIND[key];
      if (kind) opt.handler = offer(kind);
    }
  }
}

/** The names of the volumes and snapshots the caller sees; none when the server does not answer in time. */
async function fetchNames(env: NodeJS.ProcessEnv = process.env): Promise<Record<Kind, string[]>> {
  // Completion asks the first of several replicas only: it must answer within its short timeout.
  const base = (env.POLLY_URL || DEFAULT_URL).split(',')[0]!.trim().replace(/\/+$/, '');
  const token = resolveToken(env.POLLY_TOKEN, env);
  const list = async (path: string): Promise<string[]> => {
    try {
      const res = await fetch(`${base}${path}?limit=1000`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(NAMES_TIMEOUT_MS),
      });
      if (!res.ok) return [];
      const page = (await res.json()) as { items?: Array<{ name?: unknown }> };
      return [...new Set((page.items ?? []).map((x) => x.name).filter((n): n is string => typeof n === 'string'))].sort();
    } catch {
      return [];
    }
  };
  const [volume, snapshot] = await Promise.all([list('/v1/volumes'), list('/v1/snapshots')]);
  return { volume, snapshot };
}

/** What `polly --help` lists when the library is not loaded; `wantsCompletion` routes every real use. */
export function registerCompletionHelp(program: Command): void {
  program.command('completion').description(DESCRIPTION).argument('<shell>', 'bash, zsh, fish or powershell');
}
