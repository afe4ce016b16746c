/**
 * Two tasks in parallel, each in its own worktree and its own gVisor sandbox (real aiboxd), each committing on its
 * branch through exactly the git metadata mounts of `worktreeMounts`, while the repository's config, hooks and other
 * branches stay read-only.
 *
 * The repository is owned by the aibox host user here: the runtime idmaps the workspace itself, but not (yet) extra
 * mounts, so a repository owned by someone else would show its git metadata to the sandbox as not writable. The
 * mount list is proven for any owner in tasks.test.ts (mount namespace, run as the owner).
 */
import { execa } from 'execa';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startUpstream, type Upstream } from '../git-gate/helpers/upstream.js';

const run = requireHost(sandboxHostSupport(), 'tasks-sandbox');
const ident =
  'export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@example.invalid GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@example.invalid';

describe.skipIf(!run)('per-task worktrees with their own gVisor sandboxes', () => {
  let daemon: TestDaemon;
  let upstream: Upstream;
  let repo: string;
  let mainSha: string;
  const hostGit = async (args: string[]) =>
    (await execa('git', ['-c', `safe.directory=*`, '-C', repo, ...args], { reject: false })).stdout.trim();

  beforeAll(async () => {
    upstream = await startUpstream('ghp_TaskSandboxToken0123456789');
    await upstream.create('acme/app');
    daemon = await startTestDaemon({
      name: 'tasks',
      config: {
        git: { repos: [{ name: 'acme/app', upstream: upstream.url('acme/app'), credential: 'git-token' }] },
      },
    });
    const stored = await daemon.cli(['secret', 'set', 'git-token'], {
      input: 'ghp_TaskSandboxToken0123456789\n',
    });
    expect(stored.exitCode, stored.stderr).toBe(0);
    repo = await makeProject('tasks');
    await execa('chown', ['-R', 'aibox:aibox', repo]);
    mainSha = await hostGit(['rev-parse', 'main']);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  });

  afterAll(async () => {
    await daemon?.stop();
    await upstream?.close();
    if (repo) {
      await rm(repo, { recursive: true, force: true });
      await rm(`${repo}.worktrees`, { recursive: true, force: true });
    }
  });

  it('creates two tasks in parallel and each commits in its own sandbox', async () => {
    const created = await Promise.all(
      ['feature 123 implement user auth', 'fix login bug'].map((d) =>
        daemon.cli(['task', 'new', d, '--repo', repo, '--json']),
      ),
    );
    const tasks = created.map((c) => {
      expect(c.exitCode, c.stderr).toBe(0);
      return JSON.parse(c.stdout) as { name: string; branch: string; sandbox: string; worktree: string };
    });
    expect(tasks.map((t) => t.branch).sort()).toEqual([
      'task/feature-123-implement-user-auth',
      'task/fix-login-bug',
    ]);

    const results = await Promise.all(
      tasks.map((t) =>
        daemon.exec(t.sandbox, [
          'sh',
          '-c',
          [
            ident,
            'cd /workspace',
            `echo ${t.name} > work.txt && git add work.txt && git commit -qm "work on ${t.name}" && echo COMMITTED`,
            'git config core.hooksPath /tmp/evil 2>/dev/null && echo HOLE:config',
            'echo x > "$(git rev-parse --git-common-dir)/hooks/post-checkout" 2>/dev/null && echo HOLE:hooks',
            'git update-ref refs/heads/main HEAD 2>/dev/null && echo HOLE:main',
            'echo "gitdir: /tmp/evil" > .git 2>/dev/null && echo HOLE:dotgit',
            'echo /tmp > "$(git rev-parse --git-dir)/commondir" 2>/dev/null && echo HOLE:commondir',
            'echo DONE',
          ].join('; '),
        ]),
      ),
    );
    for (const [i, r] of results.entries()) {
      const t = tasks[i]!;
      expect(r.stdout, r.stderr).toContain('COMMITTED');
      expect(r.stdout).toContain('DONE');
      expect(r.stdout).not.toContain('HOLE:');
      expect(await hostGit(['log', '-1', '--format=%s', t.branch])).toBe(`work on ${t.name}`);
    }
    expect(await hostGit(['rev-parse', 'main'])).toBe(mainSha);

    const list = await daemon.cli(['task', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { tasks: { name: string }[] }).tasks).toHaveLength(2);
  });

  it("pushes a task's commit through its own gateway (the task layout comes from the record)", async () => {
    const t = JSON.parse((await daemon.cli(['task', 'list', '--json'])).stdout) as {
      tasks: { name: string; branch: string; sandbox: string }[];
    };
    const task = t.tasks.find((x) => x.name === 'fix-login-bug')!;
    const r = await daemon.exec(task.sandbox, [
      'sh',
      '-c',
      `cd /workspace && git push -q "$AIBOX_GIT_GATEWAY/acme/app.git" HEAD:refs/heads/${task.branch} 2>&1; git rev-parse HEAD`,
    ]);
    const head = r.stdout.trim().split('\n').at(-1);
    expect(await upstream.refValue('acme/app', `refs/heads/${task.branch}`), r.stdout + r.stderr).toBe(head);
  });

  it('removes a task with its sandbox, worktree and branch', async () => {
    const rmd = await daemon.cli(['task', 'rm', 'fix-login-bug', '--delete-branch', '--force']);
    expect(rmd.exitCode, rmd.stderr).toBe(0);
    expect(await hostGit(['branch', '--list', 'task/fix-login-bug'])).toBe('');
    const sandboxes = await daemon.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes');
    expect(sandboxes.body.sandboxes.map((s) => s.name)).not.toContain('task-fix-login-bug');
  });
});
