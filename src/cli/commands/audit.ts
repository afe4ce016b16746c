import { writeFile } from 'node:fs/promises';
import type { AuditRecordJson } from '../../shared/api/audit.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';

/** `aibox audit tail`: the latest records, oldest first. */
export async function tail(
  ctx: CliContext,
  opts: { sandbox?: string; kind?: string; limit: string },
): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw cliErrors.create(
      'CLI_USAGE',
      `--limit must be a positive whole number, not ${JSON.stringify(opts.limit)}`,
    );
  const sandbox = opts.sandbox === undefined ? undefined : ctx.sandboxName(opts.sandbox);
  const records = await ctx.client().audit.tail({ sandbox, kind: opts.kind, limit });
  if (ctx.json) return ctx.printJson({ records });
  for (const rec of records) ctx.out(renderRecord(rec));
}

/** `aibox audit verify`: every hash and link of the chain; exit 1 at the first bad record. */
export async function verify(ctx: CliContext): Promise<void> {
  const r = await ctx.client().audit.verify();
  if (!r.ok) ctx.exitCode = EXIT.failed;
  if (ctx.json) return ctx.printJson(r);
  if (r.ok) ctx.out(`audit log intact: ${r.records} records, head ${r.lastHash.slice(0, 16)}…`);
  else {
    const p = r.problem!;
    ctx.out(`audit log TAMPERED: line ${p.line}${p.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p.reason}`);
    ctx.out(`  the first ${r.records} records verify; nothing from line ${p.line} on can be trusted`);
  }
}

/** `aibox audit export --sandbox NAME [-o FILE]`: one JSON bundle of a sandbox's session. */
export async function exportSession(
  ctx: CliContext,
  opts: { sandbox: string; output?: string },
): Promise<void> {
  const bundle = await ctx.client().audit.export(ctx.sandboxName(opts.sandbox));
  if (opts.output === undefined) return ctx.printJson(bundle);
  await writeFile(opts.output, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o600 });
  const counts =
    Object.entries(bundle.counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'no records';
  if (ctx.json) ctx.printJson({ output: opts.output, counts: bundle.counts, verify: bundle.verify });
  else ctx.out(`wrote ${opts.output}: ${counts}; log integrity ${bundle.verify.ok ? 'ok' : 'BROKEN'}`);
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
