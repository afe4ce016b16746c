import { lstat, lchown, mkdir, open } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { gitGateErrors } from './errors.js';

/**
 * What host git reads from a repository's .git folder as configuration, or runs. The agent may write everything else
 * (objects, refs, logs, the index, HEAD, merge state), and must write it for commits and branches to work.
 */
const PROTECTED_DIRS = ['hooks', 'info', 'modules', 'worktrees', 'remotes', 'branches'] as const;
/**
 * `commondir` in a git folder redirects config, hooks and objects elsewhere: it must never be the agent's. Its
 * placeholder is `.` (the folder itself), which git reads as "no redirection" (checked by the test battery).
 */
const PROTECTED_FILES: Record<string, string> = { config: '', 'config.worktree': '', commondir: '.\n' };

/**
 * Makes the repository's git metadata read-only for the sandbox, and returns the workspace-relative paths to mount
 * read-only. A protected name that does not exist yet would be the agent's to create (a read-only mount needs an
 * existing mount point, and runsc creates a missing one on the host, empty: an empty `commondir` breaks git), so it
 * is created first as a git-neutral placeholder owned by the repository's owner: an empty folder, an empty config
 * file, `commondir` holding `.`. Nothing is followed: placeholders are made with O_EXCL / mkdir (which never follow a
 * final symlink) and chowned with lchown; a protected path that is a symlink, or a `commondir` that redirects,
 * refuses the start (GIT_METADATA_UNSAFE). The container runtime pins each read-only path's parent folders (.git)
 * with a bind over themselves, so the agent cannot rename .git away and put its own in place.
 */
export async function protectGitMetadata(project: string): Promise<string[]> {
  const dotGit = path.join(project, '.git');
  const st = await lstat(dotGit).catch(() => undefined);
  if (!st) return []; // not a repository root: see docs/git-security.md (nested repositories)
  if (st.isSymbolicLink()) throw unsafe('.git', 'is a symlink: host git would follow it out of the project');
  if (st.isFile()) return ['.git']; // a linked worktree or submodule checkout: its gitdir is outside the workspace
  if (!st.isDirectory()) throw unsafe('.git', 'is neither a folder nor a file');
  const owner = { uid: st.uid, gid: st.gid };

  const protectedPaths: string[] = [];
  for (const dir of PROTECTED_DIRS) {
    await ensure(path.join(dotGit, dir), 'dir', owner);
    protectedPaths.push(`.git/${dir}`);
  }
  for (const [file, content] of Object.entries(PROTECTED_FILES)) {
    await ensure(path.join(dotGit, file), 'file', owner, content);
    protectedPaths.push(`.git/${file}`);
  }
  const commondir = await readNoFollow(path.join(dotGit, 'commondir'));
  if (commondir.trim() !== '.') {
    throw unsafe('.git/commondir', 'redirects git to another folder (a placeholder holds ".")');
  }
  for (const rel of await includeTargets(project, path.join(dotGit, 'config'))) {
    await ensure(path.join(project, rel), 'file', owner, '');
    protectedPaths.push(rel);
  }
  return protectedPaths;
}

/** Files the repository config includes (include.path, includeIf.*.path) that lie inside the project folder. */
async function includeTargets(project: string, config: string): Promise<string[]> {
  // --no-includes: only this file's own entries (it is one of ours, already read-only for the agent).
  const r = await execa(
    'git',
    ['config', '--file', config, '--no-includes', '--get-regexp', '^include(if\\..*)?\\.path$'],
    {
      cwd: '/',
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1' },
    },
  );
  // 1: no include at all. Anything else: git cannot read the config, so we cannot know what it would include.
  if (r.exitCode !== 0 && r.exitCode !== 1) throw unsafe('.git/config', 'cannot be parsed by git');
  const out: string[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const value = line.slice(line.indexOf(' ') + 1);
    if (value.startsWith('~')) continue; // the owner's home: outside the workspace
    const target = path.resolve(path.dirname(config), value);
    const rel = path.relative(project, target);
    if (rel.startsWith('..') || path.isAbsolute(rel) || rel === '') continue;
    if (!rel.startsWith(`.git${path.sep}`) || rel.split(path.sep).length !== 2) {
      const exists = await lstat(target).catch(() => undefined);
      if (!exists || exists.isSymbolicLink() || !exists.isFile()) {
        throw unsafe(rel, 'is included by .git/config but is not a regular file (create it yourself first)');
      }
      await assertRealBeneath(project, rel);
    }
    out.push(rel);
  }
  return out;
}

async function ensure(
  p: string,
  kind: 'dir' | 'file',
  owner: { uid: number; gid: number },
  content = '',
): Promise<void> {
  const st = await lstat(p).catch(() => undefined);
  if (!st) {
    try {
      if (kind === 'dir') await mkdir(p, { mode: 0o755 });
      else {
        // O_EXCL: fails on anything already there, a symlink included (never written through).
        const fh = await open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
        try {
          await fh.writeFile(content);
        } finally {
          await fh.close();
        }
      }
      await lchown(p, owner.uid, owner.gid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const now = await lstat(p);
  if (now.isSymbolicLink()) throw unsafe(relName(p), 'is a symlink');
  if (kind === 'dir' ? !now.isDirectory() : !now.isFile()) throw unsafe(relName(p), `is not a ${kind}`);
}

async function readNoFollow(p: string): Promise<string> {
  const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { bytesRead, buffer } = await fh.read({ buffer: Buffer.alloc(4096) });
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function assertRealBeneath(root: string, rel: string): Promise<void> {
  let p = root;
  for (const part of rel.split(path.sep)) {
    p = path.join(p, part);
    if ((await lstat(p)).isSymbolicLink()) throw unsafe(rel, `has a symlink at ${part}`);
  }
}

function relName(p: string): string {
  const i = p.lastIndexOf(`${path.sep}.git${path.sep}`);
  return i >= 0 ? p.slice(i + 1) : p;
}

function unsafe(rel: string, why: string) {
  return gitGateErrors.create('GIT_METADATA_UNSAFE', `${rel} ${why}`);
}
