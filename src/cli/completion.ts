import type { Command } from 'commander';

/**
 * `polly completion bash|zsh|fish|powershell` prints a completion script; the script asks `polly complete
 * -- WORDS…` for the candidates (subcommands, options, and the values of options with fixed choices),
 * which @bomb.sh/tab derives from the commander tree. The library is loaded only when one of the two
 * commands runs (about 20 ms), so every other command starts as fast as before.
 */

export const COMPLETION_COMMANDS = ['completion', 'complete'] as const;

const DESCRIPTION = 'Print a shell completion script: bash, zsh, fish or powershell (e.g. polly completion bash > /etc/bash_completion.d/polly)';

/** Whether this command line may run `completion` or `complete` (a false positive only costs the load). */
export function wantsCompletion(argv: readonly string[]): boolean {
  return argv.slice(2).some((a) => (COMPLETION_COMMANDS as readonly string[]).includes(a));
}

/** The real commands, from the library; call after every other command is registered. */
export async function registerCompletion(program: Command): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  tab(program, { completionCommandName: 'completion' });
  program.commands.find((c) => c.name() === 'completion')?.description(DESCRIPTION);
}

/** What `polly --help` lists when the library is not loaded; `wantsCompletion` routes every real use. */
export function registerCompletionHelp(program: Command): void {
  program.command('completion').description(DESCRIPTION).argument('<shell>', 'bash, zsh, fish or powershell');
}
