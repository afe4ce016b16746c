import { execa } from 'execa';
import { appendFile, lstat, mkdtemp, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protectGitMetadata } from '../../src/git-gate/index.js';
import { pinnedParents } from '../../src/runtime/index.js';

const git = (cwd: string, args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
    cwd,
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });

describe('git metadata protection', () => {
  let repo: string;
  beforeEach(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-meta-'));
    await git(repo, ['init', '-q', '-b', 'main']);
    await git(repo, ['commit', '-q', '--allow-empty', '-m', 'init']);
  });
  afterEach(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('pins every path host git reads as configuration, with git-neutral placeholders for missing ones', async () => {
    await rm(path.join(repo, '.git', 'hooks'), { recursive: true });
    await appendFile(path.join(repo, '.git', 'config'), '[include]\n\tpath = local.gitconfig\n');
    const paths = await protectGitMetadata(repo);
    expect(paths.sort()).toEqual(
      [
        '.git/branches',
        '.git/commondir',
        '.git/config',
        '.git/config.worktree',
        '.git/hooks',
        '.git/info',
        '.git/local.gitconfig',
        '.git/modules',
        '.git/remotes',
        '.git/worktrees',
      ].sort(),
    );
    expect(await readFile(path.join(repo, '.git', 'commondir'), 'utf8')).toBe('.\n');
    expect((await lstat(path.join(repo, '.git', 'hooks'))).isDirectory()).toBe(true);
    // Host git reads the repository exactly as before.
    await writeFile(path.join(repo, 'f'), 'x\n');
    await git(repo, ['add', 'f']);
    await git(repo, ['commit', '-qm', 'f']);
    expect((await git(repo, ['log', '--format=%s'])).stdout.split('\n')).toEqual(['f', 'init']);
    expect((await git(repo, ['status', '--porcelain'])).stdout).toBe('');
    expect((await git(repo, ['rev-parse', '--git-common-dir'])).stdout).toBe(path.join(repo, '.git'));
    // Idempotent: a second start finds its own placeholders.
    expect((await protectGitMetadata(repo)).sort()).toEqual(paths.sort());
  });

  it('refuses a symlink at any protected path and a commondir that redirects', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'aibox-meta-out-'));
    for (const name of ['hooks', 'info', 'config', 'modules']) {
      const p = path.join(repo, '.git', name);
      await rm(p, { recursive: true, force: true });
      await symlink(outside, p);
      await expect(protectGitMetadata(repo), name).rejects.toMatchObject({ code: 'GIT_METADATA_UNSAFE' });
      await rm(p);
      if (name === 'config') await writeFile(p, '');
    }
    await writeFile(path.join(repo, '.git', 'commondir'), '../evil\n');
    await expect(protectGitMetadata(repo)).rejects.toMatchObject({ code: 'GIT_METADATA_UNSAFE' });
    await rm(path.join(repo, '.git', 'commondir'));
    await symlink(path.join(outside, 'x'), path.join(repo, '.git', 'commondir'));
    await expect(protectGitMetadata(repo)).rejects.toMatchObject({ code: 'GIT_METADATA_UNSAFE' });
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(outside)).toEqual([]); // nothing was written through a link
    await rm(outside, { recursive: true, force: true });
  });

  it('pins a .git file (a worktree or submodule checkout) and refuses a .git symlink', async () => {
    const wt = await mkdtemp(path.join(tmpdir(), 'aibox-meta-wt-'));
    await writeFile(path.join(wt, '.git'), 'gitdir: /elsewhere\n');
    expect(await protectGitMetadata(wt)).toEqual(['.git']);
    await rm(path.join(wt, '.git'));
    await symlink(path.join(repo, '.git'), path.join(wt, '.git'));
    await expect(protectGitMetadata(wt)).rejects.toMatchObject({ code: 'GIT_METADATA_UNSAFE' });
    await rm(path.join(wt, '.git'));
    expect(await protectGitMetadata(wt)).toEqual([]);
    await mkdir(path.join(wt, 'x'));
    await rm(wt, { recursive: true, force: true });
  });

  it('pins the parent folders of read-only paths so they cannot be renamed away', () => {
    expect(pinnedParents(['.git/hooks', '.git/config', 'aibox'])).toEqual(['.git']);
    expect(pinnedParents(['a/b/c', 'a'])).toEqual(['a/b']);
    expect(pinnedParents(['.git'])).toEqual([]);
  });
});
