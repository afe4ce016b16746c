import { describe, expect, it } from 'vitest';
import { decideRef, GitPolicy, repoAccess, stricter } from '../../src/git-gate/index.js';
import { globToRegExp } from '../../src/git-gate/glob.js';
import { redact } from '../../src/git-gate/index.js';

const policy = GitPolicy.parse({
  repos: [{ pattern: 'acme/*' }, { pattern: 'vendor/**', push: false }],
  refs: [
    { pattern: 'refs/heads/main', action: 'require-approval', rule: 'protected main' },
    { pattern: 'refs/heads/release/**', action: 'deny' },
    { pattern: 'refs/heads/*', action: 'allow' },
  ],
});

describe('git policy', () => {
  it('matches * within one path segment and ** across segments', () => {
    expect(globToRegExp('refs/heads/*').test('refs/heads/x')).toBe(true);
    expect(globToRegExp('refs/heads/*').test('refs/heads/a/b')).toBe(false);
    expect(globToRegExp('refs/heads/**').test('refs/heads/a/b')).toBe(true);
    expect(globToRegExp('a.b').test('aXb')).toBe(false);
  });

  it('grants fetch and push per repository and denies unlisted repositories', () => {
    expect(repoAccess(policy, 'acme/widgets')).toEqual({ fetch: true, push: true });
    expect(repoAccess(policy, 'vendor/lib/sub')).toEqual({ fetch: true, push: false });
    expect(repoAccess(policy, 'acme/widgets/extra')).toEqual({ fetch: false, push: false });
    expect(repoAccess(policy, 'other/repo')).toEqual({ fetch: false, push: false });
  });

  it('takes the first matching ref rule and names it in the decision', () => {
    expect(decideRef(policy, 'refs/heads/main', 'update')).toMatchObject({
      action: 'require-approval',
      rule: 'protected main',
    });
    expect(decideRef(policy, 'refs/heads/release/1.0', 'update')).toMatchObject({
      action: 'deny',
      rule: 'refs[1] refs/heads/release/**',
    });
    expect(decideRef(policy, 'refs/heads/feature', 'update').action).toBe('allow');
    expect(decideRef(policy, 'refs/heads/feature', 'update').id).toMatch(/^dec_[0-9a-f]{12}$/);
  });

  it('denies by default, denies the reserved namespace and never stages a deletion', () => {
    expect(decideRef(policy, 'refs/tags/v1', 'update')).toMatchObject({ action: 'deny', rule: 'default' });
    expect(
      decideRef(GitPolicy.parse({ defaultAction: 'allow' }), 'refs/aibox/staging/x/y', 'update').action,
    ).toBe('deny');
    expect(decideRef(policy, 'refs/heads/main', 'delete').action).toBe('deny');
  });

  it('combines two opinions so the stricter one wins', () => {
    const allow = { id: 'dec_a', action: 'allow' as const, rule: 'a' };
    const approve = { id: 'dec_b', action: 'require-approval' as const, rule: 'b' };
    const deny = { id: 'dec_c', action: 'deny' as const, rule: 'c' };
    expect(stricter(allow, approve)).toBe(approve);
    expect(stricter(deny, approve)).toBe(deny);
    expect(stricter(allow, allow)).toBe(allow);
  });

  it('rejects an unknown policy key instead of ignoring it', () => {
    expect(() => GitPolicy.parse({ repo: [] })).toThrow();
  });
});

describe('redact', () => {
  it('removes a secret and its base64 form from git output', () => {
    const token = 'tok_abc123';
    const b64 = Buffer.from(token).toString('base64');
    expect(redact(`fatal: ${token} and ${b64}`, [token])).toBe('fatal: *** and ***');
  });
});
