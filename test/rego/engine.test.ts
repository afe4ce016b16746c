import { describe, expect, it } from 'vitest';
import { Engine, RegoError, evalQuery, evalQueryJSON, runTests, values } from '../../src/rego/index.js';

const POLICY = `package aibox.egress

import rego.v1

default decision := "deny"

decision := "allow" if {
	input.host in data.allowed
	not blocked
}

blocked if input.port != 443

reasons contains "port" if blocked
`;

function engine(): Engine {
  const e = new Engine();
  e.addModule('egress.rego', POLICY);
  e.setData({ allowed: ['github.com', 'pypi.org'] });
  return e;
}

describe('rego engine API', () => {
  it('returns OPA-shaped result sets from a prepared query, reusable across inputs', () => {
    const q = engine().prepare('data.aibox.egress.decision');
    expect(q.evaluate({ host: 'github.com', port: 443 })).toEqual([
      {
        expressions: [{ value: 'allow', text: 'data.aibox.egress.decision', location: { row: 1, col: 1 } }],
        bindings: {},
      },
    ]);
    expect(q.evaluate({ host: 'evil.example', port: 443 })[0]!.expressions[0]!.value).toBe('deny');
  });

  it('reports bindings of query variables and undefined as an empty result set', () => {
    const e = engine();
    expect(
      e.prepare('x := data.aibox.egress.reasons').evaluate({ host: 'a', port: 80 })[0]!.bindings,
    ).toEqual({
      x: ['port'],
    });
    expect(e.prepare('data.aibox.egress.nothing').evaluate({})).toEqual([]);
  });

  it('names the rule (file:row) that produced a value when provenance is on', () => {
    const e = engine();
    const allow = e.evalRule(
      'data.aibox.egress.decision',
      { host: 'github.com', port: 443 },
      { provenance: true },
    );
    expect(allow.value).toBe('allow');
    expect(allow.provenance).toEqual([
      { path: 'aibox.egress.decision', file: 'egress.rego', row: 7, col: 1 },
    ]);
    const deny = e.evalRule('data.aibox.egress.decision', { host: 'x', port: 443 }, { provenance: true });
    expect(deny.value).toBe('deny');
    expect(deny.provenance).toEqual([{ path: 'aibox.egress.decision', file: 'egress.rego', row: 5, col: 1 }]);
  });

  it('keeps integers beyond 2^53 and decimals exact', () => {
    const e = new Engine();
    e.addModule('n.rego', 'package n\nbig := 9007199254740993 + 2\ndec := 0.1 + 0.2\n');
    const [r] = e.prepare('data.n = x').evaluateValues();
    const x = r!.bindings.get('x') as InstanceType<typeof values.ObjectValue>;
    expect(values.toJSONText(x.get('big')!)).toBe('9007199254740995');
    expect(x.get('dec')).toBe(0.3);
  });

  it('stops a runaway evaluation with eval_cancel_error', () => {
    const e = new Engine({ limits: { timeoutMs: 50 } });
    e.addModule(
      'slow.rego',
      'package slow\np := count([1 | some a in numbers.range(1, 300); some b in numbers.range(1, 300); some c in numbers.range(1, 300)])\n',
    );
    let err: unknown;
    try {
      e.prepare('data.slow.p').evaluate();
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(RegoError);
    expect((err as RegoError).code).toBe('eval_cancel_error');
  });

  it('evalQuery answers in opa eval JSON shape, with errors in opa shape', () => {
    expect(
      evalQuery({
        modules: [{ name: 'egress.rego', source: POLICY }],
        query: 'data.aibox.egress.blocked',
        input: { port: 80 },
      }),
    ).toEqual({
      result: [
        { expressions: [{ value: true, text: 'data.aibox.egress.blocked', location: { row: 1, col: 1 } }] },
      ],
    });
    expect(evalQuery({ query: 'x := 1 +' }).errors?.[0]?.code).toBe('rego_parse_error');
    expect(evalQueryJSON({ query: 'x := 18446744073709551616 * 2' }, 0)).toContain(
      '"x":36893488147419103232',
    );
  });

  it('runTests runs test_ rules like opa test', () => {
    const results = runTests([
      { name: 'egress.rego', source: POLICY },
      {
        name: 'egress_test.rego',
        source: `package aibox.egress_test
import data.aibox.egress
test_allowed if egress.decision == "allow" with input as {"host": "github.com", "port": 443} with data.allowed as ["github.com"]
test_fails if egress.decision == "allow"
test_errors if 1 / 0
`,
      },
    ]);
    expect(results.map((r) => [r.name, r.result])).toEqual([
      ['test_allowed', 'pass'],
      ['test_fails', 'fail'],
      // builtin errors are not strict in tests (like opa test): the expression is undefined, the test fails
      ['test_errors', 'fail'],
    ]);
  });
});
