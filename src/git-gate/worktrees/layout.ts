import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gitGateErrors } from '../errors.js';
import type { WorktreeLayout } from './mounts.js';

/**
 * Reads a linked worktree's layout from disk: its `.git` file (`gitdir: …`), the gitdir's `commondir` and `HEAD`.
 * Returns undefined when `dir` is not a linked worktree (a plain repository or no repository at all).
 */
export async function readWorktreeLayout(dir: string): Promise<WorktreeLayout | undefined> {
  const dotGit = path.join(dir, '.git');
  const st = await stat(dotGit).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  const m = /^gitdir: (.+)$/m.exec(await readFile(dotGit, 'utf8'));
  if (!m?.[1]) throw gitGateErrors.create('TASK_WORKTREE_INVALID', `${dotGit} does not name a gitdir`);
  const gitdir = path.resolve(dir, m[1].trim());
  const commondirFile = await readFile(path.join(gitdir, 'commondir'), 'utf8').catch(() => undefined);
  if (commondirFile === undefined) {
    throw gitGateErrors.create('TASK_WORKTREE_INVALID', `${gitdir} has no commondir: not a linked worktree`);
  }
  const commonDir = path.resolve(gitdir, commondirFile.trim());
  const head = await readFile(path.join(gitdir, 'HEAD'), 'utf8').catch(() => '');
  const branch = /^ref: refs\/heads\/(.+)$/m.exec(head)?.[1]?.trim();
  if (!branch)
    throw gitGateErrors.create('TASK_WORKTREE_INVALID', `${dir} has no branch checked out (detached HEAD)`);
  if (!gitdir.startsWith(path.join(commonDir, 'worktrees') + path.sep)) {
    throw gitGateErrors.create('TASK_WORKTREE_INVALID', `${gitdir} is not inside ${commonDir}/worktrees`);
  }
  return { worktree: path.resolve(dir), gitdir, commonDir, branch };
}
