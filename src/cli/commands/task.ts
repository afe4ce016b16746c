import path from 'node:path';
import type { Command } from 'commander';
import type { z } from 'zod';
import { UnixSocketTransport, errorFromAnswer, parseJson } from '../../client/index.js';
import { TaskList, TaskName, TaskReport } from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

/**
 * `aibox task new "feature 123 implement user auth"`: a branch task/<slug>, a git worktree for it next to the
 * repository and a sandbox on it. `task list`, `task done NAME`, `task rm NAME [--delete-branch]`.
 */
export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(program, 'task', 'parallel tasks: one branch, worktree and sandbox each');

  group
    .command('new')
    .argument('<description...>', 'what the task is; its slug names the branch and the worktree')
    .option('--repo <path>', 'the git repository (default: the current folder)')
    .option('--base <ref>', 'start from this commit or branch (default: HEAD)')
    .option('--profile <name>', 'security profile of the sandbox')
    .option('--no-sandbox', 'only the branch and worktree, no sandbox')
    .description('create a task branch, its worktree and a sandbox on it')
    .action(
      async (words: string[], opts: { repo?: string; base?: string; profile?: string; sandbox: boolean }) => {
        const t = await call(ctx, 'POST', '/v1/tasks', TaskReport, {
          repo: path.resolve(ctx.io.cwd, opts.repo ?? '.'),
          description: words.join(' '),
          sandbox: opts.sandbox,
          ...(opts.base ? { base: opts.base } : {}),
          ...(opts.profile ? { profile: opts.profile } : {}),
        });
        if (ctx.json) return ctx.printJson(t);
        ctx.out(`task ${t.name}: branch ${t.branch} in ${t.worktree}`);
        if (t.sandbox) ctx.out(`sandbox ${t.sandbox}: aibox exec ${t.sandbox} -- bash`);
      },
    );

  group
    .command('list')
    .alias('ls')
    .description('list tasks with their branch, worktree and sandbox')
    .action(async () => {
      const list = await call(ctx, 'GET', '/v1/tasks', TaskList);
      if (ctx.json) return ctx.printJson(list);
      if (list.tasks.length === 0) return ctx.note('no tasks; create one with `aibox task new "what to do"`');
      ctx.out(
        renderTable(
          ['NAME', 'STATE', 'BRANCH', 'SANDBOX', 'WORKTREE'],
          list.tasks.map((t) => [t.name, t.state, t.branch, t.sandbox ?? '-', t.worktree]),
        ),
      );
    });

  group
    .command('done')
    .argument('<name>', 'task name')
    .description('mark a task completed (the host is notified)')
    .action(async (name: string) => {
      const t = await call(ctx, 'POST', `/v1/tasks/${taskName(name)}/done`, TaskReport, {});
      if (ctx.json) return ctx.printJson(t);
      ctx.out(`task ${t.name} completed; its work is on branch ${t.branch}`);
    });

  group
    .command('rm')
    .argument('<name>', 'task name')
    .option('--delete-branch', 'also delete the task branch (refused if unmerged, unless --force)')
    .option('--force', 'remove a worktree with uncommitted changes and delete an unmerged branch')
    .description('remove a task: its sandbox and worktree (the branch stays unless --delete-branch)')
    .action(async (name: string, opts: { deleteBranch?: boolean; force?: boolean }) => {
      const query = new URLSearchParams({
        deleteBranch: String(opts.deleteBranch === true),
        force: String(opts.force === true),
      });
      const t = await call(ctx, 'DELETE', `/v1/tasks/${taskName(name)}?${query.toString()}`, TaskReport);
      if (ctx.json) return ctx.printJson(t);
      ctx.out(
        `task ${t.name} removed${opts.deleteBranch ? ` with branch ${t.branch}` : `; branch ${t.branch} kept`}`,
      );
    });
}

function taskName(name: string): string {
  const parsed = TaskName.safeParse(name);
  if (!parsed.success) throw cliErrors.create('CLI_USAGE', `invalid task name ${JSON.stringify(name)}`);
  return parsed.data;
}

async function call<S extends z.ZodType>(
  ctx: CliContext,
  method: string,
  route: string,
  schema: S,
  body?: unknown,
): Promise<z.output<S>> {
  const res = await new UnixSocketTransport(ctx.socketPath).request(method, route, body);
  if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
  const parsed = schema.safeParse(parseJson(res.body));
  if (!parsed.success) {
    throw cliErrors.create('CLI_INTERNAL', `aiboxd's answer to ${method} ${route} is not the documented one`);
  }
  return parsed.data;
}
