import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { packsApi, targetSandbox } from './pack-common.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('uninstall')
    .argument('<pack>', 'NAME of an installed pack')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('remove a pack from a sandbox (refused while a process there runs from it)')
    .action(async (name: string, opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).uninstall(sandbox, name);
      if (ctx.json) return ctx.printJson(r);
      ctx.out(`removed ${name} from ${sandbox}`);
    });
}
