import { describe, expect, it } from 'vitest';
import { pathGlobRegex, HTTP_RULE_METHODS } from '../../src/policy/doors/egress.js';
import { globContained, globExcess, httpScopeExcess, nfaMatches } from '../../src/policy/http-containment.js';

describe('path glob containment', () => {
  const cases: [string, string[], boolean][] = [
    // Identity and the universal glob.
    ['/a/b', ['/a/b'], true],
    ['/a/b', ['/**'], true],
    ['/**', ['/a/**'], false],
    // `*` stays inside one segment; `**` crosses segments.
    ['/a/*', ['/a/**'], true],
    ['/a/**', ['/a/*'], false],
    ['/a/*/c', ['/a/**'], true],
    ['/a/**/c', ['/a/*/c'], false],
    ['/a/*/c', ['/a/**/c'], true],
    // `*` inside a segment.
    ['/v1/pkg-*', ['/v1/*'], true],
    ['/v1/*', ['/v1/pkg-*'], false],
    ['/v1/pkg-*.tgz', ['/v1/pkg-*'], true],
    ['/v1/pkg-*', ['/v1/pkg-*.tgz'], false],
    ['/a*b', ['/a*'], true],
    ['/a*', ['/a*b'], false],
    ['/a*b*c', ['/a*c'], true],
    ['/a*c', ['/a*b*c'], false],
    // A trailing `/**` also matches the path without it; a trailing slash is a literal.
    ['/a', ['/a/**'], true],
    ['/a/', ['/a/**'], true],
    ['/a/', ['/a/*'], true],
    ['/a', ['/a/*'], false],
    ['/a/**', ['/a', '/a/*'], false],
    ['/a/**', ['/a', '/a/**'], true],
    ['/a/', ['/a'], false],
    ['/a', ['/a/'], false],
    ['/ab', ['/a/**'], false],
    ['/a**', ['/a/**'], false],
    ['/a/**', ['/a**'], true],
    // A union of narrower globs can cover a wider one.
    ['/a/*', ['/a/x*', '/a/*'], true],
    ['/a/*', ['/a/b', '/a/c'], false],
    ['/x/**', ['/x', '/x/**/y', '/x/*'], false],
    ['/x/**', ['/x', '/x/*', '/x/*/**'], true],
    // Nothing contains anything.
    ['/a', [], false],
  ];
  for (const [inner, outers, expected] of cases)
    it(`${inner} ${expected ? '⊆' : '⊄'} ${outers.join(' ∪ ') || '∅'}`, () => {
      expect(globContained(inner, outers)).toBe(expected);
    });

  it('gives a path the wider glob matches and the narrower does not', () => {
    expect(globExcess('/a/**', ['/a/*'])).toBe('/a');
    expect(globExcess('/a/**', ['/a', '/a/*'])).toBe('/a//');
    expect(globExcess('/v1/*', ['/v1/pkg-*'])).toBe('/v1/');
    const example = globExcess('/a/*/c', ['/a/b/c'])!;
    expect(new RegExp(pathGlobRegex('/a/*/c')).test(example)).toBe(true);
    expect(new RegExp(pathGlobRegex('/a/b/c')).test(example)).toBe(false);
  });

  it('reads a glob exactly as pathGlobRegex does (the proxy’s meaning)', () => {
    const globs = ['/a/**', '/a/*', '/a*b', '/**', '/a/**/c', '/x/y-*.tgz', '//**', '/%41/*', '/a/'];
    const paths = [
      '',
      '/',
      '/a',
      '/a/',
      '/ab',
      '/a/b',
      '/a/b/c',
      '/a/b?x=1',
      '/a?q',
      '/axb',
      '/a/c',
      '/x/y-1.tgz',
      '/x/y-1.tgzz',
      '//',
      '//z',
      '/%41/q',
      '/a/b/x/c',
      '/a/?',
      '/a/b/',
    ];
    for (const g of globs)
      for (const p of paths)
        expect(nfaMatches(g, p), `${g} on ${JSON.stringify(p)}`).toBe(new RegExp(pathGlobRegex(g)).test(p));
  });
});

describe('method and path scope containment', () => {
  const all = HTTP_RULE_METHODS;
  it('refuses more methods than the upper rule allows', () => {
    expect(httpScopeExcess({ methods: ['GET', 'POST'] }, [{ methods: ['GET'] }], all)).toEqual({
      method: 'POST',
      path: '/',
    });
    expect(httpScopeExcess({ methods: ['GET'] }, [{ methods: ['GET', 'HEAD'] }], all)).toBeUndefined();
  });

  it('treats a rule without methods as every method, even ones no list can name', () => {
    expect(httpScopeExcess({}, [{ methods: [...all] }], all)?.method).toBe('(any other method)');
    expect(httpScopeExcess({ paths: ['/a/**'] }, [{ paths: ['/**'] }], all)).toBeUndefined();
  });

  it('checks paths per method against only the upper rules that allow that method', () => {
    const upper = [
      { methods: ['GET'], paths: ['/**'] },
      { methods: ['POST'], paths: ['/api/*'] },
    ];
    expect(httpScopeExcess({ methods: ['GET', 'POST'], paths: ['/api/x'] }, upper, all)).toBeUndefined();
    expect(httpScopeExcess({ methods: ['POST'], paths: ['/api/**'] }, upper, all)).toEqual({
      method: 'POST',
      path: '/api',
    });
  });
});
