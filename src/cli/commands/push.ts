import type { Command } from 'commander';
import type { z } from 'zod';
import { UnixSocketTransport, errorFromAnswer, parseJson } from '../../client/index.js';
import { PushId, PushList, PushReport, PushShowReport, PushStateName } from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

/**
 * `aibox push status|show|approve|reject`: review of pushes that policy gated. An agent's push to a protected branch
 * waits upstream on refs/aibox/staging/<sandbox>/<id>; a person looks at the exact commits (`show`) and approves
 * them (bound to the commit shown) or rejects them.
 */
export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(
    program,
    'push',
    'review git pushes waiting for approval (staged, target untouched)',
  );

  group
    .command('status')
    .description('list gated pushes (default: pending and conflicting ones; --all for every push)')
    .option('--state <state>', `only pushes in this state (${PushStateName.options.join(', ')})`)
    .option('--sandbox <name>', 'only pushes from this sandbox')
    .option('--all', 'include approved and rejected pushes')
    .action(async (opts: { state?: string; sandbox?: string; all?: boolean }) => {
      const query = new URLSearchParams();
      if (opts.state) {
        const state = PushStateName.safeParse(opts.state);
        if (!state.success)
          throw cliErrors.create('CLI_USAGE', `unknown push state ${JSON.stringify(opts.state)}`);
        query.set('state', state.data);
      }
      if (opts.sandbox) query.set('sandbox', ctx.sandboxName(opts.sandbox));
      const list = await call(ctx, 'GET', `/v1/pushes${query.size ? `?${query.toString()}` : ''}`, PushList);
      const shown =
        opts.all || opts.state
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
    });

  group
    .command('show')
    .argument('<id>', 'push id (push_…)')
    .description('show the commits and diff a push would add; approval is then bound to exactly this commit')
    .option('--stat', 'the diffstat only, no diff')
    .action(async (id: string, opts: { stat?: boolean }) => {
      const shown = await call(ctx, 'POST', `/v1/pushes/${pushId(id)}/show`, PushShowReport, {});
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
      ctx.note(
        `approve exactly this with: aibox push approve ${p.id}   (or --commit ${p.commit.slice(0, 12)})`,
      );
    });

  group
    .command('approve')
    .argument('<id>', 'push id')
    .option('--commit <sha>', 'the commit you reviewed (default: the one the last `push show` presented)')
    .description(
      'update the target branch to the reviewed commit (fast-forward only; refused if the push moved)',
    )
    .action(async (id: string, opts: { commit?: string }) => {
      const p = await call(ctx, 'POST', `/v1/pushes/${pushId(id)}/approve`, PushReport, {
        ...(opts.commit ? { commit: opts.commit } : {}),
      });
      if (ctx.json) return ctx.printJson(p);
      ctx.out(`push ${p.id} approved: ${p.repo} ${p.ref} is now ${p.commit.slice(0, 12)}`);
    });

  group
    .command('reject')
    .argument('<id>', 'push id')
    .option('--reason <text>', 'why (kept with the push and shown in its status)')
    .description('reject a push: its staging ref is deleted, the target branch stays as it is')
    .action(async (id: string, opts: { reason?: string }) => {
      const p = await call(ctx, 'POST', `/v1/pushes/${pushId(id)}/reject`, PushReport, {
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      if (ctx.json) return ctx.printJson(p);
      ctx.out(`push ${p.id} rejected${p.reason ? `: ${p.reason}` : ''}`);
    });
}

function pushId(id: string): string {
  const parsed = PushId.safeParse(id);
  if (!parsed.success) throw cliErrors.create('CLI_USAGE', `invalid push id ${JSON.stringify(id)} (push_…)`);
  return parsed.data;
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

async function call<S extends z.ZodType>(
  ctx: CliContext,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
): Promise<z.output<S>> {
  const res = await new UnixSocketTransport(ctx.socketPath).request(method, path, body);
  if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
  const parsed = schema.safeParse(parseJson(res.body));
  if (!parsed.success) {
    throw cliErrors.create('CLI_INTERNAL', `aiboxd's answer to ${method} ${path} is not the documented one`);
  }
  return parsed.data;
}
