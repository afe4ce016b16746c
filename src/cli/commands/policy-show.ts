import type { PolicyShowReport } from '../../shared/api/policy.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatPolicyValue } from '../render/policy.js';

/** `aibox policy show [--sandbox NAME]`: exit 1 while a reload error is pending (the last good policy stays). */
export async function policyShow(ctx: CliContext, opts: { sandbox?: string }): Promise<void> {
  const sandbox = opts.sandbox === undefined ? undefined : ctx.sandboxName(opts.sandbox);
  const report = await ctx.client().policy.show(sandbox);
  if (report.errors.length > 0) ctx.exitCode = EXIT.failed;
  if (ctx.json) ctx.printJson(report);
  else ctx.out(renderShow(report));
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
