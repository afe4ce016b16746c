import { describe, expect, it } from 'vitest';
import { GitGateConfig } from '../../src/git-gate/index.js';

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
});
