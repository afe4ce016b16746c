import type { Command } from 'commander';
import type { VersionReport } from '../../shared/index.js';
import { messageOf } from '../../shared/index.js';
import { cliVersion } from '../cli-version.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description("print the CLI's version and the daemon's (exit 0 even when the daemon is not reachable)")
    .action(async () => {
      const cli = cliVersion();
      let daemon: VersionReport | null = null;
      let unreachable = '';
      try {
        daemon = await ctx.client().version();
      } catch (err) {
        unreachable = messageOf(err);
      }
      if (ctx.json) {
        ctx.printJson({ cli, daemon });
        if (!daemon) ctx.note(`aiboxd: ${unreachable}`);
        return;
      }
      ctx.out(`aibox   ${cli}`);
      ctx.out(
        daemon ? `aiboxd  ${daemon.version} (api ${daemon.api})` : `aiboxd  not reachable: ${unreachable}`,
      );
    });
}
