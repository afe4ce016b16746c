/**
 * Operators the language needs natively: arithmetic, comparison, set algebra, membership. Owned by the language
 * core (not a builtin family).
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError as typeErr } from './registry.js';
import type { BigNum, Value } from '../value.js';
import {
  SetValue,
  compare,
  equal,
  isNumber,
  isSet,
  numAdd,
  numDiv,
  numMul,
  numRem,
  numSub,
  ObjectValue,
} from '../value.js';

type N = number | BigNum;

function arith(f: (a: N, b: N) => N) {
  return (args: readonly Value[]): Value => {
    try {
      return f(args[0] as N, args[1] as N);
    } catch (e) {
      if (e instanceof RangeError) throw new BuiltinError(e.message);
      throw e;
    }
  };
}

export function register(r: BuiltinRegistry): void {
  r.register({ name: 'plus', infix: '+', args: ['number', 'number'], result: 'number', impl: arith(numAdd) });
  r.register({ name: 'mul', infix: '*', args: ['number', 'number'], result: 'number', impl: arith(numMul) });
  r.register({ name: 'div', infix: '/', args: ['number', 'number'], result: 'number', impl: arith(numDiv) });
  r.register({ name: 'rem', infix: '%', args: ['number', 'number'], result: 'number', impl: arith(numRem) });
  r.register({
    name: 'minus',
    infix: '-',
    args: [
      ['number', 'set'],
      ['number', 'set'],
    ],
    result: ['number', 'set'],
    checkTypes: false,
    impl: (args) => {
      const [a, b] = args as [Value, Value];
      if (isNumber(a) && isNumber(b)) return numSub(a, b);
      if (isSet(a) && isSet(b)) {
        const out = new SetValue();
        for (const v of a.values()) if (!b.has(v)) out.add(v);
        return out;
      }
      if (!isNumber(a) && !isSet(a)) throw typeErr(1, a, ['number', 'set']);
      if (isNumber(a)) throw typeErr(2, b, 'number');
      throw typeErr(2, b, 'set');
    },
  });
  r.register({
    name: 'and',
    infix: '&',
    args: ['set', 'set'],
    result: 'set',
    impl: (args) => {
      const [a, b] = args as [SetValue, SetValue];
      const out = new SetValue();
      for (const v of a.values()) if (b.has(v)) out.add(v);
      return out;
    },
  });
  r.register({
    name: 'or',
    infix: '|',
    args: ['set', 'set'],
    result: 'set',
    impl: (args) => {
      const [a, b] = args as [SetValue, SetValue];
      const out = a.clone();
      for (const v of b.values()) out.add(v);
      return out;
    },
  });
  const cmp = (name: string, infix: string, f: (c: number) => boolean): void =>
    r.register({
      name,
      infix,
      args: ['any', 'any'],
      result: 'boolean',
      impl: (args) => f(compare(args[0]!, args[1]!)),
    });
  cmp('lt', '<', (c) => c < 0);
  cmp('lte', '<=', (c) => c <= 0);
  cmp('gt', '>', (c) => c > 0);
  cmp('gte', '>=', (c) => c >= 0);
  r.register({
    name: 'equal',
    infix: '==',
    args: ['any', 'any'],
    result: 'boolean',
    impl: (a) => equal(a[0]!, a[1]!),
  });
  r.register({
    name: 'neq',
    infix: '!=',
    args: ['any', 'any'],
    result: 'boolean',
    impl: (a) => !equal(a[0]!, a[1]!),
  });
  r.register({
    name: 'internal.member_2',
    args: ['any', 'any'],
    result: 'boolean',
    impl: (args) => {
      const [x, c] = args as [Value, Value];
      if (Array.isArray(c)) return (c as readonly Value[]).some((e) => equal(e, x));
      if (c instanceof SetValue) return c.has(x);
      if (c instanceof ObjectValue) return c.entries().some(([, v]) => equal(v, x));
      return false;
    },
  });
  r.register({
    name: 'internal.member_3',
    args: ['any', 'any', 'any'],
    result: 'boolean',
    impl: (args) => {
      const [k, x, c] = args as [Value, Value, Value];
      if (Array.isArray(c)) {
        if (typeof k !== 'number' || !Number.isInteger(k)) return false;
        const e = (c as readonly Value[])[k];
        return e !== undefined && equal(e, x);
      }
      if (c instanceof ObjectValue) {
        const v = c.get(k);
        return v !== undefined && equal(v, x);
      }
      return false;
    },
  });
}
