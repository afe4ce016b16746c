/**
 * Regression cases found by the differential fuzzer (npm run fuzz:rego), each checked against OPA 0.47
 * (`npm run fuzz:rego -- --eval EXPR --rules FILE`) and OPA's current compiler source where they differ.
 */
import { describe, expect, it } from 'vitest';
import { errorsOf, evalIn } from './module-helpers.js';

describe('else after a rule without a body', () => {
  it('is a parse error at the else (OPA ends the rule before it)', () => {
    expect(errorsOf('package t\nq := 1 else := 2 if { true }')).toEqual([
      '2:8 rego_parse_error: unexpected else keyword',
    ]);
  });
  it('still chains after a body', () => {
    expect(evalIn('package t\nq := 1 if { false } else := 2 if { true }', 'data.t.q')).toEqual([2]);
  });
});

describe('unsafe variables are refused at compile time', () => {
  it('a comprehension head var its body does not bind', () => {
    expect(errorsOf('package t\nq := [v | false]')).toEqual(['2:6 rego_unsafe_var_error: var v is unsafe']);
    expect(errorsOf('package t\nq := {v | some x in [1]} if { true }')).toEqual([
      '2:6 rego_unsafe_var_error: var v is unsafe',
    ]);
    expect(errorsOf('package t\nq := [_ | true]')).toEqual(['2:6 rego_unsafe_var_error: var _ is unsafe']);
    expect(evalIn('package t\nq := [x | x := 1]', 'data.t.q')).toEqual([[1]]);
  });
  it('a var only in a negated expression, wildcards included (OPA: negation has no outputs)', () => {
    expect(errorsOf('package t\nq if { not alse }')).toEqual([
      '2:8 rego_unsafe_var_error: var alse is unsafe',
    ]);
    expect(errorsOf('package t\ns contains 1\nq if { not s[_] }')).toEqual([
      '3:8 rego_unsafe_var_error: var _ is unsafe',
    ]);
    expect(errorsOf('package t\nq if { not s[x] }\ns contains 1')).toEqual([
      '2:8 rego_unsafe_var_error: var x is unsafe',
    ]);
    // bound before the negation, in any order
    expect(evalIn('package t\nq if { not s[x]; x = 2 }\ns contains 1', 'data.t.q')).toEqual([true]);
  });
  it('`some x in xs in ys` parses (left-associative) and its declared call term is unsafe', () => {
    expect(errorsOf('package t\nq if { some x in [1] in {true} }')).toEqual([
      '2:8 rego_unsafe_var_error: var x is unsafe',
    ]);
  });
});

describe('declared vars must be used (OPA checkUnusedDeclaredVars)', () => {
  it('an every key/value unused in its body (OPA 0.47 and current OPA agree)', () => {
    expect(errorsOf('package t\nq if { every x in [1] { true } }')).toEqual([
      '2:25 rego_compile_error: declared var x unused',
    ]);
    expect(evalIn('package t\nq if { every x in [1] { x > 0 } }', 'data.t.q')).toEqual([true]);
    expect(evalIn('package t\nq if { every _, x in [1] { x > 0 } }', 'data.t.q')).toEqual([true]);
  });
  it('a plain some, also inside comprehensions; some x in xs uses x', () => {
    expect(errorsOf('package t\nq if { some x; true }')).toEqual([
      '2:8 rego_compile_error: declared var x unused',
    ]);
    expect(errorsOf('package t\nq := [1 | some x; true]')).toEqual([
      '2:11 rego_compile_error: declared var x unused',
    ]);
    expect(evalIn('package t\nq if { some x in [1] }', 'data.t.q')).toEqual([true]);
    expect(evalIn('package t\nq[x] if { some x; x = 1 }', 'data.t.q')).toEqual([{ '1': true }]);
  });
});

describe('JSON text of objects with non-string keys', () => {
  it('sorts the converted keys as strings, like Go marshalling a map', () => {
    expect(evalIn('package t\nq := json.marshal({2: "a", 10: "b", -1: "c"})', 'data.t.q')).toEqual([
      '{"-1":"c","10":"b","2":"a"}',
    ]);
    expect(evalIn('package t\nq := json.marshal({"b": 1, "a": 2})', 'data.t.q')).toEqual(['{"a":2,"b":1}']);
  });
});

describe('a rule body after if is read as a literal first (OPA parseRules)', () => {
  it('`if { x | ... }` is one set comprehension, so its vars stay inside it', () => {
    expect(errorsOf('package t\nd := {1}\nf[v] := true if {\n  d | {1, 3} < 1\n  v := 1\n}')).toEqual([
      '3:3 rego_unsafe_var_error: var v is unsafe',
    ]);
    expect(evalIn('package t\nf if {\n  true\n}', 'data.t.f')).toEqual([true]);
  });
});

