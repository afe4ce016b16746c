import type { ProposalReport } from '../../shared/api/proposals.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

const ID = /^prp_[0-9a-f]{12}$/;

/**
 * `aibox policy proposals [--sandbox S] [--all]`, `… approve ID`, `… reject ID --reason R`: the review side of
 * agent-proposed policy. Approving writes the change into the project's aibox/policy.yaml on the host (the daemon
 * does it, checking the file is the project owner's and no link); the reason of a rejection is what the agent reads.
 */
export async function policyProposals(
  ctx: CliContext,
  action: string | undefined,
  id: string | undefined,
  opts: { sandbox?: string; all?: boolean; reason?: string },
): Promise<void> {
  if (action === undefined) return list(ctx, opts);
  if (action !== 'approve' && action !== 'reject')
    throw cliErrors.create('CLI_USAGE', `unknown action ${JSON.stringify(action)}: approve or reject`);
  if (id === undefined || !ID.test(id))
    throw cliErrors.create('CLI_USAGE', `${action} needs a proposal id (prp_ and 12 hex digits)`);
  const client = ctx.client().proposals;
  if (action === 'approve') {
    const p = await client.approve(id);
    if (ctx.json) return ctx.printJson(p);
    return describe(ctx, p);
  }
  const reason = opts.reason?.trim();
  if (!reason) throw cliErrors.create('CLI_USAGE', 'reject needs --reason: the agent reads it back');
  const p = await client.reject(id, reason);
  if (ctx.json) return ctx.printJson(p);
  return describe(ctx, p);
}

async function list(ctx: CliContext, opts: { sandbox?: string; all?: boolean }): Promise<void> {
  const sandbox = opts.sandbox ? ctx.sandboxName(opts.sandbox) : undefined;
  const { proposals } = await ctx.client().proposals.list({
    ...(sandbox ? { sandbox } : {}),
    ...(opts.all ? {} : { state: 'pending' }),
  });
  if (ctx.json) return ctx.printJson({ proposals });
  if (proposals.length === 0) return ctx.note(opts.all ? 'no proposals' : 'no proposals waiting for review');
  ctx.out(
    renderTable(
      ['ID', 'STATE', 'SANDBOX', 'DESTINATION', 'REASON'],
      proposals.map((p) => [p.id, p.state, p.sandbox, destination(p), oneLine(p.reason, 60)]),
    ),
  );
}

function describe(ctx: CliContext, p: ProposalReport): void {
  ctx.out(`proposal ${p.id} (${p.sandbox}): ${p.state}`);
  ctx.out(`  ${destination(p)}`);
  const r = p.resolution;
  if (r?.changes?.length) ctx.out(`  aibox/policy.yaml: ${r.changes.join(', ')}`);
  else if (p.state === 'approved') ctx.out('  aibox/policy.yaml already allowed it: nothing changed');
  if (r?.reason) ctx.out(`  reason: ${oneLine(r.reason, 500)}`);
  if (r?.decisionId) ctx.out(`  decision ${r.decisionId} (aibox policy explain --log-entry ${r.decisionId})`);
}

function destination(p: ProposalReport): string {
  const methods = p.methods?.length ? `${p.methods.join(',')} ` : '';
  const paths = p.paths?.length ? ` ${p.paths.join(' ')}` : '';
  return `${methods}${p.host}:${p.port}${paths}`;
}

function oneLine(text: string, max: number): string {
  // The agent wrote it: no control characters reach the terminal, whatever the daemon let through.
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  const flat = text.replace(/[\x00-\x1f\x7f-\x9f]/g, ' ').replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
