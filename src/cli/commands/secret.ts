import type { Command } from 'commander';
import type { z } from 'zod';
import { UnixSocketTransport, errorFromAnswer, parseJson } from '../../client/index.js';
import { SecretList, SecretNameParam, SecretRemovedReport, SecretSetReport } from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import type { CliIo } from '../io.js';

/**
 * `aibox secret set NAME` (the value from stdin or a hidden prompt, never from argv, never echoed), `list` (names
 * and dates) and `rm NAME`, through the daemon's /v1/secrets routes.
 */
export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(
    program,
    'secret',
    'manage the secrets aibox injects on the host side (LLM keys, git and mirror tokens)',
  );

  group
    .command('set')
    .argument('<name>', 'secret name, e.g. anthropic-api-key')
    .description(
      'store a secret: pipe the value on stdin (`printf %s "$KEY" | aibox secret set NAME`) or type it at the hidden prompt',
    )
    .action(async (name: string) => {
      const secret = secretName(name);
      const value = ctx.io.stdin.isTTY
        ? await promptHidden(ctx.io, `value for ${secret} (input hidden): `)
        : await readStdin(ctx.io);
      if (!value) throw cliErrors.create('CLI_USAGE', 'no value given: the secret was not stored');
      const report = await call(ctx, 'PUT', `/v1/secrets/${encodeURIComponent(secret)}`, SecretSetReport, {
        value,
      });
      if (ctx.json) ctx.printJson(report);
      else ctx.out(`secret ${report.name} stored (${report.backend})`);
    });

  group
    .command('list')
    .alias('ls')
    .description('list secret names and when they were set (values are never shown)')
    .action(async () => {
      const list = await call(ctx, 'GET', '/v1/secrets', SecretList);
      if (ctx.json) return ctx.printJson(list);
      if (list.backend === 'vault') ctx.note('secrets are kept in Vault: list them with `vault kv list`');
      if (list.secrets.length === 0 && list.backend === 'embedded') ctx.note('no secrets stored yet');
      for (const s of list.secrets) ctx.out(`${s.name.padEnd(32)} ${s.updatedAt}`);
    });

  group
    .command('rm')
    .argument('<name>', 'secret name')
    .description('remove a secret from the embedded store')
    .action(async (name: string) => {
      const secret = secretName(name);
      const report = await call(
        ctx,
        'DELETE',
        `/v1/secrets/${encodeURIComponent(secret)}`,
        SecretRemovedReport,
      );
      if (ctx.json) ctx.printJson(report);
      else ctx.out(`secret ${report.removed} removed`);
    });
}

function secretName(name: string): string {
  const parsed = SecretNameParam.safeParse(name);
  if (!parsed.success) throw cliErrors.create('CLI_USAGE', `invalid secret name ${JSON.stringify(name)}`);
  return parsed.data;
}

async function call<S extends z.ZodType>(
  ctx: CliContext,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
): Promise<z.output<S>> {
  const res = await new UnixSocketTransport(ctx.socketPath).request(method, path, body);
  if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
  const parsed = schema.safeParse(parseJson(res.body));
  if (!parsed.success)
    throw cliErrors.create('CLI_INTERNAL', `aiboxd's answer to ${method} ${path} is not the documented one`);
  return parsed.data;
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
