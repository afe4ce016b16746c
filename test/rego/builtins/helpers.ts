/** Evaluate one Rego expression with the full engine (strict builtin errors) and return its value. */
import { Engine, RegoErrors } from '../../../src/rego/index.js';
import type { Value } from '../../../src/rego/index.js';
import { values } from '../../../src/rego/index.js';

export const FIXED_NOW_NS = 1_700_000_000_000_000_000n;

export function evalRego(expr: string, opts: { nowNs?: bigint; input?: unknown } = {}): Value | undefined {
  const engine = new Engine({ strictBuiltinErrors: true });
  const q = engine.prepare(`x := ${expr}`);
  const input = opts.input === undefined ? undefined : values.fromJS(opts.input);
  const rs = q.evaluateValues(input, { strictBuiltinErrors: true, nowNs: opts.nowNs ?? FIXED_NOW_NS });
  return rs[0]?.bindings.get('x');
}

/** The value as plain JSON-like JS (sets as sorted arrays, exact numbers as text when large). */
export function evalJS(expr: string, opts: { nowNs?: bigint; input?: unknown } = {}): unknown {
  const v = evalRego(expr, opts);
  return v === undefined ? undefined : values.toJS(v);
}

/** The error text the expression raises (undefined if it does not fail). */
export function evalError(expr: string): string | undefined {
  try {
    evalRego(expr);
    return undefined;
  } catch (e) {
    if (e instanceof RegoErrors || e instanceof Error) return e.message;
    throw e;
  }
}

export function text(v: Value | undefined): string | undefined {
  return v === undefined ? undefined : values.toRegoText(v);
}
