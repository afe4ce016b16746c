import { AiboxClient } from '../client/client.js';
import { resolveSocketPath } from '../client/socket.js';
import { SANDBOX_NAME_PATTERN } from '../shared/ids.js';
import { cliErrors } from './errors.js';
import type { CliIo } from './io.js';

export interface GlobalOptions {
  socket?: string | undefined;
  json: boolean;
}

/**
 * What every command receives: the injected process surface, the global options (--socket, --json) of the
 * invocation, a lazily created client, output helpers, and the exit code to leave with.
 */
export class CliContext {
  exitCode = 0;
  private globals: GlobalOptions = { json: false };
  private cachedClient: AiboxClient | undefined;

  constructor(readonly io: CliIo) {}

  /** Called once options are parsed (commander's preAction hook). */
  useGlobals(opts: Record<string, unknown>): void {
    this.globals = {
      socket: typeof opts['socket'] === 'string' ? opts['socket'] : undefined,
      json: opts['json'] === true,
    };
    this.cachedClient = undefined;
  }

  get json(): boolean {
    return this.globals.json;
  }

  get socketPath(): string {
    return resolveSocketPath(this.globals.socket, this.io.env);
  }

  client(): AiboxClient {
    this.cachedClient ??= new AiboxClient(this.socketPath);
    return this.cachedClient;
  }

  /** Prints the one JSON result object of a --json invocation. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A line of human output on stdout. */
  out(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** A line of progress or diagnostics on stderr (never mixed into --json output). */
  note(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** Validates a sandbox name before anything is sent (exit 2 with a hint when it cannot be one). */
  sandboxName(name: string): string {
    if (!SANDBOX_NAME_PATTERN.test(name))
      throw cliErrors.create('CLI_INVALID_NAME', `invalid sandbox name ${JSON.stringify(name)}`);
    return name;
  }
}
