import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import {
  createGitGate,
  credentialsFrom,
  GitGateConfig,
  type GitGate,
  type Mount,
} from '../../src/git-gate/index.js';
import { systemClock } from '../../src/shared/index.js';
import { git, silentLogger } from '../git-gate/helpers/upstream.js';

// Per-task worktrees with real git, and the worktree mount list proven in a real mount namespace: the git metadata
// is bind-mounted exactly as `worktreeMounts` says (read-only where it says so), then git commits in the worktree as
// the repository's owner. The same mounts inside a gVisor sandbox are exercised by git-gate-sandbox.test.ts.

const isRoot = process.getuid?.() === 0;
const OWNER = 65534; // nobody: the daemon (root) must run git as the repository's owner

/**
 * Runs `script` in a private mount namespace after applying `mounts`, as the repository owner. Like an OCI runtime,
 * every source is resolved in the original mount table first (bound to a staging point), then mounted on its target.
 */
async function inMountNamespace(mounts: Mount[], cwd: string, script: string) {
  const stage = await mkdtemp(path.join(tmpdir(), 'aibox-stage-'));
  const steps: string[] = [];
  mounts.forEach((m, i) => {
    const point = path.join(stage, String(i));
    steps.push(`if [ -d '${m.source}' ]; then mkdir '${point}'; else touch '${point}'; fi`);
    steps.push(`mount --bind '${m.source}' '${point}'`);
  });
  mounts.forEach((m, i) => {
    const point = path.join(stage, String(i));
    steps.push(`mount --bind '${point}' '${m.target}'`);
    steps.push(`mount -o remount,bind,${m.readOnly ? 'ro' : 'rw'} '${m.target}'`);
  });
  const setup = steps.join(' && ');
  const inner = `set -e; ${setup}; cd '${cwd}'; exec setpriv --reuid=${OWNER} --regid=${OWNER} --clear-groups sh -c '${script.replace(/'/g, `'\\''`)}'`;
  const run = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', inner], {
    reject: false,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: '/nonexistent',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Agent',
      GIT_AUTHOR_EMAIL: 'agent@example.invalid',
      GIT_COMMITTER_NAME: 'Agent',
      GIT_COMMITTER_EMAIL: 'agent@example.invalid',
    },
    extendEnv: false,
  });
  await rm(stage, { recursive: true, force: true });
  return run;
}

/** Every entry under `dir` with its owner and mode: a folder made or chowned by the daemon changes it. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true })) {
    const st = await lstat(path.join(dir, e));
    out.push(`${e} ${st.uid}:${st.gid} ${st.mode.toString(8)}`);
  }
  const st = await lstat(dir);
  return [...out.sort(), `. ${st.uid}:${st.gid} ${st.mode.toString(8)}`];
}

describe.skipIf(!isRoot)(
  'per-task worktrees (needs root: run git as the repo owner, mount namespaces)',
  () => {
    let top: string;
    let repo: string;
    let state: string;
    let gate: GitGate;
    let mainSha: string;

    beforeAll(async () => {
      top = await mkdtemp(path.join(tmpdir(), 'aibox-tasks-'));
      await chmod(top, 0o755);
      repo = path.join(top, 'app');
      await git(top, ['init', '--quiet', '-b', 'main', repo]);
      await writeFile(path.join(repo, 'README.md'), 'app\n');
      await git(repo, ['add', '.']);
      await git(repo, ['commit', '--quiet', '-m', 'initial']);
      mainSha = (await git(repo, ['rev-parse', 'HEAD'])).stdout.trim();
      await execa('chown', ['-R', `${OWNER}:${OWNER}`, top]);
      state = await mkdtemp(path.join(tmpdir(), 'aibox-tasks-state-'));
      gate = createGitGate({
        config: GitGateConfig.parse({ notifications: { dir: path.join(state, 'notify') } }),
        stateDir: state,
        credentials: credentialsFrom(() => undefined),
        audit: { record: () => undefined },
        logger: silentLogger,
        clock: systemClock,
      });
    });

    afterAll(async () => {
      if (top) await rm(top, { recursive: true, force: true });
      if (state) await rm(state, { recursive: true, force: true });
    });

    it('creates a branch named from the description and a worktree owned by the repository owner', async () => {
      const t = await gate.tasks.create({ repo, description: 'feature 123 implement user auth' });
      expect(t).toMatchObject({
        name: 'feature-123-implement-user-auth',
        branch: 'task/feature-123-implement-user-auth',
        worktree: path.join(`${repo}.worktrees`, 'feature-123-implement-user-auth'),
        base: mainSha,
        state: 'active',
      });
      const wt = await git(t.worktree, ['rev-parse', '--abbrev-ref', 'HEAD'], {
        env: { GIT_CONFIG_PARAMETERS: `'safe.directory=*'` },
      });
      expect(wt.stdout.trim()).toBe(t.branch);
      const { stat } = await import('node:fs/promises');
      expect((await stat(path.join(t.worktree, 'README.md'))).uid).toBe(OWNER);
      expect((await gate.tasks.list()).map((x) => x.name)).toEqual(['feature-123-implement-user-auth']);
      await expect(
        gate.tasks.create({ repo, description: 'Feature 123: implement user auth' }),
      ).rejects.toMatchObject({
        code: 'TASK_EXISTS',
      });
    });

    it('refuses a description without words and a folder that is not a repository', async () => {
      await expect(gate.tasks.create({ repo, description: '!!!' })).rejects.toMatchObject({
        code: 'TASK_INVALID_DESCRIPTION',
      });
      await expect(gate.tasks.create({ repo: state, description: 'x' })).rejects.toMatchObject({
        code: 'TASK_NOT_A_REPOSITORY',
      });
    });

    it('lets two tasks commit in parallel through exactly the worktree mounts, with config, hooks and main read-only', async () => {
      const b = await gate.tasks.create({ repo, description: 'fix login bug' });
      const a = await gate.tasks.get('feature-123-implement-user-auth');
      const runs = await Promise.all(
        [a, b].map(async (t) => {
          const mounts = await gate.tasks.mountsFor(t.worktree, t.worktree);
          const r = await inMountNamespace(
            mounts,
            t.worktree,
            [
              `set -e; echo ${t.name} > work.txt; git add work.txt; git commit -q -m "work on ${t.name}"; set +e`,
              'git rev-parse HEAD > /dev/null',
              // Every one of these must fail: each prints a marker if it did not.
              'git config core.hooksPath /tmp/evil 2>/dev/null && echo HOLE:config || true',
              'echo "#!/bin/sh" > "$(git rev-parse --git-common-dir)/hooks/post-checkout" 2>/dev/null && echo HOLE:hooks || true',
              'git update-ref refs/heads/main HEAD 2>/dev/null && echo HOLE:main || true',
              'echo "gitdir: /tmp/evil" > .git 2>/dev/null && echo HOLE:dotgit || true',
              'echo /tmp/evil > "$(git rev-parse --git-dir)/commondir" 2>/dev/null && echo HOLE:commondir || true',
              'echo "[core]" > "$(git rev-parse --git-dir)/config.worktree" 2>/dev/null && echo HOLE:worktreeconfig || true',
              'echo DONE',
            ].join('; '),
          );
          return { t, r };
        }),
      );
      for (const { t, r } of runs) {
        expect(r.stdout, `${t.name}: ${r.stderr}`).toContain('DONE');
        expect(r.stdout).not.toContain('HOLE:');
        expect(r.exitCode, r.stderr).toBe(0);
        const log = await git(repo, ['log', '--format=%s', '-n', '1', t.branch], {
          env: { GIT_CONFIG_PARAMETERS: `'safe.directory=*'` },
        });
        expect(log.stdout.trim()).toBe(`work on ${t.name}`);
      }
      const main = await git(repo, ['rev-parse', 'main'], {
        env: { GIT_CONFIG_PARAMETERS: `'safe.directory=*'` },
      });
      expect(main.stdout.trim()).toBe(mainSha);
    });

    it('takes the worktree layout from the task record, never from files the agent can write', async () => {
      const t = await gate.tasks.get('fix-login-bug');
      const honest = await gate.tasks.mountsFor(t.worktree, '/workspace');
      const gitdir = path.join(repo, '.git', 'worktrees', 'fix-login-bug');
      // Root-owned canaries: the attack wants the daemon to create, chown or mount them.
      const canary = await mkdtemp(path.join(tmpdir(), 'aibox-canary-'));
      await mkdir(path.join(canary, 'owned'), { recursive: true });
      const before = await snapshot(canary);
      const evil = path.join(t.worktree, 'evil');
      await mkdir(path.join(evil, 'worktrees', 'x'), { recursive: true });
      await execa('chown', ['-R', `${OWNER}:${OWNER}`, evil]);
      const saved = {
        dotgit: await readFile(path.join(t.worktree, '.git'), 'utf8'),
        head: await readFile(path.join(gitdir, 'HEAD'), 'utf8'),
        commondir: await readFile(path.join(gitdir, 'commondir'), 'utf8'),
      };
      const plants: [string, () => Promise<void>][] = [
        [
          'a branch name with ../ in HEAD',
          () =>
            writeFile(path.join(gitdir, 'HEAD'), `ref: refs/heads/../../../../../../../..${canary}/made/x\n`),
        ],
        [
          'HEAD naming a branch in the canary',
          () =>
            writeFile(
              path.join(gitdir, 'HEAD'),
              `ref: refs/heads/x/../../../../../../../../..${canary}/owned/y\n`,
            ),
        ],
        [
          'commondir pointing at the canary',
          () => writeFile(path.join(gitdir, 'commondir'), `${canary}/owned\n`),
        ],
        [
          'a .git file pointing into the workspace',
          () => writeFile(path.join(t.worktree, '.git'), `gitdir: ${evil}/worktrees/x\n`),
        ],
        [
          'a .git file with a relative ../ gitdir',
          () => writeFile(path.join(t.worktree, '.git'), `gitdir: ../../../../../../..${canary}/owned\n`),
        ],
      ];
      await writeFile(path.join(evil, 'worktrees', 'x', 'commondir'), `${canary}/owned\n`);
      await writeFile(path.join(evil, 'worktrees', 'x', 'HEAD'), `ref: refs/heads/../../..${canary}/made2\n`);
      try {
        for (const [what, plant] of plants) {
          await plant();
          const mounts = await gate.tasks.mountsFor(t.worktree, '/workspace').catch((e: unknown) => e);
          // Either the record's own layout, or a refusal: never a mount or a folder the plant chose.
          if (Array.isArray(mounts)) expect(mounts, what).toEqual(honest);
          else expect(mounts, what).toMatchObject({ code: 'TASK_WORKTREE_INVALID' });
          expect(await snapshot(canary), what).toEqual(before);
          await writeFile(path.join(t.worktree, '.git'), saved.dotgit);
          await writeFile(path.join(gitdir, 'HEAD'), saved.head);
          await writeFile(path.join(gitdir, 'commondir'), saved.commondir);
        }
        for (const m of honest) {
          expect(m.source.startsWith(`${repo}/`) || m.source.startsWith(`${t.worktree}/`), m.source).toBe(
            true,
          );
        }
        // A folder that is no task gets no worktree mounts, whatever its .git file says.
        const plain = path.join(top, 'plain');
        await mkdir(plain, { recursive: true });
        await writeFile(path.join(plain, '.git'), `gitdir: ${gitdir}\n`);
        expect(await gate.tasks.mountsFor(plain, '/workspace')).toEqual([]);
        expect(await snapshot(canary)).toEqual(before);
      } finally {
        await writeFile(path.join(t.worktree, '.git'), saved.dotgit);
        await writeFile(path.join(gitdir, 'HEAD'), saved.head);
        await writeFile(path.join(gitdir, 'commondir'), saved.commondir);
        await rm(evil, { recursive: true, force: true });
        await rm(canary, { recursive: true, force: true });
      }
    });

    it('refuses to mount a task whose git metadata was replaced by a symlink (nothing created, nothing chowned)', async () => {
      const t = await gate.tasks.get('fix-login-bug');
      const outside = await mkdtemp(path.join(tmpdir(), 'aibox-outside-'));
      const before = await snapshot(outside);
      for (const rel of ['refs/remotes', 'logs/refs/remotes', 'objects']) {
        const p = path.join(repo, '.git', rel);
        const moved = `${p}.aside`;
        await rename(p, moved);
        await symlink(outside, p);
        try {
          await expect(gate.tasks.mountsFor(t.worktree, '/workspace'), rel).rejects.toMatchObject({
            code: 'TASK_WORKTREE_INVALID',
          });
          expect(await snapshot(outside), rel).toEqual(before);
        } finally {
          await rm(p);
          await rename(moved, p);
        }
      }
      await rm(outside, { recursive: true, force: true });
    });

    it('tells the host when a task completes', async () => {
      await gate.tasks.complete('fix-login-bug');
      const dir = path.join(state, 'notify');
      const notes = await Promise.all(
        (await readdir(dir)).map(
          async (f) =>
            JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { kind: string; task?: string },
        ),
      );
      expect(notes).toContainEqual(
        expect.objectContaining({ kind: 'task.completed', task: 'fix-login-bug' }),
      );
    });

    it('removes a task, keeping or deleting its branch', async () => {
      await gate.tasks.remove('fix-login-bug', { force: true });
      const keep = await git(repo, ['show-ref', '--verify', 'refs/heads/task/fix-login-bug'], {
        reject: false,
        env: { GIT_CONFIG_PARAMETERS: `'safe.directory=*'` },
      });
      expect(keep.exitCode).toBe(0);
      await gate.tasks.remove('feature-123-implement-user-auth', { deleteBranch: true, force: true });
      const gone = await git(
        repo,
        ['show-ref', '--verify', 'refs/heads/task/feature-123-implement-user-auth'],
        {
          reject: false,
          env: { GIT_CONFIG_PARAMETERS: `'safe.directory=*'` },
        },
      );
      expect(gone.exitCode).not.toBe(0);
      expect(await gate.tasks.list()).toEqual([]);
      await expect(gate.tasks.remove('nope')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    });
  },
);
