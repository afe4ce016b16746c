import type { CliContext } from '../context.js';
import { targetSandbox } from './packs.js';

/** `aibox mcp enable PACK`: install (if needed) and enable an MCP server; agent client configs are written. */
export async function enable(ctx: CliContext, ref: string, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.mcpEnable(sandbox, ref);
  if (ctx.json) return ctx.printJson(r);
  if (r.installed.length) ctx.out(`installed ${r.installed.join(', ')} in ${sandbox}`);
  ctx.out(`enabled MCP server ${r.enabled} in ${sandbox}`);
}

/** `aibox mcp list`. */
export async function list(ctx: CliContext, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.mcpList(sandbox);
  if (ctx.json) return ctx.printJson(r);
  const names = Object.keys(r.servers);
  if (names.length === 0) return ctx.out(`no MCP servers enabled in ${sandbox}`);
  for (const n of names) ctx.out(`${n.padEnd(20)} ${r.servers[n]!.command}`);
  ctx.note(`index: ${r.index}`);
}

/** `aibox mcp disable NAME` (its pack stays installed). */
export async function disable(ctx: CliContext, name: string, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.mcpDisable(sandbox, name);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`disabled MCP server ${name} in ${sandbox}`);
}
