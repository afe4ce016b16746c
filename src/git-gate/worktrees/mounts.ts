import path from 'node:path';

export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** Where a linked worktree keeps its git metadata (see `readWorktreeLayout`). */
export interface WorktreeLayout {
  /** The worktree folder (mounted by the runtime as the sandbox's workspace). */
  readonly worktree: string;
  /** `<common>/worktrees/<name>`: HEAD, index, locks, logs/HEAD of this worktree. */
  readonly gitdir: string;
  /** The main repository's `.git` folder: objects, refs, config, hooks. */
  readonly commonDir: string;
  /** The branch checked out in the worktree, e.g. task/feature-123 (refs/heads/ stripped). */
  readonly branch: string;
}

/**
 * The mounts a sandbox needs to commit in a linked worktree while the repository's hooks and config stay read-only.
 * Pure. Git metadata is mounted at the same absolute path as on the host, because the worktree's `.git` file and the
 * gitdir's `commondir` point there. Later mounts lie on top of earlier ones (the list is ordered parent first).
 *
 * - the common dir read-only (config, hooks, info, packed-refs cannot be planted or edited);
 * - writable: objects (new commits), the folder of the task's branch ref and its reflog, remote-tracking refs, and
 *   the worktree's own gitdir (index, HEAD, locks);
 * - read-only again on top: the files that redirect git elsewhere (`commondir`, `gitdir`, `config.worktree`) and the
 *   worktree's `.git` file, so the agent cannot point the host's git at a config or hooks it wrote.
 */
export function worktreeMounts(layout: WorktreeLayout, workspaceTarget = '/workspace'): Mount[] {
  const c = layout.commonDir;
  const branchDir = path.posix.dirname(`refs/heads/${layout.branch}`);
  const rw = (p: string): Mount => ({ source: p, target: p, readOnly: false });
  const ro = (p: string): Mount => ({ source: p, target: p, readOnly: true });
  const mounts: Mount[] = [
    ro(c),
    rw(path.join(c, 'objects')),
    // Only the task branch's own folder: main and other branches stay read-only.
    ...(branchDir === 'refs/heads' ? [] : [rw(path.join(c, branchDir)), rw(path.join(c, 'logs', branchDir))]),
    rw(path.join(c, 'refs', 'remotes')),
    rw(path.join(c, 'logs', 'refs', 'remotes')),
    rw(layout.gitdir),
    ro(path.join(layout.gitdir, 'commondir')),
    ro(path.join(layout.gitdir, 'gitdir')),
    ro(path.join(layout.gitdir, 'config.worktree')),
    {
      source: path.join(layout.worktree, '.git'),
      target: path.posix.join(workspaceTarget, '.git'),
      readOnly: true,
    },
  ];
  return mounts;
}

/** Folders and files `worktreeMounts` expects to exist on the host (bind mounts need their source). */
export function worktreeMountSources(layout: WorktreeLayout): { dirs: string[]; files: string[] } {
  const c = layout.commonDir;
  const branchDir = path.posix.dirname(`refs/heads/${layout.branch}`);
  return {
    dirs: [
      ...(branchDir === 'refs/heads' ? [] : [path.join(c, branchDir), path.join(c, 'logs', branchDir)]),
      path.join(c, 'refs', 'remotes'),
      path.join(c, 'logs', 'refs', 'remotes'),
    ],
    files: [path.join(layout.gitdir, 'config.worktree')],
  };
}
