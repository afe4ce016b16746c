import type { StatusReport } from '../../shared/api/system.js';
import type { CliContext } from '../context.js';
import { renderSandbox } from '../render/sandbox.js';

/** `aibox stop NAME`. */
export async function stop(ctx: CliContext, name: string): Promise<void> {
  const sandbox = await ctx.client().sandboxes.stop(ctx.sandboxName(name));
  if (ctx.json) ctx.printJson(sandbox);
  else ctx.out(`sandbox ${sandbox.name} ${sandbox.state}`);
}

/** `aibox rm NAME`. */
export async function rm(ctx: CliContext, name: string): Promise<void> {
  const removed = await ctx.client().sandboxes.remove(ctx.sandboxName(name));
  if (ctx.json) ctx.printJson(removed);
  else ctx.out(`removed ${removed.removed}`);
}

/** `aibox logs NAME`. */
export async function logs(ctx: CliContext, name: string): Promise<void> {
  const valid = ctx.sandboxName(name);
  const text = await ctx.client().sandboxes.logs(valid);
  if (ctx.json) ctx.printJson({ name: valid, logs: text });
  else ctx.io.stdout.write(text);
}

/** `aibox status [NAME]`: a sandbox's state and protections, or the daemon's status. */
export async function status(ctx: CliContext, name: string | undefined): Promise<void> {
  if (name !== undefined) {
    const sandbox = await ctx.client().sandboxes.get(ctx.sandboxName(name));
    if (ctx.json) ctx.printJson(sandbox);
    else ctx.out(renderSandbox(sandbox));
    return;
  }
  const report = await ctx.client().system.status();
  if (ctx.json) ctx.printJson(report);
  else ctx.out(renderStatus(report));
}

function renderStatus(s: StatusReport): string {
  return [
    `aiboxd ${s.version} running (pid ${s.pid}, ${s.mode}) since ${s.startedAt}`,
    `  socket      ${s.socket}`,
    `  state dir   ${s.stateDir}`,
    `  sandboxes   ${s.sandboxes.total} (${s.sandboxes.running} running)`,
    `  base image  ${s.baseImage.name} ${s.baseImage.present ? 'present' : 'missing: run `aibox setup`'}`,
  ].join('\n');
}
