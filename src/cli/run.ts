import { CommanderError } from 'commander';
import { CliContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { processIo } from './io.js';
import type { CliIo } from './io.js';
import { buildProgram } from './program.js';
import { reportError } from './report-error.js';

/** Runs one `aibox` invocation and resolves with its exit code; every error is printed, none is thrown. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  // Output to a closed pipe (`aibox list | head -1`) is not an error worth a crash and a stack.
  io.stdout.on('error', ignoreClosedPipe);
  const ctx = new CliContext(io);
  const program = buildProgram(ctx, argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      // Bare `aibox` (or a bare group like `aibox policy`): commander printed the help; that is a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(ctx, err, ctx.json || wantsJson(argv));
  }
}

function ignoreClosedPipe(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
}

/** --json before `--` (usage errors happen before options are handed to the context). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}
