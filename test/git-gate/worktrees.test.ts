import { describe, expect, it } from 'vitest';
import { slugify, worktreeMounts } from '../../src/git-gate/index.js';

describe('task slugs', () => {
  it('turns a description into a branch-safe slug', () => {
    expect(slugify('feature 123 implement user auth')).toBe('feature-123-implement-user-auth');
    expect(slugify('  Fix: Crash in «Überweisung» (#42)!! ')).toBe('fix-crash-in-uberweisung-42');
  });

  it('cuts long descriptions at a word boundary and yields nothing for no words', () => {
    const s = slugify('implement the very long feature description that goes on and on forever and ever');
    expect(s.length).toBeLessThanOrEqual(48);
    expect(s).toBe('implement-the-very-long-feature-description-that');
    expect(slugify('!!! ---')).toBe('');
  });
});

describe('worktree mounts', () => {
  const layout = {
    worktree: '/home/dev/app.worktrees/feature-1',
    gitdir: '/home/dev/app/.git/worktrees/feature-1',
    commonDir: '/home/dev/app/.git',
    branch: 'task/feature-1',
  };

  it('mounts the repository read-only and only what a commit writes read-write, parents first', () => {
    expect(worktreeMounts(layout)).toEqual([
      { source: '/home/dev/app/.git', target: '/home/dev/app/.git', readOnly: true },
      { source: '/home/dev/app/.git/objects', target: '/home/dev/app/.git/objects', readOnly: false },
      {
        source: '/home/dev/app/.git/refs/heads/task',
        target: '/home/dev/app/.git/refs/heads/task',
        readOnly: false,
      },
      {
        source: '/home/dev/app/.git/logs/refs/heads/task',
        target: '/home/dev/app/.git/logs/refs/heads/task',
        readOnly: false,
      },
      {
        source: '/home/dev/app/.git/refs/remotes',
        target: '/home/dev/app/.git/refs/remotes',
        readOnly: false,
      },
      {
        source: '/home/dev/app/.git/logs/refs/remotes',
        target: '/home/dev/app/.git/logs/refs/remotes',
        readOnly: false,
      },
      { source: layout.gitdir, target: layout.gitdir, readOnly: false },
      { source: `${layout.gitdir}/commondir`, target: `${layout.gitdir}/commondir`, readOnly: true },
      { source: `${layout.gitdir}/gitdir`, target: `${layout.gitdir}/gitdir`, readOnly: true },
      {
        source: `${layout.gitdir}/config.worktree`,
        target: `${layout.gitdir}/config.worktree`,
        readOnly: true,
      },
      { source: '/home/dev/app.worktrees/feature-1/.git', target: '/workspace/.git', readOnly: true },
    ]);
  });

  it('never makes config, hooks or other branches writable', () => {
    const writable = worktreeMounts(layout).filter((m) => !m.readOnly);
    for (const m of writable) {
      expect(m.target).not.toMatch(/\/(config|hooks|info)(\/|$)/);
      expect(m.target).not.toBe('/home/dev/app/.git/refs/heads');
      expect(m.target).not.toBe('/home/dev/app/.git');
    }
  });

  it('does not open refs/heads for a branch outside a prefix folder', () => {
    const m = worktreeMounts({ ...layout, branch: 'feature-1' });
    expect(m.some((x) => x.target.includes('refs/heads') && !x.readOnly)).toBe(false);
  });
});
