import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stop')
    .argument('<name>', 'sandbox name')
    .description(
      'stop a sandbox (its workspace and settings stay; `aibox start --name NAME` starts it again)',
    )
    .action(async (name: string) => {
      const sandbox = await ctx.client().stopSandbox(ctx.sandboxName(name));
      if (ctx.json) ctx.printJson(sandbox);
      else ctx.out(`sandbox ${sandbox.name} ${sandbox.state}`);
    });
}
