import type { PolicyDecision } from '../../shared/api/policy.js';
import type { CliContext } from '../context.js';

/** `aibox policy explain --log-entry dec_…`: which layer and rule decided, with the effective value. */
export async function policyExplain(ctx: CliContext, opts: { logEntry: string }): Promise<void> {
  const d = await ctx.client().policy.decision(opts.logEntry);
  if (ctx.json) ctx.printJson(d);
  else ctx.out(renderExplain(d));
}

/** Human form of a decision: request, outcome, each layer's verdict with rule and file:line, effective value. */
export function renderExplain(d: PolicyDecision): string {
  const width = Math.max(8, ...d.layers.map((l) => l.layer.length));
  const lines = [
    `decision ${d.id}  ${d.ts}  door ${d.door}${d.sandbox ? `  sandbox ${d.sandbox}` : ''}`,
    `request   ${JSON.stringify(d.request)}`,
    `outcome   ${d.outcome.toUpperCase()}: ${d.reason}`,
    'layers (org -> team -> project; the strictest verdict wins):',
  ];
  for (const l of d.layers) {
    lines.push(`  ${l.layer.padEnd(width)}  ${l.verdict.padEnd(7)}  ${l.reason}`);
    for (const r of l.rules)
      lines.push(`  ${''.padEnd(width)}  ${''.padEnd(7)}  ${r.rule}${r.at ? `  (${r.at})` : ''}`);
  }
  lines.push(`effective ${JSON.stringify(d.effective)}`, `policy    revision ${d.revision}`);
  return lines.join('\n');
}
