import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('rm')
    .argument('<name>', 'sandbox name')
    .description('remove a sandbox and everything the daemon created for it (the project folder stays)')
    .action(async (name: string) => {
      const removed = await ctx.client().removeSandbox(ctx.sandboxName(name));
      if (ctx.json) ctx.printJson(removed);
      else ctx.out(`removed ${removed.removed}`);
    });
}
