import { Command } from 'commander';
import { DEFAULT_SOCKET_PATH } from '../client/index.js';
import { registerCommands } from './commands/index.js';
import type { CliContext } from './context.js';

/** The `aibox` commander program; errors are thrown to runCli (exitOverride), never printed by commander. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('aibox')
    .description('Drive aiboxd: gVisor sandboxes for AI coding agents, with policy at every door.')
    .option('--socket <path>', `aiboxd socket (default: $AIBOX_SOCKET, else ${DEFAULT_SOCKET_PATH})`)
    .option('--json', 'print exactly one JSON object on stdout; progress and logs go to stderr')
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      // runCli prints usage errors itself, with a hint and a code.
      outputError: () => {},
    })
    .exitOverride()
    .showSuggestionAfterError()
    .hook('preAction', (_program, action) => ctx.useGlobals(action.optsWithGlobals()));
  registerCommands(program, ctx);
  return program;
}
