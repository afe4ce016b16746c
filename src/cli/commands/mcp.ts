import type { Command } from 'commander';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { packsApi, targetSandbox } from './pack-common.js';

/** `aibox mcp enable|list|disable`: MCP servers that run inside the sandbox, found by agents without setup. */
export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(program, 'mcp', 'MCP servers inside a sandbox');

  group
    .command('enable')
    .argument('<pack>', 'an MCP pack: NAME or NAME@VERSION')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('install (if needed) and enable an MCP server; agent client configs are written for it')
    .action(async (ref: string, opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).mcpEnable(sandbox, ref);
      if (ctx.json) return ctx.printJson(r);
      if (r.installed.length) ctx.out(`installed ${r.installed.join(', ')} in ${sandbox}`);
      ctx.out(`enabled MCP server ${r.enabled} in ${sandbox}`);
    });

  group
    .command('list')
    .alias('ls')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('list the MCP servers enabled in a sandbox')
    .action(async (opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).mcpList(sandbox);
      if (ctx.json) return ctx.printJson(r);
      const names = Object.keys(r.servers);
      if (names.length === 0) return ctx.out(`no MCP servers enabled in ${sandbox}`);
      for (const n of names) ctx.out(`${n.padEnd(20)} ${r.servers[n]!.command}`);
      ctx.note(`index: ${r.index}`);
    });

  group
    .command('disable')
    .argument('<pack>', 'NAME of an enabled MCP server')
    .option('-s, --sandbox <name>', 'the sandbox (default: your only one)')
    .description('disable an MCP server (its pack stays installed)')
    .action(async (name: string, opts: { sandbox?: string }) => {
      const sandbox = await targetSandbox(ctx, opts.sandbox);
      const r = await packsApi(ctx).mcpDisable(sandbox, name);
      if (ctx.json) return ctx.printJson(r);
      ctx.out(`disabled MCP server ${name} in ${sandbox}`);
    });
}