describe('errors of the first failing stage only', () => {
  it('unsafe variables are reported without the type errors OPA checks later', () => {
    expect(errorsOf('package t\nq := v if { upper(1) }')).toEqual([
      '2:6 rego_unsafe_var_error: var v is unsafe',
    ]);
  });
});

describe('type checking (OPA checkTypes, conservative subset: compile-types.ts)', () => {
  const typeErrors = (src: string): string[] => errorsOf(src).map((e) => e.split('\n')[0]!);
  it('refuses builtin operands whose type is certainly wrong', () => {
    expect(typeErrors('package t\nq if { x := 1; split(x, ".") }')).toEqual([
      '2:16 rego_type_error: split: invalid argument(s)',
    ]);
    expect(typeErrors('package t\np := 1\nq if split(p, ".")')).toEqual([
      '3:6 rego_type_error: split: invalid argument(s)',
    ]);
    expect(typeErrors('package t\nq if { x := upper("a"); x + 1 > 0 }')).toEqual([
      '2:25 rego_type_error: plus: invalid argument(s)',
    ]);
  });
  it('refuses a function called with an operand its body cannot take', () => {
    expect(typeErrors('package t\nf(a) := upper(a)\nq := f(1)')).toEqual([
      '3:6 rego_type_error: data.t.f: invalid argument(s)',
    ]);
    expect(evalIn('package t\nf(a) := upper(a)\nq := f("x")', 'data.t.q')).toEqual(['X']);
    // a parameter also used otherwise (assigned here) is not narrowed: OPA accepts
    expect(evalIn('package t\nf(a) := true if { b := a; c := a & {1} }\nq := f("")', 'data.t.q')).toEqual([]);
    // another definition takes numbers: accepted
    expect(
      evalIn('package t\nf(a) := upper(a)\nf(a) := a + 1 if is_number(a)\nq := f(1)', 'data.t.q'),
    ).toEqual([2]);
  });
  it('refuses a constant key a literal object lacks, and an index outside a literal array', () => {
    expect(typeErrors('package t\nq if { x := {"a": 1}; x.b }')).toEqual([
      '2:23 rego_type_error: undefined ref: x.b',
    ]);
    expect(typeErrors('package t\nq := [10][2]')).toEqual(['2:6 rego_type_error: undefined ref: …[2]']);
    expect(evalIn('package t\nq if { x := {"a": 1}; x.a }', 'data.t.q')).toEqual([true]);
    // an empty literal is open (OPA): the ref is undefined at run time, not refused
    expect(evalIn('package t\nq if { o := {}; not startswith(o.missing, "a") }', 'data.t.q')).toEqual([]);
  });
  it('types locals assigned inside a comprehension, but not the outer ones it closes over (OPA 0.47 accepts)', () => {
    expect(errorsOf('package t\nq := [1 | x := 1; upper(x)]')[0]?.split('\n')[0]).toBe(
      '2:19 rego_type_error: upper: invalid argument(s)',
    );
    expect(
      evalIn('package t\nq if { b := is_number("x"); s := "x"; c := [1 | endswith(s, b)] }', 'data.t.q'),
    ).toEqual([true]);
  });
  it('accepts what it cannot type: input, data, some-bound vars, json.unmarshal results', () => {
    expect(evalIn('package t\nq if { split(input.x, ".") }', 'data.t.q', { x: 'a.b' })).toEqual([true]);
    expect(evalIn('package t\nq if { some x in ["a"]; upper(x) }', 'data.t.q')).toEqual([true]);
    expect(evalIn('package t\nq if { x := json.unmarshal("\\"a\\""); upper(x) }', 'data.t.q')).toEqual([
      true,
    ]);
  });
});

describe('match errors (OPA rewrites a == b to a = b, then unifies the operand types)', () => {
  it('refuses operands whose types cannot meet, negated or not', () => {
    const first = (src: string): string | undefined => errorsOf(src)[0]?.split('\n')[0];
    expect(first('package t\nq if { x := 1; x == "a" }')).toBe('2:16 rego_type_error: match error');
    expect(first('package t\nq if { not 1 == "a" }')).toBe('2:12 rego_type_error: match error');
    expect(first('package t\nq if { x := upper("a"); x = 1 }')).toBe('2:29 rego_type_error: match error');
    expect(evalIn('package t\nq if { [a] = [1]; a == 1 }', 'data.t.q')).toEqual([true]);
    expect(evalIn('package t\nq if { x := 1; x != "a" }', 'data.t.q')).toEqual([true]);
  });
});
