import type { CommandSpec, GroupSpec } from '../spec.js';

export const GIT_GROUPS: readonly GroupSpec[] = [
  { name: 'push', description: 'review git pushes waiting for approval (staged, target untouched)' },
  { name: 'task', description: 'parallel tasks: one branch, worktree and sandbox each' },
];

/** Review of gated pushes, and parallel tasks (a branch, a worktree and a sandbox each). */
export const GIT_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'push status',
    description: 'list gated pushes (default: pending and conflicting ones; --all for every push)',
    options: [
      {
        flags: '--state <state>',
        description: 'only pushes in this state (pending, approved, rejected, conflict)',
      },
      { flags: '--sandbox <name>', description: 'only pushes from this sandbox', complete: 'sandbox' },
      { flags: '--all', description: 'include approved and rejected pushes' },
    ],
    run: () => import('../commands/push.js').then((m) => m.status),
  },
  {
    name: 'push show',
    description: 'show the commits and diff a push would add; approval is then bound to exactly this commit',
    args: [['<id>', 'push id (push_…)']],
    options: [{ flags: '--stat', description: 'the diffstat only, no diff' }],
    run: () => import('../commands/push.js').then((m) => m.show),
  },
  {
    name: 'push approve',
    description:
      'update the target branch to the reviewed commit (fast-forward only; refused if the push moved)',
    args: [['<id>', 'push id']],
    options: [
      {
        flags: '--commit <sha>',
        description: 'the commit you reviewed (default: the one the last `push show` presented)',
      },
    ],
    run: () => import('../commands/push.js').then((m) => m.approve),
  },
  {
    name: 'push reject',
    description: 'reject a push: its staging ref is deleted, the target branch stays as it is',
    args: [['<id>', 'push id']],
    options: [{ flags: '--reason <text>', description: 'why (kept with the push and shown in its status)' }],
    run: () => import('../commands/push.js').then((m) => m.reject),
  },
  {
    name: 'task new',
    description: 'create a task branch, its worktree and a sandbox on it',
    args: [['<description...>', 'what the task is; its slug names the branch and the worktree']],
    options: [
      {
        flags: '--repo <path>',
        description: 'the git repository (default: the current folder)',
        complete: 'file',
      },
      { flags: '--base <ref>', description: 'start from this commit or branch (default: HEAD)' },
      { flags: '--profile <name>', description: 'security profile of the sandbox' },
      { flags: '--no-sandbox', description: 'only the branch and worktree, no sandbox' },
    ],
    run: () => import('../commands/task.js').then((m) => m.create),
  },
  {
    name: 'task list',
    aliases: ['ls'],
    description: 'list tasks with their branch, worktree and sandbox',
    run: () => import('../commands/task.js').then((m) => m.list),
  },
  {
    name: 'task done',
    description: 'mark a task completed (the host is notified)',
    args: [['<name>', 'task name']],
    run: () => import('../commands/task.js').then((m) => m.done),
  },
  {
    name: 'task rm',
    description: 'remove a task: its sandbox and worktree (the branch stays unless --delete-branch)',
    args: [['<name>', 'task name']],
    options: [
      {
        flags: '--delete-branch',
        description: 'also delete the task branch (refused if unmerged, unless --force)',
      },
      {
        flags: '--force',
        description: 'remove a worktree with uncommitted changes and delete an unmerged branch',
      },
    ],
    run: () => import('../commands/task.js').then((m) => m.rm),
  },
];
