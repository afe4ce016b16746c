import { describe, expect, it } from 'vitest';
import { evalError, evalJS } from './helpers.js';

describe('regex and glob builtins', () => {
  it('runs patterns that backtrack exponentially in JS in linear time (RE2)', () => {
    const long = 'a'.repeat(5000) + '!';
    const t0 = performance.now();
    expect(evalJS('regex.match("^(a+)+$", input)', { input: long })).toBe(false);
    expect(evalJS('glob.match("*a*a*a*a*a*a*b", null, input)', { input: long })).toBe(false);
    // Generous bound: the point is "not exponential", not a speed assertion.
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('rejects RE2-unsupported syntax with the Go error text', () => {
    expect(evalError('regex.match("(a)\\\\1", "aa")')).toMatch(
      /error parsing regexp: invalid escape sequence/,
    );
    expect(evalJS('regex.is_valid("(?=x)")')).toBe(false);
  });

  it('expands $1, ${name} and $$ in regex.replace like Go', () => {
    expect(evalJS('regex.replace("ab-cd", "(?P<x>[a-z])([a-z])", "${x}$2$$")')).toBe('ab$-cd$');
    expect(evalJS('regex.replace("ab", "(a)", "$1x")')).toBe('b');
  });

  it('skips an empty match right after the previous match, as Go does', () => {
    expect(evalJS('regex.find_n("a*", "baaac", -1)')).toEqual(['', 'aaa', '']);
  });

  it('keeps * and ? inside delimiters and lets ** cross them', () => {
    expect(evalJS('glob.match("*.example.com", ["."], "a.b.example.com")')).toBe(false);
    expect(evalJS('glob.match("**.example.com", ["."], "a.b.example.com")')).toBe(true);
    expect(evalJS('glob.match("api.{dev,prod}.[a-c]?", ["."], "api.prod.bz")')).toBe(true);
  });

  it('decides whether two regex globs share a string', () => {
    expect(evalJS('regex.globs_match("a.*z", "ab+c*z")')).toBe(true);
    expect(evalJS('regex.globs_match("[a-c]+", "[d-f]+")')).toBe(false);
  });
});
