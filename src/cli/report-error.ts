import { CommanderError } from 'commander';
import { isAiboxError, messageOf } from '../shared/errors.js';
import { UNREACHABLE_CODES } from '../client/errors.js';
import { USAGE_CODES } from './errors.js';
import { EXIT } from './exit-codes.js';
import type { CliContext } from './context.js';

interface PrintableError {
  code: string;
  message: string;
  hint: string;
}

/**
 * Prints an error as `error:` / `hint:` / `code:` lines on stderr (and, with --json, as the one JSON object on
 * stdout) and returns the exit code it maps to. Never prints a stack unless AIBOX_DEBUG=1.
 */
export function reportError(ctx: CliContext, err: unknown, jsonRequested: boolean): number {
  const printable = toPrintable(err);
  const stderr = ctx.io.stderr;
  stderr.write(`error: ${printable.message}\n`);
  if (printable.hint) stderr.write(`hint: ${printable.hint}\n`);
  stderr.write(`code: ${printable.code}\n`);
  if (ctx.io.env['AIBOX_DEBUG'] === '1' && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
  if (jsonRequested) ctx.printJson({ error: printable });
  return exitCodeFor(printable.code);
}

export function exitCodeFor(code: string): number {
  if (UNREACHABLE_CODES.has(code)) return EXIT.unreachable;
  if (USAGE_CODES.has(code)) return EXIT.usage;
  return EXIT.failed;
}

function toPrintable(err: unknown): PrintableError {
  if (isAiboxError(err)) return { code: err.code, message: err.message, hint: err.hint };
  if (err instanceof CommanderError) {
    const execHint =
      err.code === 'commander.unknownOption' ? '; a command for `aibox exec` goes after `--`' : '';
    return {
      code: 'CLI_USAGE',
      message: err.message.replace(/^error: /, ''),
      hint: `run \`aibox <command> --help\` for the accepted arguments and options${execHint}`,
    };
  }
  return {
    code: 'CLI_INTERNAL',
    message: messageOf(err),
    hint: 'this is a bug in aibox; re-run with AIBOX_DEBUG=1 to see the stack and report it',
  };
}
