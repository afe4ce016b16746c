import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';
import { buildApp } from '../../src/daemon/app.js';
import { GitGateService } from '../../src/daemon/services/git-gate.js';
import { TaskService, type TaskSandboxes } from '../../src/daemon/services/tasks.js';
import type { DaemonServices, SandboxHookContext } from '../../src/daemon/services/index.js';
import { GitGateConfig, worktreeMounts } from '../../src/git-gate/index.js';
import type { RuntimePort } from '../../src/daemon/services/runtime-port.js';
import { git, silentLogger } from './helpers/upstream.js';

const TOKEN = 'ghp_hookTestTokenNeverInTheContribution';

describe('the daemon side: git gate hook and /v1/pushes, /v1/tasks', () => {
  let dir: string;
  let repo: string;
  const cleanups: (() => Promise<unknown>)[] = [];
  const created: { path: string; name: string }[] = [];
  const removed: string[] = [];
  const sandboxes: TaskSandboxes = {
    create: async (req) => {
      created.push({ path: req.path, name: req.name ?? '' });
      return {} as never;
    },
    remove: async (name) => {
      removed.push(name);
    },
  };

  async function service(): Promise<GitGateService> {
    const base = await loadDaemonConfig(undefined, {
      stateDir: path.join(dir, 'state'),
      socket: path.join(dir, 's'),
    });
    const config = {
      ...base,
      git: GitGateConfig.parse({
        repos: [
          {
            name: 'acme/widgets',
            upstream: 'https://git.example.invalid/acme/widgets.git',
            credential: 'tok',
          },
        ],
      }),
    };
    const s = await GitGateService.create({
      config,
      logger: silentLogger,
      runtime: {} as RuntimePort,
      daemonId: 'test',
      credentials: { get: async () => ({ value: { reveal: () => TOKEN } }) },
      audit: { append: async () => undefined },
      decidePush: async (_sandbox, ref) => ({
        id: 'dec_000000000001',
        action: 'allow',
        rule: `test: ${ref}`,
      }),
    });
    cleanups.push(() => s.close());
    return s;
  }

  async function app(git: GitGateService) {
    const a = await buildApp({
      hooks: [git],
      git,
      config: { sessions: { listener: { enabled: false } } },
      tasks: new TaskService(git.tasks, sandboxes, silentLogger),
      sandboxes,
      httpLogger: pino({ level: 'silent' }) as FastifyBaseLogger,
    } as unknown as DaemonServices);
    cleanups.push(() => a.close());
    return a;
  }

  const ctx = (p: string, name = 'box'): SandboxHookContext => ({
    id: `sbx_${name}`,
    name,
    path: p,
    profile: 'default',
    logger: silentLogger,
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-gitgate-hook-'));
    repo = path.join(dir, 'app');
    await git(dir, ['init', '-q', '-b', 'main', repo]);
    await writeFile(path.join(repo, 'README.md'), 'x\n');
    await git(repo, ['add', '.']);
    await git(repo, ['commit', '-qm', 'init']);
    created.length = 0;
    removed.length = 0;
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives a sandbox its own gateway port and rewrites only the remotes policy allows, with no credential', async () => {
    const s = await service();
    const c = await s.prepare(ctx(repo));
    expect(c.network).toBe(true);
    expect(c.endpoints?.git).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/$/);
    const url = c.env!.AIBOX_GIT_GATEWAY!;
    const keys = Object.entries(c.env!).filter(([k]) => k.startsWith('GIT_CONFIG_KEY_'));
    const rewrite = keys.find(([, v]) => v.startsWith('url.'));
    expect(rewrite?.[1]).toBe(`url.${url}/acme/widgets.git.insteadOf`);
    expect(JSON.stringify(c)).not.toContain('acme/secret');
    expect(JSON.stringify(c)).not.toContain(TOKEN);
    expect(JSON.stringify(c)).not.toContain(Buffer.from(TOKEN).toString('base64').slice(0, 16));
    expect(c.mounts).toEqual([]);
    // The gateway listens on the host loopback, and stops with the sandbox.
    const port = Number(new URL(url).port);
    await expect(connect(port)).resolves.toBe(true);
    await s.stop(ctx(repo));
    await expect(connect(port)).resolves.toBe(false);
  });

  it('re-listens on the same port when a running sandbox is adopted after a restart', async () => {
    const s = await service();
    const c = await s.prepare(ctx(repo));
    const port = Number(new URL(c.env!.AIBOX_GIT_GATEWAY!).port);
    await s.close();
    const again = await service();
    await again.adopt({ ...ctx(repo), pid: 1, containerId: 'c' });
    await expect(connect(port)).resolves.toBe(true);
    // The same key as the running sandbox's git carries (from the daemon's state), and nothing else.
    const env = c.env!;
    const i = Object.keys(env).find(
      (k) => /^GIT_CONFIG_KEY_\d+$/.test(k) && env[k]!.endsWith('.extraHeader'),
    );
    const header = env[i!.replace('KEY', 'VALUE')]!;
    expect(header).toMatch(/^Authorization: Bearer [0-9a-f]{64}$/);
    const url = `http://127.0.0.1:${port}/acme/widgets.git/info/refs?service=git-upload-pack`;
    expect((await fetch(url)).status).toBe(401);
    const auth = { authorization: header.slice('Authorization: '.length) };
    expect((await fetch(url, { headers: auth })).status).not.toBe(401);
    await again.close();
  });

  it('gives every sandbox its own key, never in the environment of another', async () => {
    const s = await service();
    const a = await s.prepare(ctx(repo, 'one'));
    const b = await s.prepare(ctx(repo, 'two'));
    const keyOf = (env: Record<string, string>) =>
      Object.values(env).find((v) => v.startsWith('Authorization:'));
    expect(keyOf(a.env!)).toBeDefined();
    expect(keyOf(a.env!)).not.toBe(keyOf(b.env!));
    const portOf = (env: Record<string, string>) => new URL(env.AIBOX_GIT_GATEWAY!).port;
    const res = await fetch(`http://127.0.0.1:${portOf(b.env!)}/x.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: keyOf(a.env!)!.slice('Authorization: '.length) },
    });
    expect(res.status).toBe(401);
    await s.close();
  });

  it('creates a task with a sandbox on its worktree, and that sandbox gets the worktree mounts', async () => {
    const s = await service();
    const a = await app(s);
    const res = await a.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { repo, description: 'feature 123 implement user auth' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const task = res.json<{ name: string; worktree: string; sandbox: string }>();
    expect(task.sandbox).toBe('task-feature-123-implement-user-auth');
    expect(created).toEqual([{ path: task.worktree, name: task.sandbox }]);
    const c = await s.prepare(ctx(task.worktree, task.sandbox));
    // The layout recorded when the daemon created the worktree (never re-read from the worktree).
    const rec = await s.tasks.get(task.name);
    expect(rec.gitdir).toBe(path.join(repo, '.git', 'worktrees', path.basename(task.worktree)));
    expect(c.mounts).toEqual(
      worktreeMounts({
        worktree: task.worktree,
        gitdir: rec.gitdir!,
        commonDir: rec.commonDir!,
        branch: rec.branch,
      }),
    );

    await s.stop(ctx(task.worktree, task.sandbox));
    const list = await a.inject({ method: 'GET', url: '/v1/tasks' });
    expect(list.json()).toMatchObject({ tasks: [{ name: task.name, state: 'completed' }] });
    const del = await a.inject({
      method: 'DELETE',
      url: `/v1/tasks/${task.name}?deleteBranch=true&force=true`,
    });
    expect(del.statusCode, del.body).toBe(200);
    expect(removed).toEqual([task.sandbox]);
  });

  it('answers bad input with stable codes and hints, never a 500', async () => {
    const a = await app(await service());
    const missing = await a.inject({ method: 'GET', url: '/v1/pushes/push_000000000000' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'PUSH_NOT_FOUND' } });
    const badId = await a.inject({ method: 'POST', url: '/v1/pushes/nope/approve', payload: {} });
    expect(badId.statusCode).toBe(400);
    const badCommit = await a.inject({
      method: 'POST',
      url: '/v1/pushes/push_000000000000/approve',
      payload: { commit: 'not-hex' },
    });
    expect(badCommit.statusCode).toBe(400);
    expect(badCommit.json()).toMatchObject({ error: { code: 'API_INVALID_REQUEST' } });
    const badTask = await a.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { repo, description: '!!!' },
    });
    expect(badTask.statusCode).toBe(400);
    expect(badTask.json()).toMatchObject({ error: { code: 'TASK_INVALID_DESCRIPTION' } });
    expect((await a.inject({ method: 'GET', url: '/v1/pushes' })).json()).toEqual({ pushes: [] });
  });
});

function connect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
