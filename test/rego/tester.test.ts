import { describe, expect, it } from 'vitest';
import {
  RegoErrors,
  formatPretty,
  runTestSuite,
  runTests,
  summarize,
  toOpaJson,
} from '../../src/rego/index.js';
import { goDuration } from '../../src/rego/test-report.js';

const mod = (source: string, name = 't.rego') => [{ name, source: `package t\n${source}` }];
const outcomes = (source: string, opts = {}) =>
  runTests(mod(source), opts).map((r) => [r.name, r.result] as const);

describe('tester (opa test semantics)', () => {
  it('a test passes only when its value is true; undefined and other values fail', () => {
    expect(
      outcomes(`test_true if true
test_one := 1
test_false := false
test_undefined if input.nothing
test_string := "true"`),
    ).toEqual([
      ['test_true', 'pass'],
      ['test_one', 'fail'],
      ['test_false', 'fail'],
      ['test_undefined', 'fail'],
      ['test_string', 'fail'],
    ]);
  });

  it('builtin errors are not strict (the test fails); evaluation errors are errors', () => {
    const r = runTests(
      mod(`x := 1 if true
x := 2 if true
test_div if 1 / 0 == 0
test_conflict if x == 1`),
    );
    expect(r.map((t) => t.result)).toEqual(['fail', 'error']);
    expect(r[1]!.error).toMatchObject({ code: 'eval_conflict_error', location: { file: 't.rego', row: 3 } });
  });

  it('partial-object tests report each case, including cases whose body failed after the key was bound', () => {
    const [r] = runTests(
      mod(`cases := [{"n": "one", "in": 1, "want": 2}, {"n": "two", "in": 2, "want": 5}, {"n": "three", "in": 3, "want": 6}]
test_double[tc.n] if {
  some tc in cases
  tc.in * 2 == tc.want
}`),
    );
    expect(r!.result).toBe('fail');
    expect(r!.subResults).toEqual([
      { name: 'one', fail: false, subResults: [] },
      { name: 'three', fail: false, subResults: [] },
      { name: 'two', fail: true, subResults: [] },
    ]);
    expect(summarize([r!])).toMatchObject({ total: 3, pass: 2, fail: 1 });
  });

  it('partial-object cases with non-true values fail; nested cases and non-string keys are named like opa', () => {
    const [vals, nested] = runTests(
      mod(`test_vals[n] := v if { some n, v in {"t": true, "f": false, "s": "yes"} }
test_nested[a][b] if { some a in ["x"]; some b in [1, 2]; b < 2 }`),
    );
    expect(vals!.subResults!.map((s) => [s.name, s.fail])).toEqual([
      ['f', true],
      ['s', true],
      ['t', false],
    ]);
    expect(nested!.result).toBe('fail');
    expect(nested!.subResults).toEqual([
      {
        name: 'x',
        fail: true,
        subResults: [
          { name: '1', fail: false, subResults: [] },
          { name: '2', fail: true, subResults: [] },
        ],
      },
    ]);
  });

  it('a partial-object test whose every case passes passes', () => {
    const [r] = runTests(mod(`test_ok[x] if { some x in ["a", "b"]; startswith(x, x) }`));
    expect(r!.result).toBe('pass');
    expect(summarize([r!])).toMatchObject({ total: 2, pass: 2 });
  });

  it('same-named tests in one package run separately, renamed like opa (#01, #02), across files', () => {
    const r = runTests([
      ...mod(`test_dup if true\ntest_dup if false`, 'a.rego'),
      ...mod(`test_dup if true`, 'b.rego'),
    ]);
    expect(r.map((t) => [t.name, t.result, t.location.file])).toEqual([
      ['test_dup', 'pass', 'a.rego'],
      ['test_dup#01', 'fail', 'a.rego'],
      ['test_dup#02', 'pass', 'b.rego'],
    ]);
  });

  it('todo_test_ rules are skipped; ref-headed tests are named by their ref; --run filters on the full name', () => {
    const src = `todo_test_later if false\np.test_q if true\ntest_other if true`;
    expect(outcomes(src)).toEqual([
      ['todo_test_later', 'skip'],
      ['p.test_q', 'pass'],
      ['test_other', 'pass'],
    ]);
    expect(outcomes(src, { run: 'data\\.t\\.p\\.' })).toEqual([['p.test_q', 'pass']]);
    expect(() => runTests(mod(src), { run: '(' })).toThrow(RegoErrors);
  });

  it('parses as v0 with v0Compatible, or per module when its bundle says so', () => {
    const v0 = [{ name: 'v0.rego', source: 'package t\ndeny[msg] { msg := "x" }\ntest_deny { deny["x"] }' }];
    expect(() => runTests(v0)).toThrow(RegoErrors);
    expect(runTests(v0, { v0Compatible: true }).map((r) => r.result)).toEqual(['pass']);
    expect(runTests([{ ...v0[0]!, regoVersion: 'v0' as const }]).map((r) => r.result)).toEqual(['pass']);
  });

  it('captures print output per test', () => {
    const [r] = runTests(mod(`test_p if { print("hello", 1); false }`));
    expect(r!.output).toBe('hello 1\n');
    expect(formatPretty([r!])).toContain('\n  hello 1\n');
  });

  it('a test running past its timeout is an error, the others still run', () => {
    const r = runTests(
      mod(
        `test_slow if { count([1 | some i in numbers.range(1, 5000); some j in numbers.range(1, 5000)]) > 0 }\ntest_fast if true`,
      ),
      { timeoutMs: 50 },
    );
    expect(r.map((t) => t.result)).toEqual(['error', 'pass']);
    expect(r[0]!.error?.code).toBe('eval_cancel_error');
  });

  it('pretty output follows opa: failures (all with verbose) with file:row, cases, then the counts', () => {
    const r = runTests(mod(`test_a if true\ntest_b if false\ntest_c[x] if { some x in ["k"]; false }`));
    const quiet = formatPretty(r);
    expect(quiet).not.toContain('test_a');
    expect(quiet).toMatch(/^t\.rego:3:\ndata\.t\.test_b: FAIL \(\d/);
    expect(quiet.split('\n').slice(-3)).toEqual(['-'.repeat(80), 'PASS: 1/3', 'FAIL: 2/3']);
    const verbose = formatPretty(r, { verbose: true });
    expect(verbose).toMatch(/data\.t\.test_a: PASS/);
    expect(verbose).toContain('FAILURES');
    expect(verbose).toMatch(/data\.t\.test_c: FAIL \([^)]*\)\n {2}k: FAIL/);
  });

  it('json output is opa test --format json: ns durations, fail/skip flags, base64 output, sub_results', () => {
    const r = runTests(
      mod(`test_a if { print("x"); true }\ntodo_test_b if true\ntest_c[k] if { some k in ["u"]; false }`),
    );
    const j = toOpaJson(r);
    expect(j[0]).toMatchObject({ package: 'data.t', name: 'test_a', location: { file: 't.rego', row: 2 } });
    expect(j[0]!.fail).toBeUndefined();
    expect(Buffer.from(j[0]!.output!, 'base64').toString()).toBe('x\n');
    expect(Number.isInteger(j[0]!.duration)).toBe(true);
    expect(j[1]).toMatchObject({ name: 'todo_test_b', skip: true });
    expect(j[2]).toMatchObject({ fail: true, sub_results: { u: { name: 'u', fail: true } } });
  });

  it('coverage: lines of rules that produced a value are covered, the others not (opa report shape)', () => {
    const rep = runTestSuite(
      mod(`allow if input.x == 1
deny if {
  input.x == 2
}
test_allow if allow with input as {"x": 1}`),
      { coverage: true },
    );
    expect(rep.coverage).toEqual({
      files: {
        't.rego': {
          covered: [
            { start: { row: 2 }, end: { row: 2 } },
            { start: { row: 6 }, end: { row: 6 } },
          ],
          not_covered: [{ start: { row: 3 }, end: { row: 4 } }],
          covered_lines: 2,
          not_covered_lines: 2,
          coverage: 50,
        },
      },
      covered_lines: 2,
      not_covered_lines: 2,
      coverage: 50,
    });
  });

  it('formats durations like Go', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(0.0005)).toBe('500ns');
    expect(goDuration(0.5231)).toBe('523.1µs');
    expect(goDuration(1.234567)).toBe('1.234567ms');
    expect(goDuration(2500)).toBe('2.5s');
    expect(goDuration(61_000)).toBe('1m1s');
  });
});
