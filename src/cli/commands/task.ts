import path from 'node:path';
import { TASK_NAME_PATTERN } from '../../shared/api/names.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderTable } from '../render/table.js';

/**
 * `aibox task new "feature 123 implement user auth"`: a branch task/<slug>, a git worktree for it next to the
 * repository and a sandbox on it. `task list`, `task done NAME`, `task rm NAME [--delete-branch]`.
 */
export async function create(
  ctx: CliContext,
  words: string[],
  opts: { repo?: string; base?: string; profile?: string; sandbox: boolean },
): Promise<void> {
  const t = await ctx.client().tasks.create({
    repo: path.resolve(ctx.io.cwd, opts.repo ?? '.'),
    description: words.join(' '),
    sandbox: opts.sandbox,
    ...(opts.base ? { base: opts.base } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
  });
  if (ctx.json) return ctx.printJson(t);
  ctx.out(`task ${t.name}: branch ${t.branch} in ${t.worktree}`);
  if (t.sandbox) ctx.out(`sandbox ${t.sandbox}: aibox exec ${t.sandbox} -- bash`);
}

export async function list(ctx: CliContext): Promise<void> {
  const tasks = await ctx.client().tasks.list();
  if (ctx.json) return ctx.printJson(tasks);
  if (tasks.tasks.length === 0) return ctx.note('no tasks; create one with `aibox task new "what to do"`');
  ctx.out(
    renderTable(
      ['NAME', 'STATE', 'BRANCH', 'SANDBOX', 'WORKTREE'],
      tasks.tasks.map((t) => [t.name, t.state, t.branch, t.sandbox ?? '-', t.worktree]),
    ),
  );
}

export async function done(ctx: CliContext, name: string): Promise<void> {
  const t = await ctx.client().tasks.done(taskName(name));
  if (ctx.json) return ctx.printJson(t);
  ctx.out(`task ${t.name} completed; its work is on branch ${t.branch}`);
}

export async function rm(
  ctx: CliContext,
  name: string,
  opts: { deleteBranch?: boolean; force?: boolean },
): Promise<void> {
  const t = await ctx.client().tasks.remove(taskName(name), opts);
  if (ctx.json) return ctx.printJson(t);
  ctx.out(
    `task ${t.name} removed${opts.deleteBranch ? ` with branch ${t.branch}` : `; branch ${t.branch} kept`}`,
  );
}

function taskName(name: string): string {
  if (!TASK_NAME_PATTERN.test(name))
    throw cliErrors.create('CLI_USAGE', `invalid task name ${JSON.stringify(name)}`);
  return name;
}
