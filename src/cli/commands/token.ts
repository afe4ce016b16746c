import { durationSeconds } from '../../shared/duration.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';

/**
 * `aibox token create NAME [--scope sessions|admin] [--team T] [--expires 30d]` (the token is printed once: aiboxd
 * keeps only its hash), `list`, `revoke NAME`. Root only (the daemon refuses others).
 */
export async function create(
  ctx: CliContext,
  name: string,
  opts: { scope?: string; team?: string; expires?: string },
): Promise<void> {
  if (opts.scope !== undefined && opts.scope !== 'sessions' && opts.scope !== 'admin') {
    throw cliErrors.create('CLI_USAGE', `--scope is sessions or admin, not ${JSON.stringify(opts.scope)}`);
  }
  const created = await ctx.client().tokens.create({
    name,
    ...(opts.scope ? { scope: opts.scope } : {}),
    ...(opts.team ? { team: opts.team } : {}),
    ...(opts.expires ? { expiresInSeconds: expiresIn(opts.expires) } : {}),
  });
  if (ctx.json) return ctx.printJson(created);
  ctx.note(
    `token ${created.name} (${created.id}, scope ${created.scope}${created.team ? `, team ${created.team}` : ''}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}); shown once, keep it secret:`,
  );
  ctx.out(created.token);
}

export async function list(ctx: CliContext): Promise<void> {
  const { tokens } = await ctx.client().tokens.list();
  if (ctx.json) return ctx.printJson({ tokens });
  if (tokens.length === 0) return ctx.note('no tokens (aibox token create NAME)');
  ctx.out(
    `${'NAME'.padEnd(24)} ${'ID'.padEnd(17)} ${'SCOPE'.padEnd(9)} ${'TEAM'.padEnd(12)} ${'STATE'.padEnd(8)} EXPIRES`,
  );
  for (const t of tokens) {
    ctx.out(
      `${t.name.padEnd(24)} ${t.id.padEnd(17)} ${t.scope.padEnd(9)} ${(t.team ?? '-').padEnd(12)} ${t.state.padEnd(8)} ${t.expiresAt ?? 'never'}`,
    );
  }
}

export async function revoke(ctx: CliContext, name: string): Promise<void> {
  const report = await ctx.client().tokens.revoke(name);
  if (ctx.json) return ctx.printJson(report);
  ctx.out(`token ${report.revoked} (${report.id}) revoked`);
}

/** `--expires 30d` → seconds (the daemon checks it again). */
function expiresIn(text: string): number {
  const seconds = durationSeconds(text);
  if (seconds === undefined)
    throw cliErrors.create(
      'CLI_USAGE',
      `--expires ${JSON.stringify(text)}: a duration like 90m, 12h, 30d or 1w`,
    );
  return seconds;
}
