/**
 * Regression cases where the engine disagreed with OPA (issue 12, items 1-9): each asserts OPA's answer, checked
 * against OPA's parser/compiler source (v1/ast/parser.go, compile.go) or a real OPA evaluator.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/rego/index.js';
import type { JSONValue } from '../../src/rego/value.js';
import { errorsOf, evalIn } from './module-helpers.js';

describe('1. not around a call whose argument is undefined', () => {
  it('fails the literal (the argument is evaluated outside the negation)', () => {
    expect(evalIn('package t\np if { o := {}; not startswith(o.missing, "a") }', 'data.t.p')).toEqual([]);
    expect(evalIn('package t\np if { not startswith(input.x, "a") }', 'data.t.p', {})).toEqual([]);
    // nested calls are hoisted too
    expect(evalIn('package t\np if { not startswith(lower(input.x), "a") }', 'data.t.p', {})).toEqual([]);
    // an undefined rule as argument
    expect(evalIn('package t\nq if false\np if { not is_boolean(q) }', 'data.t.p')).toEqual([]);
  });

  it('still succeeds when the defined argument makes the call false', () => {
    expect(evalIn('package t\np if { not startswith(input.x, "a") }', 'data.t.p', { x: 'b' })).toEqual([
      true,
    ]);
  });

  it('keeps == negation inside (OPA rewrites == to unification)', () => {
    expect(evalIn('package t\np if { o := {}; not o.missing == "a" }', 'data.t.p')).toEqual([true]);
  });

  it('does not report the hoisted terms as query expressions', () => {
    const e = new Engine();
    const rs = e.prepare('not startswith(input.x, "a")').evaluate({ x: 'b' });
    expect(rs).toHaveLength(1);
    expect(rs[0]!.expressions).toHaveLength(1);
    expect(rs[0]!.bindings).toEqual({});
    expect(e.prepare('not startswith(input.x, "a")').evaluate({})).toEqual([]);
  });
});

describe('2. a zero-argument function named without parentheses', () => {
  it('is the function value', () => {
    const src = 'package t\nf() := {"a": 1}\np := f.a\nq := f';
    expect(evalIn(src, 'data.t.p')).toEqual([1]);
    expect(evalIn(src, 'data.t.q')).toEqual([{ a: 1 }]);
  });
});

describe('3. imports after rules', () => {
  it('are accepted and apply to the whole module', () => {
    const e = new Engine();
    e.addModule('lib.rego', 'package lib\nx := 7');
    e.addModule('t.rego', 'package t\np := x\nimport data.lib.x');
    expect(e.evalRule('data.t.p').value).toBe(7);
  });
});

describe('4. := redeclarations are compile errors', () => {
  it('rejects x := 1; x := 2', () => {
    expect(errorsOf('package t\np if { x := 1; x := 2 }')).toEqual([
      '2:16 rego_compile_error: var x assigned above',
    ]);
  });
  it('rejects := after some v in xs', () => {
    expect(errorsOf('package t\np if { some v in [1]; v := 1 }')).toEqual([
      '2:23 rego_compile_error: var v declared above',
    ]);
  });
  it('rejects := on a function argument', () => {
    expect(errorsOf('package t\nf(x) := y if { x := 1; y := 2 }')).toEqual([
      '2:16 rego_compile_error: arg x redeclared',
    ]);
  });
  it('rejects := after a reference, and allows shadowing in a comprehension', () => {
    expect(errorsOf('package t\np if { y := x; x := 1 }')).toEqual([
      '2:16 rego_compile_error: var x referenced above',
    ]);
    expect(evalIn('package t\np := a if { x := 1; a := [x | x := 2] }', 'data.t.p')).toEqual([[2]]);
    expect(evalIn('package t\nr := 1\np if { r := 2; r == 2 }', 'data.t.p')).toEqual([true]);
  });
});

describe('5. chained rule bodies', () => {
  it('define the rule once per body', () => {
    const src = 'package t\nd := v if { v := 1; input.a } { v := 2; input.b }';
    expect(evalIn(src, 'data.t.d', { b: true })).toEqual([2]);
    expect(evalIn(src, 'data.t.d', { a: true })).toEqual([1]);
    expect(evalIn('package t\np contains x if { x := 1 } { x := 2 }', 'data.t.p')).toEqual([[1, 2]]);
  });
});

describe('6. an operator at the start of a continuation line', () => {
  it('continues the expression', () => {
    expect(evalIn('package t\nx := 1\n+ 2', 'data.t.x')).toEqual([3]);
    expect(evalIn('package t\np if {\n  x := 3\n  * 2\n  x == 6\n}', 'data.t.p')).toEqual([true]);
  });
  it('but a bracket on a new line starts a new literal', () => {
    expect(evalIn('package t\np := a if {\n  x := [1]\n  [a] := x\n}', 'data.t.p')).toEqual([1]);
  });
});

describe('7. array versus comprehension', () => {
  it('reads [x | y, 5] as an array of an or-call and 5', () => {
    expect(evalIn('package t\np := [x | y, 5] if { x := {1}; y := {2} }', 'data.t.p')).toEqual([[[1, 2], 5]]);
  });
  it('reads [q & {1} | {true}] as an array', () => {
    expect(evalIn('package t\np := [q & {1} | {true}] if { q := {1, 2} }', 'data.t.p')).toEqual([
      [[true, 1]],
    ]);
  });
  it('still reads comprehensions', () => {
    expect(evalIn('package t\np := [x | some x in [1, 2]]', 'data.t.p')).toEqual([[1, 2]]);
    expect(evalIn('package t\np := {x | some x in [1]}', 'data.t.p')).toEqual([[1]]);
    expect(evalIn('package t\np := {x: 1 | some x in ["a"]}', 'data.t.p')).toEqual([{ a: 1 }]);
    expect(evalIn('package t\np := {1: 2, 3: 4 + 1}', 'data.t.p')).toEqual([{ 1: 2, 3: 5 }]);
  });
});

describe('8. glob.match character classes', () => {
  const m = (pattern: string, s: string): JSONValue =>
    new Engine()
      .prepare(`x := glob.match(${JSON.stringify(pattern)}, [], ${JSON.stringify(s)})`)
      .evaluate()[0]!.bindings.x!;
  it('treats escapes inside [...] as literal runes', () => {
    expect(m('[a\\-z]', '-')).toBe(true);
    expect(m('[a\\-z]', 'z')).toBe(true);
    expect(m('[a\\-z]', 'b')).toBe(false);
    expect(m('[\\]]', ']')).toBe(true);
  });
  it('keeps lo-hi ranges and negation', () => {
    expect(m('[a-z]', 'q')).toBe(true);
    expect(m('[!a-z]', 'q')).toBe(false);
    expect(m('[abc-z]', 'q')).toBe(false);
  });
});

describe('9. constructs OPA refuses', () => {
  it('refuses them with OPA code, message and location', () => {
    expect(errorsOf('package t\ndefault a := 1 + 2')).toEqual([
      '2:1 rego_parse_error: illegal default rule (value cannot contain call)',
    ]);
    expect(errorsOf('package t\ndefault a := data.x')).toEqual([
      '2:1 rego_parse_error: illegal default rule (value cannot contain ref)',
    ]);
    expect(errorsOf('package t\nx := - a')).toEqual([
      '2:8 rego_parse_error: unexpected ident token: expected number',
    ]);
    expect(errorsOf('package t\nx := --1')).toEqual([
      '2:7 rego_parse_error: unexpected - token: expected number',
    ]);
    expect(errorsOf('package t\np')).toEqual(['2:1 rego_parse_error: var cannot be used for rule name']);
    expect(errorsOf('package t\np.a')).toEqual([
      '2:1 rego_parse_error: `contains` keyword is required for partial set rules',
    ]);
  });
  it('still accepts negative literals and constant defaults', () => {
    expect(evalIn('package t\nx := - 1\ndefault d := {"a": [1, -2]}', 'data.t')).toEqual([
      { x: -1, d: { a: [1, -2] } },
    ]);
  });
});

describe('collection disambiguation stays linear', () => {
  it('parses deeply nested re-read collections quickly', () => {
    const src = `package t\np := ${'['.repeat(200)}1${']+1'.repeat(200)}`;
    const t0 = Date.now();
    expect(() => new Engine().addModule('t.rego', src)).not.toThrow();
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('function arguments that need evaluation', () => {
  it('are unified after the body (OPA RewriteRefsInHead)', () => {
    const src = 'package t\np := f("foo bar")\nf($"{x} {input.y}") := 42 if { x = "foo" }';
    expect(evalIn(src, 'data.t.p', { y: 'bar' })).toEqual([42]);
    expect(evalIn(src, 'data.t.p', { y: 'baz' })).toEqual([]);
  });
  it('may not contain calls', () => {
    expect(errorsOf('package t\nf(lower(x)) := 1')).toEqual([
      '2:3 rego_compile_error: rule arguments cannot contain calls',
    ]);
  });
});

describe('negated unification', () => {
  it('binds references inside composite operands first, keeps a plain reference operand inside', () => {
    expect(evalIn('package t\np if { not [input.a] = [1] }', 'data.t.p', {})).toEqual([]);
    expect(evalIn('package t\np if { not [input.a] = [1] }', 'data.t.p', { a: 2 })).toEqual([true]);
    expect(evalIn('package t\np if { not input.a = 1 }', 'data.t.p', {})).toEqual([true]);
  });
});

describe('OPA v1 checks', () => {
  it('refuse deprecated builtins, duplicate imports and input/data overrides in v1 modules', () => {
    expect(errorsOf('package t\nx := any([true, false])')).toEqual([
      '2:6 rego_type_error: deprecated built-in function calls in expression: any',
    ]);
    expect(errorsOf('package t\nimport input.foo\nimport data.foo\nx := 1')).toEqual([
      '3:1 rego_compile_error: import must not shadow import input.foo',
    ]);
    expect(errorsOf('package t\ninput := 1\np if { data := 2 }')).toEqual([
      '2:1 rego_compile_error: rules must not shadow input (use a different rule name)',
      '3:8 rego_compile_error: variables must not shadow data (use a different variable name)',
    ]);
  });
  it('allow a package function of a deprecated name, and deprecated builtins in v0 modules', () => {
    expect(evalIn('package t\nany(x) := x\np := any(1)', 'data.t.p')).toEqual([1]);
    const e = new Engine({ regoVersion: 'v0' });
    e.addModule('t.rego', 'package t\nx := any([true, false])');
    expect(e.evalRule('data.t.x').value).toBe(true);
  });
});

describe('base data and a rule at the same path', () => {
  it('the package document keeps the base value; the rule path gives the rule value (OPA)', () => {
    const e = new Engine();
    e.addModule('t.rego', 'package topdown.conflicts\nk := "bar"');
    e.setData({ topdown: { conflicts: { k: 'foo' } } });
    expect(e.evalRule('data.topdown.conflicts').value).toEqual({ k: 'foo' });
    expect(e.evalRule('data.topdown.conflicts.k').value).toBe('bar');
  });
});
