import { describe, expect, it } from 'vitest';
import { Engine, RegoError, RegoErrors } from '../../src/rego/index.js';

function errorOf(fn: () => unknown): RegoErrors {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegoErrors) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('rego errors', () => {
  it('prints file:row:col, the code, the source line and a caret', () => {
    const src = 'package x\n\np if {\n\tq := 1 +\n}\n';
    const e = errorOf(() => new Engine().addModule('x.rego', src));
    expect(e.code).toBe('rego_parse_error');
    const text = e.format(new Map([['x.rego', src]]));
    expect(text).toMatch(/^x\.rego:5:1: rego_parse_error: /);
    expect(text.split('\n')).toHaveLength(3);
    expect(text.split('\n')[2]).toMatch(/\^$/);
  });

  it('reports unsafe variables with rego_unsafe_var_error', () => {
    const eng = new Engine();
    eng.addModule('u.rego', 'package u\np if { x > 1 }\n');
    const e = errorOf(() => eng.compile());
    expect(e.code).toBe('rego_unsafe_var_error');
    expect(e.message).toContain('var x is unsafe');
    expect(e.errors[0]!.location).toMatchObject({ file: 'u.rego', row: 2 });
  });

  it('reports recursion with rego_recursion_error', () => {
    const eng = new Engine();
    eng.addModule('r.rego', 'package r\np if q\nq if p\n');
    const e = errorOf(() => eng.compile());
    expect(e.code).toBe('rego_recursion_error');
    expect(e.message).toMatch(/data\.r\.[pq] is recursive/);
  });

  it('reports unknown functions and arity mismatches with rego_type_error', () => {
    const a = new Engine();
    a.addModule('a.rego', 'package a\np if nope(1)\n');
    expect(errorOf(() => a.compile()).message).toContain('undefined function nope');
    const b = new Engine();
    b.addModule('b.rego', 'package b\np if count(1, 2, 3)\n');
    const e = errorOf(() => b.compile());
    expect(e.code).toBe('rego_type_error');
    expect(e.message).toContain('arity mismatch');
  });

  it('reports constant operands of the wrong type with rego_type_error at compile time', () => {
    const eng = new Engine();
    eng.addModule('t.rego', 'package t\np if upper(1) == "1"\n');
    const e = errorOf(() => eng.compile());
    expect(e.code).toBe('rego_type_error');
    expect(e.message).toContain('upper: invalid argument(s)');
  });

  it('raises eval_conflict_error when a complete rule has two values', () => {
    const eng = new Engine();
    eng.addModule('c.rego', 'package c\np := 1\np := 2 if input.x\n');
    expect(eng.prepare('data.c.p').evaluate({})).toHaveLength(1);
    let err: unknown;
    try {
      eng.prepare('data.c.p').evaluate({ x: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegoError);
    expect((err as RegoError).code).toBe('eval_conflict_error');
    expect((err as RegoError).message).toBe(
      'c.rego:3: eval_conflict_error: complete rules must not produce multiple outputs',
    );
  });

  it('turns builtin errors into undefined unless strict builtin errors are on', () => {
    const eng = new Engine();
    eng.addModule('d.rego', 'package d\np := 1 / 0\n');
    expect(eng.prepare('data.d.p').evaluate()).toEqual([]);
    const strict = new Engine({ strictBuiltinErrors: true });
    strict.addModule('d.rego', 'package d\np := 1 / 0\n');
    let msg = '';
    try {
      strict.prepare('data.d.p').evaluate();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('d.rego:2: eval_builtin_error: div: divide by zero');
  });
});
