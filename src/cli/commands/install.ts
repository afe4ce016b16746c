import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { packsApi, targetSandbox } from './pack-common.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('install')
    .argument('<pack>', 'NAME or NAME@VERSION (`aibox pack list` shows them)')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('install a tool pack into a running sandbox (read-only under /opt/aibox/packs, no restart)')
    .action(async (ref: string, opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).install(sandbox, ref);
      if (ctx.json) return ctx.printJson(r);
      for (const p of r.installed) ctx.out(`installed ${p.name}@${p.version} in ${sandbox} at ${p.path}`);
      ctx.note(`(${r.ms} ms; new commands in ${sandbox} find it on PATH)`);
    });
}
