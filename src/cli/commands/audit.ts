import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { AuditExportBundle, AuditRecordJson, AuditVerifyReport } from '../../shared/index.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { api } from './policy-show.js';

export function register(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('the append-only, hash-chained audit log');

  audit
    .command('tail')
    .option('-s, --sandbox <name>', 'only this sandbox')
    .option('-k, --kind <kind>', 'only this kind: decision, exec, push, llm-call, ssh, sandbox, policy, …')
    .option('-n, --limit <n>', 'how many records', '50')
    .description('print the latest audit records, oldest first')
    .action(async (opts: { sandbox?: string; kind?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: opts.limit });
      if (opts.sandbox !== undefined) q.set('sandbox', ctx.sandboxName(opts.sandbox));
      if (opts.kind !== undefined) q.set('kind', opts.kind);
      const r = await api(ctx)(
        'GET',
        `/v1/audit?${q.toString()}`,
        z.object({ records: z.array(AuditRecordJson) }),
      );
      if (ctx.json) return ctx.printJson(r);
      for (const rec of r.records) ctx.out(renderRecord(rec));
    });

  audit
    .command('verify')
    .description('re-check every record hash and link of the chain; exit 1 at the first bad record')
    .action(async () => {
      const r = await api(ctx)('GET', '/v1/audit/verify', AuditVerifyReport);
      if (!r.ok) ctx.exitCode = EXIT.failed;
      if (ctx.json) return ctx.printJson(r);
      if (r.ok) ctx.out(`audit log intact: ${r.records} records, head ${r.lastHash.slice(0, 16)}…`);
      else {
        const p = r.problem!;
        ctx.out(
          `audit log TAMPERED: line ${p.line}${p.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p.reason}`,
        );
        ctx.out(`  the first ${r.records} records verify; nothing from line ${p.line} on can be trusted`);
      }
    });

  audit
    .command('export')
    .requiredOption('-s, --sandbox <name>', 'the sandbox whose session to export')
    .option('-o, --output <file>', 'write the bundle here instead of stdout')
    .description("write one JSON bundle of a sandbox's session: decisions, commands, pushes, LLM calls")
    .action(async (opts: { sandbox: string; output?: string }) => {
      const q = new URLSearchParams({ sandbox: ctx.sandboxName(opts.sandbox) });
      const bundle = await api(ctx)('GET', `/v1/audit/export?${q.toString()}`, AuditExportBundle);
      if (opts.output === undefined) return ctx.printJson(bundle);
      await writeFile(opts.output, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o600 });
      const counts =
        Object.entries(bundle.counts)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'no records';
      if (ctx.json) ctx.printJson({ output: opts.output, counts: bundle.counts, verify: bundle.verify });
      else ctx.out(`wrote ${opts.output}: ${counts}; log integrity ${bundle.verify.ok ? 'ok' : 'BROKEN'}`);
    });
}

function renderRecord(r: AuditRecordJson): string {
  const who = r.sandbox ? ` ${r.sandbox}` : '';
  const id = r.id ? ` ${r.id}` : '';
  const d = r.data;
  const summary =
    r.kind === 'decision'
      ? `${String(d['door'])} ${String(d['outcome'])}: ${String(d['reason'])}`
      : JSON.stringify(d).slice(0, 160);
  return `${r.ts} #${r.seq} ${r.kind}${who}${id}  ${summary}`;
}
