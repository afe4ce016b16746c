/**
 * The agent as an attacker of the host's git: from inside a real gVisor sandbox it plants everything host git reads as
 * configuration or runs (hooks, core.fsmonitor through config / config.worktree / commondir / an include target,
 * info/attributes, modules/x/config, worktrees/x/*, legacy remotes, symlinks over protected paths, a replaced .git).
 * Then the project's owner runs plain `git status/log/diff/commit` on the host: every planted command writes a marker
 * file, and no marker may exist. The agent's ordinary git work (commit, branches, index, objects) must keep working.
 */
import { execa } from 'execa';
import { appendFile, chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'security-git');
const OWNER = 65534; // the project's owner on the host (not root, not the runtime user)
const name = 'gitattack';
const ident =
  'export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@example.invalid GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@example.invalid';

describe.skipIf(!run)('git metadata is out of the agent’s reach (host git runs nothing planted)', () => {
  let daemon: TestDaemon;
  let project: string;
  let marks: string;
  let home: string;

  /** Host git as the project's owner, with nothing but the project's own configuration. */
  const hostGit = async (args: string[]) => {
    const r = await execa('git', args, {
      cwd: project,
      uid: OWNER,
      gid: OWNER,
      reject: false,
      extendEnv: false,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'Owner',
        GIT_AUTHOR_EMAIL: 'owner@example.invalid',
        GIT_COMMITTER_NAME: 'Owner',
        GIT_COMMITTER_EMAIL: 'owner@example.invalid',
      },
    });
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  const sh = (script: string) => daemon.exec(name, ['sh', '-c', `${ident}; cd /workspace; ${script}`]);
  /** A shell command that leaves a marker on the host when host git runs it. */
  const mark = (what: string) => `touch ${marks}/${what}`;

  beforeAll(async () => {
    marks = await mkdtemp(path.join(tmpdir(), 'aibox-marks-'));
    await chmod(marks, 0o777);
    home = await mkdtemp(path.join(tmpdir(), 'aibox-owner-home-'));
    project = await makeProject('gitattack');
    // The owner's repository includes a local config file that does not exist yet (a common setup).
    await appendFile(path.join(project, '.git', 'config'), '[include]\n\tpath = local.gitconfig\n');
    await execa('chown', ['-R', `${OWNER}:${OWNER}`, project, home]);
    daemon = await startTestDaemon({ name: 'secgit', config: { git: { repos: [] } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    for (const d of [project, marks, home]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('refuses every plant, keeps commits and branches working inside, and host git runs nothing', async () => {
    const fsmonitor = (what: string) =>
      `[core]\\n\\tfsmonitor = ${mark(what)}\\n\\thooksPath = /workspace/evilhooks\\n`;
    const attempts: [string, string][] = [
      ...['pre-commit', 'post-commit', 'post-checkout', 'reference-transaction', 'post-index-change'].map(
        (h): [string, string] => [
          `hook-${h}`,
          `printf '#!/bin/sh\\n${mark(`hook-${h}`)}\\n' > .git/hooks/${h} && chmod +x .git/hooks/${h}`,
        ],
      ),
      ['config-git', `git config core.fsmonitor "${mark('config-git')}"`],
      ['config-append', `printf '${fsmonitor('config-append')}' >> .git/config`],
      ['config-worktree', `printf '${fsmonitor('config-worktree')}' > .git/config.worktree`],
      ['include-target', `printf '${fsmonitor('include-target')}' > .git/local.gitconfig`],
      [
        'commondir',
        `mkdir -p .evil && cp -r .git/objects .git/refs .git/HEAD .evil/ && printf '${fsmonitor('commondir')}' > .evil/config && printf '../.evil\\n' > .git/commondir`,
      ],
      ['commondir-rename', `printf '../.evil\\n' > /tmp/cd && mv /tmp/cd .git/commondir`],
      ['info-attributes', `printf '* diff=evil filter=evil\\n' > .git/info/attributes`],
      ['info-new', `mkdir -p .git/info/x && echo x > .git/info/x/y`],
      [
        'modules-config',
        `mkdir -p .git/modules/sub && git init -q --separate-git-dir /workspace/.git/modules/sub /tmp/sub && printf '${fsmonitor('modules-config')}' >> .git/modules/sub/config`,
      ],
      [
        'worktrees-config',
        `mkdir -p .git/worktrees/x && printf '${fsmonitor('worktrees')}' > .git/worktrees/x/config.worktree`,
      ],
      [
        'worktrees-commondir',
        `mkdir -p .git/worktrees/y && printf '../../../.evil\\n' > .git/worktrees/y/commondir`,
      ],
      ['remotes', `mkdir -p .git/remotes && printf 'URL: /workspace/.evil\\n' > .git/remotes/origin`],
      ['branches', `mkdir -p .git/branches && echo /workspace/.evil > .git/branches/origin`],
      ['symlink-hooks', `mkdir -p evilhooks && rm -rf .git/hooks && ln -s /workspace/evilhooks .git/hooks`],
      [
        'symlink-config',
        `printf '${fsmonitor('symlink-config')}' > evil.cfg && ln -sf /workspace/evil.cfg .git/config`,
      ],
      ['symlink-info', `rm -rf .git/info && ln -s /workspace/evilhooks .git/info`],
      ['rename-config', `mv .git/config .git/config.bak`],
      ['rename-hooks', `mv .git/hooks .git/hooks.bak`],
      [
        'replace-dotgit',
        `mv .git .git.moved && mkdir .git && cp -r .git.moved/objects .git.moved/refs .git.moved/HEAD .git/ && printf '${fsmonitor('replace-dotgit')}' > .git/config`,
      ],
    ];
    const script = [
      ...attempts.map(([what, cmd]) => `(${cmd}) >/dev/null 2>&1 && echo HOLE:${what}`),
      // The agent's ordinary work: a branch, a commit, the index and objects.
      'git checkout -q -b feature && echo inside > inside.txt && git add inside.txt && git commit -qm inside && echo OK:commit',
      'git checkout -q main && git merge -q --ff-only feature && echo OK:merge',
      'git branch -q other && git branch -q -d other && echo OK:branch',
      'echo DONE',
    ].join('\n');
    const r = await sh(script);
    expect(r.stdout, r.stderr).toContain('DONE');
    const holes = r.stdout.split('\n').filter((l) => l.startsWith('HOLE:'));
    expect(holes).toEqual([]);
    for (const ok of ['OK:commit', 'OK:merge', 'OK:branch']) expect(r.stdout, r.stderr).toContain(ok);

    // The owner's everyday git on the host, in the project the agent worked in.
    for (const args of [
      ['status'],
      ['status', '--porcelain'],
      ['log', '-3', '--format=%s'],
      ['diff', 'HEAD~1'],
      ['add', '-A'],
      ['commit', '-qm', 'host commit', '--allow-empty'],
      ['checkout', '-q', 'feature'],
      ['checkout', '-q', 'main'],
      ['branch', '--list'],
    ]) {
      const h = await hostGit(args);
      expect(h.exitCode, `git ${args.join(' ')}: ${h.stderr}`).toBe(0);
    }
    expect((await hostGit(['log', '-3', '--format=%s'])).stdout.split('\n')).toEqual([
      'host commit',
      'inside',
      'init',
    ]);
    expect((await hostGit(['rev-parse', '--git-common-dir'])).stdout.trim()).toMatch(/^(\.git|.*\/\.git)$/);
    expect(await readdir(marks)).toEqual([]);
  });

  it('keeps the protection across a restart of the sandbox (nothing planted survives, nothing is re-opened)', async () => {
    expect((await daemon.api('POST', `/v1/sandboxes/${name}/stop`)).status).toBeLessThan(300);
    expect((await daemon.api('POST', `/v1/sandboxes/${name}/start`)).status).toBeLessThan(300);
    const r = await sh(
      [
        `(printf '[core]\\n\\tfsmonitor = ${mark('after-restart')}\\n' > .git/config.worktree) 2>/dev/null && echo HOLE:config.worktree`,
        `(printf '../.evil\\n' > .git/commondir) 2>/dev/null && echo HOLE:commondir`,
        `(echo x > .git/hooks/pre-commit) 2>/dev/null && echo HOLE:hooks`,
        'echo again > again.txt && git add again.txt && git commit -qm again && echo OK:commit',
      ].join('\n'),
    );
    expect(r.stdout, r.stderr).toContain('OK:commit');
    expect(r.stdout).not.toContain('HOLE:');
    const h = await hostGit(['status', '--porcelain']);
    expect(h.exitCode, h.stderr).toBe(0);
    expect(await readdir(marks)).toEqual([]);
    // The placeholders are git-neutral: the owner's repository reads as before.
    expect((await readFile(path.join(project, '.git', 'commondir'), 'utf8').catch(() => '.\n')).trim()).toBe(
      '.',
    );
  });

  it('refuses to start on a .git whose protected paths were replaced by links while it was stopped (4xx, stable code)', async () => {
    expect((await daemon.api('POST', `/v1/sandboxes/${name}/stop`)).status).toBeLessThan(300);
    const info = path.join(project, '.git', 'info');
    await rm(info, { recursive: true, force: true });
    await execa('ln', ['-s', marks, info], { uid: OWNER, gid: OWNER });
    const refused = await daemon.api<{ error?: { code?: string } }>('POST', `/v1/sandboxes/${name}/start`);
    expect(refused.status, JSON.stringify(refused.body)).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(JSON.stringify(refused.body)).toContain('GIT_METADATA_UNSAFE');
    await rm(info);
    await execa('mkdir', [info], { uid: OWNER, gid: OWNER });
    const started = await daemon.api('POST', `/v1/sandboxes/${name}/start`);
    expect(started.status, JSON.stringify(started.body)).toBeLessThan(300);
    expect(await readdir(marks)).toEqual([]);
  });

  it('nested repositories in the worktree: host git runs nothing with diff.ignoreSubmodules=dirty (documented)', async () => {
    // The worktree is the agent's: it can always make an embedded repository and stage it as a gitlink. Plain host
    // git then recurses into it and reads ITS config (core.fsmonitor). docs/git-security.md tells owners to set
    // diff.ignoreSubmodules=dirty; this proves that setting is enough for status, diff and commit.
    const r = await sh(
      [
        'mkdir -p nested && cd nested && git init -q && git commit -q --allow-empty -m n',
        `git config core.fsmonitor "${mark('nested')}" && cd .. && git add nested && echo OK:planted`,
      ].join(' && '),
    );
    expect(r.stdout, r.stderr).toContain('OK:planted');
    await writeFile(path.join(home, '.gitconfig'), '[diff]\n\tignoreSubmodules = dirty\n');
    await execa('chown', [`${OWNER}:${OWNER}`, path.join(home, '.gitconfig')]);
    for (const args of [['status'], ['diff', '--cached'], ['commit', '-qm', 'with nested']]) {
      const h = await hostGit(args);
      expect(h.exitCode, `git ${args.join(' ')}: ${h.stderr}`).toBe(0);
    }
    expect(await readdir(marks)).toEqual([]);
  });
});
