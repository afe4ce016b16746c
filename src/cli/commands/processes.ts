import type { ProcessSignal } from '../../client/index.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

/** `aibox ps NAME`: the sandbox's processes (its exec agent left out). */
export async function ps(ctx: CliContext, name: string): Promise<void> {
  const sandbox = ctx.sandboxName(name);
  const list = await ctx.client().processes.list(sandbox);
  if (ctx.json) {
    ctx.printJson(list);
    return;
  }
  const rows = list.processes.map((p) => [
    String(p.pid),
    String(p.ppid),
    String(p.uid),
    printable(p.state),
    printable(p.cmd),
  ]);
  ctx.out(renderTable(['PID', 'PPID', 'UID', 'STATE', 'COMMAND'], rows));
}

/** `aibox kill NAME PID [--signal S]`: signals one of the sandbox user's processes (TERM by default). */
export async function kill(
  ctx: CliContext,
  name: string,
  pid: string,
  opts: { signal: string },
): Promise<void> {
  const sandbox = ctx.sandboxName(name);
  if (!/^[1-9][0-9]{0,9}$/.test(pid))
    throw cliErrors.create('CLI_USAGE', `not a process id: ${JSON.stringify(pid)}`);
  const signal = opts.signal.toUpperCase().replace(/^SIG/, '') as ProcessSignal;
  const done = await ctx.client().processes.kill(sandbox, Number(pid), signal);
  if (ctx.json) ctx.printJson(done);
  else ctx.out(`sent ${done.signal} to process ${done.pid} in ${sandbox}`);
}

/** Command lines are the sandbox's to write: no terminal control sequence reaches the caller's terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
