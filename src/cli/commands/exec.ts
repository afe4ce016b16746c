import type { Command } from 'commander';
import { isClientError } from '../../client/index.js';
import { ENV_NAME_PATTERN } from '../../shared/index.js';
import type { ExecRequestInput, TerminalSize } from '../../client/index.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';

interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  workdir?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .argument('<name>', 'sandbox name')
    .argument('<cmd...>', 'command and arguments (put them after `--` when they start with "-")')
    .option('-i, --interactive', 'forward stdin to the command')
    .option('-t, --tty', 'allocate a terminal (raw mode and window resizes when stdin is a terminal)')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the sandbox (default: /workspace)')
    .description("run a command in a sandbox; stdout, stderr and the command's exit code pass through")
    .action(async (name: string, cmd: string[], opts: ExecOptions) => {
      const sandbox = ctx.sandboxName(name);
      const spec: ExecRequestInput = {
        cmd,
        env: parseEnv(opts.env),
        ...(opts.workdir === undefined ? {} : { workdir: opts.workdir }),
      };
      if (ctx.json) {
        if (opts.interactive || opts.tty)
          throw cliErrors.create('CLI_USAGE', '--json runs the command buffered: it cannot take -i or -t');
        const result = await ctx.client().exec(sandbox, spec);
        ctx.printJson(result);
        ctx.exitCode = result.exitCode;
        return;
      }
      ctx.exitCode = await streamExec(ctx, sandbox, spec, opts);
    });
}

async function streamExec(ctx: CliContext, sandbox: string, spec: ExecRequestInput, opts: ExecOptions) {
  const { stdin, stdout, signals } = ctx.io;
  const tty = opts.tty === true;
  const interactive = opts.interactive === true;
  // Raw mode only when a person types at a terminal: keys (Ctrl-C included) then go to the sandbox, not to us.
  const raw = tty && interactive && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  const size = (): TerminalSize | undefined =>
    stdout.isTTY && stdout.columns && stdout.rows ? { cols: stdout.columns, rows: stdout.rows } : undefined;
  const initial = tty ? size() : undefined;
  const onResize = (send: (size: TerminalSize) => void) => {
    const onWinch = () => {
      const now = size();
      if (now) send(now);
    };
    signals.on('SIGWINCH', onWinch);
    return () => signals.off('SIGWINCH', onWinch);
  };
  if (raw) stdin.setRawMode?.(true);
  try {
    return await ctx.client().execStream(
      sandbox,
      { ...spec, tty, stdin: interactive, ...(initial ?? {}) },
      {
        stdin: interactive ? stdin : undefined,
        stdout,
        stderr: ctx.io.stderr,
        onResize: tty ? onResize : undefined,
      },
    );
  } catch (err) {
    // The reader of our output went away (`| head`): end quietly, as a shell does on SIGPIPE.
    if (isClientError(err) && err.code === 'EXEC_OUTPUT_CLOSED') return EXIT.outputClosed;
    throw err;
  } finally {
    if (raw) stdin.setRawMode?.(false);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** KEY=VALUE pairs; the error names the key only (the value may be a secret). */
function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq <= 0 || !ENV_NAME_PATTERN.test(key)) {
      throw cliErrors.create(
        'CLI_INVALID_ENV',
        `not KEY=VALUE with a variable name as KEY: ${JSON.stringify(key.slice(0, 64))}`,
      );
    }
    env[key] = pair.slice(eq + 1);
  }
  return env;
}
