import { ApiCore, bySchema } from '../../client/api.js';
import { CreatedToken, TokenList, TokenRevokedReport, TOKEN_ROUTES } from '../../shared/api/tokens.js';
import { parseDuration } from '../../tokens/duration.js';
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
  const created = await api(ctx).json('POST', TOKEN_ROUTES.collection, bySchema(CreatedToken), {
    name,
    ...(opts.scope ? { scope: opts.scope } : {}),
    ...(opts.team ? { team: opts.team } : {}),
    ...(opts.expires ? { expiresInSeconds: parseDuration(opts.expires) } : {}),
  });
  if (ctx.json) return ctx.printJson(created);
  ctx.note(
    `token ${created.name} (${created.id}, scope ${created.scope}${created.team ? `, team ${created.team}` : ''}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}); shown once, keep it secret:`,
  );
  ctx.out(created.token);
}

export async function list(ctx: CliContext): Promise<void> {
  const { tokens } = await api(ctx).json('GET', TOKEN_ROUTES.collection, bySchema(TokenList));
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
  const path = TOKEN_ROUTES.one.replace(':name', encodeURIComponent(name));
  const report = await api(ctx).json('DELETE', path, bySchema(TokenRevokedReport));
  if (ctx.json) return ctx.printJson(report);
  ctx.out(`token ${report.revoked} (${report.id}) revoked`);
}

function api(ctx: CliContext): ApiCore {
  return new ApiCore(ctx.socketPath);
}
