import type { CliContext } from '../context.js';
import { renderSandboxTable } from '../render/sandbox.js';

/** `aibox list [-q]`: a table, the names only (for scripts and shell completion), or JSON. */
export async function list(ctx: CliContext, opts: { quiet?: boolean }): Promise<void> {
  const sandboxes = await ctx.client().sandboxes.list();
  if (ctx.json) ctx.printJson({ sandboxes });
  else if (opts.quiet) for (const s of sandboxes) ctx.out(s.name);
  else if (sandboxes.length === 0) ctx.out('no sandboxes (start one with `aibox start [PATH]`)');
  else ctx.out(renderSandboxTable(sandboxes));
}
