import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';
import { GitGateConfig, repoAccess, repoPolicyOf, decideRef } from '../../src/git-gate/index.js';

describe('git gate config', () => {
  it('refuses credentials embedded in an upstream URL', () => {
    const r = GitGateConfig.safeParse({
      repos: [{ name: 'a/b', upstream: 'https://user:tok@example.com/a/b.git' }],
    });
    expect(r.success).toBe(false);
  });

  it('refuses repository names that could escape the mirror folder', () => {
    for (const name of ['../etc', 'a/../b', '.hidden', 'a/b.git', '/abs']) {
      expect(GitGateConfig.safeParse({ repos: [{ name, upstream: '/srv/x.git' }] }).success, name).toBe(
        false,
      );
    }
  });

  it('binds the gateway to loopback only', () => {
    expect(GitGateConfig.safeParse({ bindHost: '0.0.0.0' }).success).toBe(false);
    expect(GitGateConfig.parse({}).bindHost).toBe('127.0.0.1');
  });

  it('refuses a config that still sets git.policy, saying where its rules went', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-gitcfg-'));
    try {
      const file = path.join(dir, 'aiboxd.yaml');
      await writeFile(
        file,
        'git:\n  policy:\n    repos: [{ pattern: acme/widgets, push: false }]\n    defaultAction: deny\n',
      );
      const loading = loadDaemonConfig(file);
      await expect(loading).rejects.toMatchObject({ code: expect.stringMatching(/^CONFIG_/) });
      await expect(loading).rejects.toThrow(
        /git\.policy is no longer read.*push: false.*remove git\.policy/s,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves every listed repository, pushes only where allowed, and leaves ref decisions to the push door', () => {
    const config = GitGateConfig.parse({
      repos: [
        { name: 'acme/widgets', upstream: '/srv/w.git' },
        { name: 'acme/docs', upstream: '/srv/d.git', push: false },
      ],
    });
    const policy = repoPolicyOf(config);
    expect(repoAccess(policy, 'acme/widgets')).toEqual({ fetch: true, push: true });
    expect(repoAccess(policy, 'acme/docs')).toEqual({ fetch: true, push: false });
    expect(repoAccess(policy, 'acme/other')).toEqual({ fetch: false, push: false });
    // Locally only the gateway's own namespace is refused; the stricter push door decides the rest.
    expect(decideRef(policy, 'refs/heads/main', 'update').action).toBe('allow');
    expect(decideRef(policy, 'refs/aibox/staging/x', 'update').action).toBe('deny');
  });
});
