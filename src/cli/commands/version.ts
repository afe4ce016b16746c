import type { VersionReport } from '../../shared/api/system.js';
import { messageOf } from '../../shared/errors.js';
import { cliVersion } from '../cli-version.js';
import type { CliContext } from '../context.js';

/** `aibox version`: the CLI's and the daemon's (exit 0 even when the daemon is not reachable). */
export async function version(ctx: CliContext): Promise<void> {
  const cli = cliVersion();
  let daemon: VersionReport | null = null;
  let unreachable = '';
  try {
    daemon = await ctx.client().system.version();
  } catch (err) {
    unreachable = messageOf(err);
  }
  if (ctx.json) {
    ctx.printJson({ cli, daemon });
    if (!daemon) ctx.note(`aiboxd: ${unreachable}`);
    return;
  }
  ctx.out(`aibox   ${cli}`);
  ctx.out(daemon ? `aiboxd  ${daemon.version} (api ${daemon.api})` : `aiboxd  not reachable: ${unreachable}`);
}
