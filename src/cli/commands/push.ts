import { PUSH_ID_PATTERN } from '../../shared/api/names.js';
import type { PushStateName } from '../../shared/api/pushes.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

/**
 * `aibox push status|show|approve|reject`: review of pushes that policy gated. An agent's push to a protected branch
 * waits upstream on refs/aibox/staging/<sandbox>/<id>; a person looks at the exact commits (`show`) and approves
 * them (bound to the commit shown) or rejects them.
 */
const STATES: readonly PushStateName[] = ['pending', 'approved', 'rejected', 'conflict'];

export async function status(
  ctx: CliContext,
  opts: { state?: string; sandbox?: string; all?: boolean },
): Promise<void> {
  const state = opts.state === undefined ? undefined : STATES.find((s) => s === opts.state);
  if (opts.state !== undefined && state === undefined)
    throw cliErrors.create('CLI_USAGE', `unknown push state ${JSON.stringify(opts.state)}`);
  const sandbox = opts.sandbox ? ctx.sandboxName(opts.sandbox) : undefined;
  const list = await ctx.client().pushes.list({ state, sandbox });
  const shown =
    opts.all || state
      ? list.pushes
      : list.pushes.filter((p) => p.state === 'pending' || p.state === 'conflict');
  if (ctx.json) return ctx.printJson({ pushes: shown });
  if (shown.length === 0) return ctx.note('no pushes waiting for review');
  ctx.out(
    renderTable(
      ['ID', 'STATE', 'SANDBOX', 'REPO', 'REF', 'COMMIT', 'UPDATED'],
      shown.map((p) => [
        p.id,
        p.state,
        p.sandbox,
        p.repo,
        shortRef(p.ref),
        p.commit.slice(0, 12),
        p.updatedAt,
      ]),
    ),
  );
}

export async function show(ctx: CliContext, id: string, opts: { stat?: boolean }): Promise<void> {
  const shown = await ctx.client().pushes.show(pushId(id));
  if (ctx.json) return ctx.printJson(shown);
  const p = shown.push;
  ctx.out(`push ${p.id} (${p.state}) from sandbox ${p.sandbox}`);
  ctx.out(`  ${p.repo}: ${p.ref} ${(shown.target ?? '(new)').slice(0, 12)} -> ${p.commit.slice(0, 12)}`);
  ctx.out(`  decided by ${p.rule} (decision ${p.decisionId}); staged as ${p.stagingRef}`);
  if (p.reason) ctx.out(`  reason: ${p.reason}`);
  ctx.out('');
  for (const c of shown.commits) ctx.out(`${c.sha.slice(0, 12)}  ${c.subject}  (${c.author})`);
  ctx.out('');
  ctx.out(shown.stat.trimEnd());
  if (!opts.stat) {
    ctx.out('');
    ctx.out(shown.diff.trimEnd());
    if (shown.diffTruncated) ctx.note('(diff truncated; fetch the staging ref to see all of it)');
  }
  ctx.note(`approve exactly this with: aibox push approve ${p.id}   (or --commit ${p.commit.slice(0, 12)})`);
}

export async function approve(ctx: CliContext, id: string, opts: { commit?: string }): Promise<void> {
  const p = await ctx.client().pushes.approve(pushId(id), opts.commit ? { commit: opts.commit } : {});
  if (ctx.json) return ctx.printJson(p);
  ctx.out(`push ${p.id} approved: ${p.repo} ${p.ref} is now ${p.commit.slice(0, 12)}`);
}

export async function reject(ctx: CliContext, id: string, opts: { reason?: string }): Promise<void> {
  const p = await ctx.client().pushes.reject(pushId(id), opts.reason ? { reason: opts.reason } : {});
  if (ctx.json) return ctx.printJson(p);
  ctx.out(`push ${p.id} rejected${p.reason ? `: ${p.reason}` : ''}`);
}

function pushId(id: string): string {
  if (!PUSH_ID_PATTERN.test(id))
    throw cliErrors.create('CLI_USAGE', `invalid push id ${JSON.stringify(id)} (push_…)`);
  return id;
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}
