import { SECRET_NAME_PATTERN } from '../../shared/api/names.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import type { CliIo } from '../io.js';

/**
 * `aibox secret set NAME` (the value from stdin or a hidden prompt, never from argv, never echoed), `list` (names
 * and dates) and `rm NAME`.
 */
export async function set(ctx: CliContext, name: string): Promise<void> {
  const secret = secretName(name);
  const value = ctx.io.stdin.isTTY
    ? await promptHidden(ctx.io, `value for ${secret} (input hidden): `)
    : await readStdin(ctx.io);
  if (!value) throw cliErrors.create('CLI_USAGE', 'no value given: the secret was not stored');
  const report = await ctx.client().secrets.set(secret, value);
  if (ctx.json) ctx.printJson(report);
  else ctx.out(`secret ${report.name} stored (${report.backend})`);
}

export async function list(ctx: CliContext): Promise<void> {
  const secrets = await ctx.client().secrets.list();
  if (ctx.json) return ctx.printJson(secrets);
  if (secrets.backend === 'vault') ctx.note('secrets are kept in Vault: list them with `vault kv list`');
  if (secrets.secrets.length === 0 && secrets.backend === 'embedded') ctx.note('no secrets stored yet');
  for (const s of secrets.secrets) ctx.out(`${s.name.padEnd(32)} ${s.updatedAt}`);
}

export async function rm(ctx: CliContext, name: string): Promise<void> {
  const report = await ctx.client().secrets.remove(secretName(name));
  if (ctx.json) ctx.printJson(report);
  else ctx.out(`secret ${report.removed} removed`);
}

function secretName(name: string): string {
  if (!SECRET_NAME_PATTERN.test(name))
    throw cliErrors.create('CLI_USAGE', `invalid secret name ${JSON.stringify(name)}`);
  return name;
}

/** The whole of stdin, without the one trailing newline `echo` adds. */
async function readStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads a line from the terminal in raw mode without echoing it. */
function promptHidden(io: CliIo, label: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(label);
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(cliErrors.create('CLI_USAGE', 'cancelled: the secret was not stored'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
