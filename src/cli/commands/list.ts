import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderSandboxTable } from '../render/sandbox.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('list sandboxes')
    .action(async () => {
      const sandboxes = await ctx.client().listSandboxes();
      if (ctx.json) ctx.printJson({ sandboxes });
      else if (sandboxes.length === 0) ctx.out('no sandboxes (start one with `aibox start [PATH]`)');
      else ctx.out(renderSandboxTable(sandboxes));
    });
}
