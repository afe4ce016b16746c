import type { Command } from 'commander';
import type { z } from 'zod';
import { PolicyShowReport } from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatPolicyValue } from '../render/policy.js';

type JsonCall = <S extends z.ZodType>(
  method: string,
  path: string,
  schema: S,
  body?: unknown,
) => Promise<z.output<S>>;

/**
 * A typed call through the CLI's client (validated against the wire schema). The client keeps its generic
 * request method private; policy and audit reach it here until the client grows named methods for them.
 */
export function api(ctx: CliContext): JsonCall {
  const client = ctx.client() as unknown as { json: JsonCall };
  return (method, path, schema, body) => client.json(method, path, schema, body);
}

export function register(program: Command, ctx: CliContext): void {
  commandGroup(program, 'policy', 'policy: evaluate, test, show and explain')
    .command('show')
    .option('-s, --sandbox <name>', "a sandbox's effective policy (org + team + its project file)")
    .description('print the effective policy per door, the layers it comes from and any pending load error')
    .action(async (opts: { sandbox?: string }) => {
      const sandbox = opts.sandbox === undefined ? undefined : ctx.sandboxName(opts.sandbox);
      const query = sandbox === undefined ? '' : `?sandbox=${encodeURIComponent(sandbox)}`;
      const report = await api(ctx)('GET', `/v1/policy${query}`, PolicyShowReport);
      if (report.errors.length > 0) ctx.exitCode = EXIT.failed;
      if (ctx.json) ctx.printJson(report);
      else ctx.out(renderShow(report));
    });
}

export function renderShow(r: PolicyShowReport): string {
  const lines: string[] = [];
  lines.push(`policy ${r.revision ?? '(none loaded)'}${r.sandbox ? ` for sandbox ${r.sandbox}` : ''}`);
  if (r.loadedAt) lines.push(`  applied  ${r.loadedAt}`);
  lines.push(`  layers   ${r.layers.join(' -> ') || '(none)'}`);
  for (const [door, value] of Object.entries(r.doors)) {
    lines.push('', `${door}:`);
    for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
      lines.push(`  ${k.padEnd(14)} ${formatPolicyValue(v)}`);
    }
  }
  for (const e of r.errors) {
    lines.push('', `error [${e.scope}] ${e.code}: ${e.message}`, `  hint: ${e.hint}`);
    lines.push(
      r.revision === undefined
        ? '  no policy is in force: sandboxes cannot start until this is fixed'
        : `  the last good policy (${r.revision}) stays in force until this is fixed`,
    );
  }
  return lines.join('\n');
}
