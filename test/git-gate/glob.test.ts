import { describe, expect, it } from 'vitest';
import { globMatches, globProblem } from '../../src/git-gate/glob.js';
import { decideRef, GitPolicy } from '../../src/git-gate/index.js';
import { ProjectLayer } from '../../src/policy/project.js';

/** [pattern, name, matches] — one table for every consumer of the glob (ref rules, repo rules, push branch globs). */
const TABLE: [string, string, boolean][] = [
  // exact
  ['main', 'main', true],
  ['main', 'main2', false],
  ['main', 'mai', false],
  ['refs/heads/main', 'refs/heads/main', true],
  ['refs/heads/main', 'refs/heads/main/x', false],
  ['a.b', 'aXb', false],
  ['a+b', 'a+b', true],
  ['(x)', '(x)', true],
  // `*`: any characters within one segment
  ['*', 'main', true],
  ['*', 'a/b', false],
  ['*', '', true],
  ['feature-*', 'feature-1', true],
  ['feature-*', 'feature-', true],
  ['feature-*', 'feature-1/x', false],
  ['feature-*', 'xfeature-1', false],
  ['release/*', 'release/1.0', true],
  ['release/*', 'release/1.0/hotfix', false],
  ['release/*', 'release', false],
  ['*/main', 'team/main', true],
  ['*/main', 'main', false],
  ['refs/heads/*', 'refs/heads/x', true],
  ['refs/heads/*', 'refs/heads/a/b', false],
  ['a*b*c', 'aXbYc', true],
  ['a*b*c', 'aXbY/c', false],
  // `?`: one character within a segment
  ['v?', 'v1', true],
  ['v?', 'v12', false],
  ['a?b', 'a/b', false],
  // `**` as a whole segment: zero or more segments
  ['release/**', 'release/1.0', true],
  ['release/**', 'release/1.0/hotfix', true],
  ['release/**', 'release', true],
  ['release/**', 'releases/1.0', false],
  ['release/**', 'release-1.0', false],
  ['release/**', 'prerelease/1.0', false],
  ['refs/heads/release/**', 'refs/heads/release/1.0', true],
  ['refs/heads/release/**', 'refs/heads/other', false],
  ['**', 'anything/at/all', true],
  ['**', 'x', true],
  ['**/main', 'main', true],
  ['**/main', 'a/b/main', true],
  ['**/main', 'a/b/notmain', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/**/b', 'a/x/y/c', false],
  ['a/**/b', 'ab', false],
  ['refs/**/*', 'refs/heads/x', true],
  // trailing slash: everything beneath the folder (same as `/**`)
  ['release/', 'release/1.0', true],
  ['release/', 'release/1.0/hotfix', true],
  ['release/', 'release', true],
  ['release/', 'releases', false],
  ['release/', 'release-x', false],
];

describe('glob semantics (refs, repositories, push branches)', () => {
  it.each(TABLE)('%s against %s -> %s', (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it('refuses patterns whose meaning would be unclear, at load time', () => {
    expect(globProblem('release/**')).toBeUndefined();
    expect(globProblem('release/')).toBeUndefined();
    expect(globProblem('rel**')).toMatch(/whole segment/);
    expect(globProblem('a/**b')).toMatch(/whole segment/);
    expect(globProblem('a//b')).toMatch(/empty segment/);
    expect(globProblem('/main')).toMatch(/empty segment/);
    expect(globProblem('')).toMatch(/empty/);
    expect(() => GitPolicy.parse({ refs: [{ pattern: 'refs/heads/rel**', action: 'allow' }] })).toThrow();
    expect(() => GitPolicy.parse({ repos: [{ pattern: 'acme//x' }] })).toThrow();
  });

  it('a deny rule on release/** denies every release branch (it used to match nothing: fail open)', () => {
    const policy = GitPolicy.parse({
      refs: [
        { pattern: 'refs/heads/release/**', action: 'deny' },
        { pattern: 'refs/heads/**', action: 'allow' },
      ],
    });
    expect(decideRef(policy, 'refs/heads/release/1.0', 'update').action).toBe('deny');
    expect(decideRef(policy, 'refs/heads/release/1.0/hotfix', 'update').action).toBe('deny');
    expect(decideRef(policy, 'refs/heads/feature', 'update').action).toBe('allow');
  });

  it("the project policy's push globs use the same semantics", () => {
    const project = ProjectLayer.parse('push:\n  deny: ["release/**"]\n  approve: [main, "hotfix/"]\n');
    const decision = (branch: string) => project.query('push', 'decision', { branch })?.value;
    expect(decision('release/1.0')).toBe('deny');
    expect(decision('release/1.0/rc1')).toBe('deny');
    expect(decision('main')).toBe('approve');
    expect(decision('hotfix/x')).toBe('approve');
    expect(decision('feature/x')).toBeUndefined();
    expect(decision('releases')).toBeUndefined();
  });
});
