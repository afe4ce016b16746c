/**
 * Number builtins: abs, round, ceil, floor, numbers.range, numbers.range_step, rand.intn.
 *
 * rand.intn is offered, with OPA's semantics: the same (string, n) pair gives the same number for the whole query
 * evaluation (cached in ctx.cache), so a policy cannot observe two different draws in one decision. It is marked
 * nondeterministic so callers that cache decisions know not to.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { BigNum, Value } from '../value.js';
import { Dec, fromBigInt, isInteger, mkNum, toDec } from '../value.js';
import { expectBigInt, expectInt } from './operands.js';

type N = number | BigNum;

/** Upper bound on the length of a generated range, so one call cannot exhaust memory. */
const MAX_RANGE = 10_000_000n;

function range(from: bigint, to: bigint, step: bigint): Value[] {
  const len = (from > to ? from - to : to - from) / step + 1n;
  if (len > MAX_RANGE) throw new BuiltinError(`range of ${len} numbers is too large (limit ${MAX_RANGE})`);
  const out: Value[] = [];
  if (from <= to) for (let i = from; i <= to; i += step) out.push(fromBigInt(i));
  else for (let i = from; i >= to; i -= step) out.push(fromBigInt(i));
  return out;
}

export function register(r: BuiltinRegistry): void {
  const num1 = (name: string, f: (n: N) => N): void =>
    r.register({ name, args: ['number'], result: 'number', impl: (a) => f(a[0] as N) });

  num1('abs', (n) => (typeof n === 'number' ? Math.abs(n) : mkNum(n.d.abs())));
  // Halves round away from zero (Go's math.Round / big.Float with ToNearestAway).
  num1('round', (n) => (isInteger(n) ? n : mkNum(toDec(n).toDecimalPlaces(0, Dec.ROUND_HALF_UP))));
  num1('ceil', (n) => (isInteger(n) ? n : mkNum(toDec(n).ceil())));
  num1('floor', (n) => (isInteger(n) ? n : mkNum(toDec(n).floor())));

  r.register({
    name: 'numbers.range',
    args: ['number', 'number'],
    result: 'array',
    impl: (a) => range(expectBigInt(a[0]!, 1), expectBigInt(a[1]!, 2), 1n),
  });
  r.register({
    name: 'numbers.range_step',
    args: ['number', 'number', 'number'],
    result: 'array',
    impl: (a) => {
      const from = expectBigInt(a[0]!, 1);
      const to = expectBigInt(a[1]!, 2);
      const step = a[2] as N;
      if (!isInteger(step) || toDec(step).lte(0))
        throw new BuiltinError('numbers.range_step: step must be a positive integer');
      return range(from, to, expectBigInt(step, 3));
    },
  });

  r.register({
    name: 'rand.intn',
    args: ['string', 'number'],
    result: 'number',
    nondeterministic: true,
    impl: (a, ctx) => {
      let n = expectInt(a[1]!, 2);
      if (n === 0) return 0;
      if (n < 0) n = -n;
      const key = `rand.intn\u0000${a[0] as string}\u0000${n}`;
      const hit = ctx.cache.get(key);
      if (typeof hit === 'number') return hit;
      const v = Math.floor(ctx.random() * n);
      ctx.cache.set(key, v);
      return v;
    },
  });
}
