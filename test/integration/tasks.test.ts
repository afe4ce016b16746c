import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
