import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .argument('<name>', 'sandbox name')
    .description("print a sandbox's logs")
    .action(async (name: string) => {
      const valid = ctx.sandboxName(name);
      const logs = await ctx.client().logs(valid);
      if (ctx.json) ctx.printJson({ name: valid, logs });
      else ctx.io.stdout.write(logs);
    });
}
