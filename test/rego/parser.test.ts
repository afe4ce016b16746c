import { describe, expect, it } from 'vitest';
import { parseModule, parseQuery } from '../../src/rego/parser.js';
import { RegoError } from '../../src/rego/errors.js';

describe('rego parser', () => {
  it('parses a v1 module with package, imports and rules', () => {
    const m = parseModule(
      'a.rego',
      `package a.b
import rego.v1
import data.lib.util as u

default allow := false
allow if input.user == "alice"
deny contains msg if { msg := "no" }
f(x) := y if { y := x + 1 } else := 0
p.q[r] := 1 if some r in ["a"]
`,
    );
    expect(m.packagePath).toEqual(['a', 'b']);
    expect(m.imports.map((i) => i.alias)).toEqual([undefined, 'u']);
    expect(m.rules).toHaveLength(5);
    expect(m.rules[0]!.default).toBe(true);
    expect(m.rules[2]!.head.key).toBeDefined();
    expect(m.rules[3]!.head.args).toHaveLength(1);
    expect(m.rules[3]!.else).toBeDefined();
    expect(m.rules[4]!.head.ref).toHaveLength(3);
    expect(m.rules[1]!.loc).toMatchObject({ file: 'a.rego', row: 6, col: 1 });
  });

  it('respects operator precedence: in < relations < | < & < arithmetic', () => {
    const [e] = parseQuery('x := 1 + 2 * 3 == 7');
    expect(e!.kind).toBe('unify');
    const rhs = (e as { b: { type: string; op: { terms: { name: string }[] } } }).b;
    expect(rhs.type).toBe('call');
    expect(rhs.op.terms[0]!.name).toBe('equal');
  });

  it('treats newlines as literal separators at body level but not inside brackets', () => {
    expect(parseQuery('x := 1\ny := [1,\n2]')).toHaveLength(2);
    expect(parseQuery('x := 1; y := 2')).toHaveLength(2);
  });

  it('parses comprehensions, every, some-in, not and with', () => {
    const q = parseQuery(
      '[x | x := input[_]]; {k: v | some k, v in input}; every x in [1] { x > 0 }; not input.x; input.y with input as {"y": 1}',
    );
    expect(q.map((e) => e.kind)).toEqual(['term', 'term', 'every', 'term', 'term']);
    expect(q[3]!.negated).toBe(true);
    expect(q[4]!.with).toHaveLength(1);
  });

  it('accepts keywords as reference heads and after dots', () => {
    const m = parseModule('k.rego', 'package test\ncontains.foo := 1\nfoo.if := 2\np if input.in == 1\n');
    expect(m.rules).toHaveLength(3);
  });

  it('reports rego_parse_error with the location of the offending token', () => {
    let err: RegoError | undefined;
    try {
      parseModule('bad.rego', 'package x\n\np if {\n  x := \n}\n');
    } catch (e) {
      err = e as RegoError;
    }
    expect(err).toBeInstanceOf(RegoError);
    expect(err!.code).toBe('rego_parse_error');
    expect(err!.location).toMatchObject({ file: 'bad.rego', row: 5 });
  });

  it('requires `if` before a rule body in v1', () => {
    expect(() => parseModule('v0.rego', 'package x\np { true }\n')).toThrow(/`if` keyword is required/);
  });

  it('requires a package declaration', () => {
    expect(() => parseModule('np.rego', 'p := 1\n')).toThrow(/package expected/);
  });
});
