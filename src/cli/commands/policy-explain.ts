import type { Command } from 'commander';
import { PolicyDecision } from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { api } from './policy-show.js';

export function register(program: Command, ctx: CliContext): void {
  commandGroup(program, 'policy', 'policy: evaluate, test, show and explain')
    .command('explain')
    .requiredOption('--log-entry <id>', 'decision id (dec_…) from a 403 body, an error or `aibox audit tail`')
    .description('say which layer and rule decided a request, with the effective value')
    .action(async (opts: { logEntry: string }) => {
      const d = await api(ctx)(
        'GET',
        `/v1/policy/decisions/${encodeURIComponent(opts.logEntry)}`,
        PolicyDecision,
      );
      if (ctx.json) ctx.printJson(d);
      else ctx.out(renderExplain(d));
    });
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
