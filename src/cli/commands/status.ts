import type { Command } from 'commander';
import type { StatusReport } from '../../shared/index.js';
import type { CliContext } from '../context.js';
import { renderSandbox } from '../render/sandbox.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .argument('[name]', 'a sandbox; without it, the daemon')
    .description("show the daemon's status, or a sandbox's state and the protections in force")
    .action(async (name: string | undefined) => {
      if (name !== undefined) {
        const sandbox = await ctx.client().getSandbox(ctx.sandboxName(name));
        if (ctx.json) ctx.printJson(sandbox);
        else ctx.out(renderSandbox(sandbox));
        return;
      }
      const status = await ctx.client().status();
      if (ctx.json) ctx.printJson(status);
      else ctx.out(renderStatus(status));
    });
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
