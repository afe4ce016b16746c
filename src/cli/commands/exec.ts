import { isClientError } from '../../client/errors.js';
import type { ExecRequestInput, TerminalSize } from '../../client/index.js';
import { ENV_NAME_PATTERN } from '../../shared/api/names.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';

interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  workdir?: string;
  timeout?: string;
}

/** `aibox exec NAME -- CMD…`: streamed (buffered with --json); leaves with the command's exit code. */
export async function exec(ctx: CliContext, name: string, cmd: string[], opts: ExecOptions): Promise<void> {
  const sandbox = ctx.sandboxName(name);
  const spec: ExecRequestInput = {
    cmd,
    env: parseEnv(opts.env),
    ...(opts.workdir === undefined ? {} : { workdir: opts.workdir }),
    ...(opts.timeout === undefined ? {} : { timeoutSeconds: parseTimeout(opts.timeout) }),
  };
  if (ctx.json) {
    if (opts.interactive || opts.tty)
      throw cliErrors.create('CLI_USAGE', '--json runs the command buffered: it cannot take -i or -t');
    const result = await ctx.client().exec.run(sandbox, spec);
    ctx.printJson(result);
    ctx.exitCode = result.exitCode;
    return;
  }
  ctx.exitCode = await streamExec(ctx, sandbox, spec, opts);
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
    return await ctx.client().exec.stream(
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

/** `--timeout SECONDS`: a positive number, at most a day (what the daemon accepts). */
function parseTimeout(text: string): number {
  const seconds = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || !(seconds > 0) || seconds > 86_400) {
    throw cliErrors.create(
      'CLI_USAGE',
      `--timeout takes seconds (more than 0, at most 86400), not ${JSON.stringify(text.slice(0, 32))}`,
    );
  }
  return seconds;
}
