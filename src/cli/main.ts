import { CommanderError } from 'commander';
import { registerCompletion, registerCompletionHelp, wantsCompletion } from './completion.js';
import { describeError, EXIT } from './errors.js';
import { buildProgram } from './program.js';

/**
 * `polly`: runs one command and sets the exit code: 0 ok, 1 API error, 2 usage error, 3 server not
 * reachable. Expected errors are one line on stderr; a stack trace only with POLLY_DEBUG=1.
 */
export async function run(argv: string[]): Promise<number> {
  try {
    const program = buildProgram();
    if (wantsCompletion(argv)) await registerCompletion(program, argv);
    else registerCompletionHelp(program);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    // Commander has already printed its message (or the help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const { message, exitCode } = describeError(err);
    process.stderr.write(`polly: ${message}\n`);
    if (process.env.POLLY_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}

// Exit by setting the code, not process.exit(): piped output is flushed first.
process.exitCode = await run(process.argv);
