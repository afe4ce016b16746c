import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { packsApi, targetSandbox } from './pack-common.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('packs')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('list the packs installed in a sandbox')
    .action(async (opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).installed(sandbox);
      if (ctx.json) return ctx.printJson(r);
      if (r.packs.length === 0)
        return ctx.out(`no packs in ${sandbox} (add one with \`aibox install NAME\`)`);
      for (const p of r.packs)
        ctx.out(
          `${`${p.name}@${p.version}`.padEnd(28)} ${p.kind}${p.mcpEnabled ? ' (MCP enabled)' : ''}  ${p.path}`,
        );
    });
}
