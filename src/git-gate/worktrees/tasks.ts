import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { z } from 'zod';
import type { Clock, Logger } from '../../shared/index.js';
import { KeyedMutex, readJsonFile, writeJsonAtomic } from '../../shared/fs/index.js';
import type { GitAuditSink } from '../audit.js';
import { gitGateErrors } from '../errors.js';
import { GitCommandError, type GitRunner } from '../exec.js';
import type { Notifier } from '../notify.js';
import { worktreeMounts, worktreeMountSources, type Mount, type WorktreeLayout } from './mounts.js';
import { assertNoSymlinks, identityOf } from './nofollow.js';
import { slugify } from './slug.js';

export const TaskRecord = z.object({
  name: z.string().describe('The slug: task name, folder name and the last part of the branch.'),
  description: z.string(),
  repo: z.string().describe('Main working tree of the repository.'),
  branch: z.string(),
  worktree: z.string(),
  base: z.string().describe('The commit the branch started from.'),
  state: z.enum(['active', 'completed']),
  sandbox: z.string().optional(),
  createdAt: z.string(),
  completedAt: z.string().optional(),
  // Established by the daemon when it created the worktree, never re-read from the worktree (the agent writes it).
  gitdir: z.string().optional().describe('<common>/worktrees/<name>: the worktree gitdir git created.'),
  commonDir: z.string().optional().describe("The main repository's .git folder."),
  owner: z.object({ uid: z.number().int(), gid: z.number().int() }).optional(),
  identity: z
    .object({ commonDir: z.string(), gitdir: z.string() })
    .optional()
    .describe('dev:ino of both, re-checked at every start (a moved or swapped folder is refused).'),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

const TaskFile = z.object({ version: z.literal(1), tasks: z.array(TaskRecord) });

export interface TaskManagerOptions {
  readonly stateFile: string;
  /** Folder for worktrees; default `<repo>.worktrees` next to the repository. */
  readonly root?: string;
  readonly branchPrefix: string;
  readonly git: GitRunner;
  readonly audit: GitAuditSink;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly clock: Clock;
}

interface RepoInfo {
  readonly root: string;
  readonly commonDir: string;
  readonly user: { uid: number; gid: number } | undefined;
}

/**
 * Per-task worktrees: a branch `<prefix>/<slug>` and a linked worktree for it, created and removed with the host's
 * git running as the repository's owner (the daemon is root; the user's files must stay the user's). Sandboxes on a
 * worktree get their git metadata through `mountsFor`.
 */
export class TaskManager {
  private readonly lock = new KeyedMutex();

  constructor(private readonly opts: TaskManagerOptions) {}

  private now(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  async list(): Promise<TaskRecord[]> {
    return (await readJsonFile(this.opts.stateFile, TaskFile))?.tasks ?? [];
  }

  async get(name: string): Promise<TaskRecord> {
    const t = (await this.list()).find((x) => x.name === name);
    if (!t) throw gitGateErrors.create('TASK_NOT_FOUND', `no task named ${name}`);
    return t;
  }

  private async save(fn: (tasks: TaskRecord[]) => TaskRecord[]): Promise<void> {
    await this.lock.run('file', async () => {
      await writeJsonAtomic(
        this.opts.stateFile,
        { version: 1, tasks: fn(await this.list()) },
        { mode: 0o600, mkdirMode: 0o700 },
      );
    });
  }

  async create(input: { repo: string; description: string; base?: string }): Promise<TaskRecord> {
    const slug = slugify(input.description);
    if (!slug)
      throw gitGateErrors.create('TASK_INVALID_DESCRIPTION', `no usable words in "${input.description}"`);
    const repo = await this.repoInfo(input.repo);
    const branch = `${this.opts.branchPrefix}/${slug}`;
    const worktree = path.join(this.opts.root ?? `${repo.root}.worktrees`, slug);
    if ((await this.list()).some((t) => t.name === slug)) {
      throw gitGateErrors.create('TASK_EXISTS', `a task named ${slug} exists`);
    }
    const run = (args: string[]) =>
      this.opts.git.run(args, { cwd: repo.root, ...(repo.user ? { user: repo.user } : {}) });
    const exists = await this.opts.git.try(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], {
      cwd: repo.root,
      ...(repo.user ? { user: repo.user } : {}),
    });
    if (exists.exitCode === 0) throw gitGateErrors.create('TASK_EXISTS', `branch ${branch} already exists`);
    const base = (
      await this.gitOrFail(() => run(['rev-parse', '--verify', `${input.base ?? 'HEAD'}^{commit}`]))
    ).trim();
    await this.gitOrFail(() => run(['worktree', 'add', '--quiet', '-b', branch, worktree, base]));
    // Read once, now, from the worktree git just made (no sandbox has run in it yet), and kept in our own state.
    const gitdir = (
      await this.gitOrFail(() =>
        this.opts.git.run(['rev-parse', '--path-format=absolute', '--git-dir'], {
          cwd: worktree,
          ...(repo.user ? { user: repo.user } : {}),
        }),
      )
    ).trim();
    if (path.dirname(gitdir) !== path.join(repo.commonDir, 'worktrees')) {
      throw gitGateErrors.create(
        'TASK_WORKTREE_INVALID',
        `${gitdir} is not inside ${repo.commonDir}/worktrees`,
      );
    }
    const layout: WorktreeLayout = { worktree, gitdir, commonDir: repo.commonDir, branch };
    await this.createMountSources(layout, repo.user);
    const owner = repo.user ?? {
      uid: (await stat(repo.commonDir)).uid,
      gid: (await stat(repo.commonDir)).gid,
    };
    const record: TaskRecord = {
      name: slug,
      description: input.description,
      repo: repo.root,
      branch,
      worktree,
      base,
      state: 'active',
      createdAt: this.now(),
      gitdir,
      commonDir: repo.commonDir,
      owner,
      identity: { commonDir: (await identityOf(repo.commonDir))!, gitdir: (await identityOf(gitdir))! },
    };
    await this.save((tasks) => [...tasks, record]);
    await this.opts.audit.record({
      type: 'task.created',
      at: record.createdAt,
      task: slug,
      ref: `refs/heads/${branch}`,
      detail: worktree,
    });
    return record;
  }

  async attachSandbox(name: string, sandbox: string): Promise<TaskRecord> {
    const t = await this.get(name);
    const next = { ...t, sandbox };
    await this.save((tasks) => tasks.map((x) => (x.name === name ? next : x)));
    return next;
  }

  /** Marks a task completed (its sandbox stopped, or the user said so) and tells the host. */
  async complete(name: string): Promise<TaskRecord> {
    const t = await this.get(name);
    if (t.state === 'completed') return t;
    const next: TaskRecord = { ...t, state: 'completed', completedAt: this.now() };
    await this.save((tasks) => tasks.map((x) => (x.name === name ? next : x)));
    await this.opts.notifier.notify({
      kind: 'task.completed',
      title: `task ${name} completed on branch ${t.branch}`,
      task: name,
      ...(t.sandbox ? { sandbox: t.sandbox } : {}),
      action: `git -C ${t.repo} log ${t.base}..${t.branch}`,
    });
    return next;
  }

  async remove(name: string, opts: { deleteBranch?: boolean; force?: boolean } = {}): Promise<TaskRecord> {
    const t = await this.get(name);
    const repo = await this.repoInfo(t.repo);
    const run = (args: string[]) =>
      this.opts.git.run(args, { cwd: repo.root, ...(repo.user ? { user: repo.user } : {}) });
    const listed = await run(['worktree', 'list', '--porcelain']);
    if (listed.split('\n').includes(`worktree ${t.worktree}`)) {
      await this.gitOrFail(() => run(['worktree', 'remove', ...(opts.force ? ['--force'] : []), t.worktree]));
    }
    if (opts.deleteBranch) await this.gitOrFail(() => run(['branch', opts.force ? '-D' : '-d', t.branch]));
    await this.save((tasks) => tasks.filter((x) => x.name !== name));
    await this.opts.audit.record({
      type: 'task.removed',
      at: this.now(),
      task: name,
      ref: `refs/heads/${t.branch}`,
      detail: opts.deleteBranch ? 'branch deleted' : 'branch kept',
    });
    return t;
  }

  /**
   * The extra mounts for a sandbox whose project folder is `dir`: the worktree metadata mounts when `dir` is the
   * worktree of a task this daemon created, none otherwise. The layout comes from the task record only: nothing in
   * the worktree (its `.git` file, the gitdir's `commondir` or `HEAD`, all writable by the agent) is read here. Every
   * source is checked to be a real folder or file (no symlink at any component beneath the repository's .git) and
   * the .git folders to be the very ones recorded (device and inode); nothing is created or chowned as root.
   */
  async mountsFor(dir: string, workspaceTarget = '/workspace'): Promise<Mount[]> {
    const task = (await this.list()).find((t) => t.worktree === path.resolve(dir));
    if (!task) return [];
    const { gitdir, commonDir, identity } = task;
    if (!gitdir || !commonDir || !identity) {
      throw gitGateErrors.create('TASK_WORKTREE_INVALID', `task ${task.name} was created by an older aiboxd`);
    }
    if (
      (await identityOf(commonDir)) !== identity.commonDir ||
      (await identityOf(gitdir)) !== identity.gitdir
    ) {
      throw gitGateErrors.create('TASK_WORKTREE_INVALID', `the git folders of task ${task.name} moved`);
    }
    const layout: WorktreeLayout = { worktree: task.worktree, gitdir, commonDir, branch: task.branch };
    // Missing sources (a folder the user removed) are made again as the repository's owner, never as root.
    await this.createMountSources(layout, task.owner);
    await this.assertMountSources(layout);
    return worktreeMounts(layout, workspaceTarget);
  }

  /** The folders and files bind mounts need, made by the repository's owner (as root only for a root-owned repo). */
  private async createMountSources(layout: WorktreeLayout, user: { uid: number; gid: number } | undefined) {
    const src = worktreeMountSources(layout);
    const asOwner =
      process.getuid?.() === 0 && user && user.uid !== 0 ? { uid: user.uid, gid: user.gid } : {};
    const r = await execa('sh', ['-c', 'mkdir -p -- "$@" 2>&1', 'sh', ...src.dirs], {
      ...asOwner,
      reject: false,
    });
    const t = await execa('sh', ['-c', 'for f; do [ -e "$f" ] || : > "$f"; done 2>&1', 'sh', ...src.files], {
      ...asOwner,
      reject: false,
    });
    if (r.exitCode !== 0 || t.exitCode !== 0) {
      throw gitGateErrors.create(
        'TASK_WORKTREE_INVALID',
        `cannot prepare git metadata: ${r.stdout}${t.stdout}`,
      );
    }
  }

  private async assertMountSources(layout: WorktreeLayout): Promise<void> {
    for (const m of worktreeMounts(layout, '/workspace')) {
      if (m.source === path.join(layout.worktree, '.git')) {
        await assertNoSymlinks(layout.worktree, '.git', 'file');
        continue;
      }
      const rel = path.relative(layout.commonDir, m.source);
      if (rel === '') continue; // the common dir itself: checked by identity
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw gitGateErrors.create('TASK_WORKTREE_INVALID', `${m.source} is outside ${layout.commonDir}`);
      }
      const st = await stat(m.source).catch(() => undefined);
      await assertNoSymlinks(layout.commonDir, rel, st?.isFile() ? 'file' : 'dir');
    }
  }

  private async repoInfo(dir: string): Promise<RepoInfo> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw gitGateErrors.create('TASK_NOT_A_REPOSITORY', `${dir} is not a folder`);
    const user = process.getuid?.() === 0 && st.uid !== 0 ? { uid: st.uid, gid: st.gid } : undefined;
    const r = await this.opts.git.try(['rev-parse', '--path-format=absolute', '--git-common-dir'], {
      cwd: dir,
      ...(user ? { user } : {}),
    });
    if (r.exitCode !== 0)
      throw gitGateErrors.create('TASK_NOT_A_REPOSITORY', `${dir} is not inside a git repository`);
    const commonDir = r.stdout.trim();
    if (path.basename(commonDir) !== '.git') {
      throw gitGateErrors.create(
        'TASK_NOT_A_REPOSITORY',
        `${dir} is a bare repository; tasks need a working tree`,
      );
    }
    return { root: path.dirname(commonDir), commonDir, user };
  }

  private async gitOrFail<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GitCommandError) {
        throw gitGateErrors.create(
          'TASK_GIT_FAILED',
          err.stderr.split('\n').slice(-2).join(' ') || err.message,
        );
      }
      throw err;
    }
  }
}
