/** Aggregates: count, sum, product, max, min, sort, all, any. Sums and products are exact (big integers stay exact). */
import type { BuiltinRegistry } from './registry.js';
import type { BigNum, Value } from '../value.js';
import type { ObjectValue } from '../value.js';
import { compare, isArray, isNumber, isSet, numAdd, numMul } from '../value.js';
import { collectionItems, elementError, runes } from './operands.js';

type N = number | BigNum;

function fold(v: Value, init: N, f: (a: N, b: N) => N): N {
  let acc = init;
  for (const x of collectionItems(v, 1, ['set', 'array'])) {
    if (!isNumber(x)) throw elementError(1, v, x, 'number');
    acc = f(acc, x);
  }
  return acc;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'count',
    args: [['array', 'object', 'set', 'string']],
    result: 'number',
    impl: (a) => {
      const v = a[0]!;
      if (typeof v === 'string') return runes(v).length;
      if (isArray(v)) return v.length;
      return (v as ObjectValue).size;
    },
  });
  r.register({
    name: 'sum',
    args: [['set', 'array']],
    result: 'number',
    impl: (a) => fold(a[0]!, 0, numAdd),
  });
  r.register({
    name: 'product',
    args: [['set', 'array']],
    result: 'number',
    impl: (a) => fold(a[0]!, 1, numMul),
  });
  const extreme = (name: string, sign: number): void =>
    r.register({
      name,
      args: [['set', 'array']],
      impl: (a) => {
        const items = collectionItems(a[0]!, 1, ['set', 'array']);
        if (items.length === 0) return undefined;
        let best: Value = items[0] as Value;
        for (const x of items) if (compare(x, best) * sign > 0) best = x;
        return best;
      },
    });
  extreme('max', 1);
  extreme('min', -1);
  r.register({
    name: 'sort',
    args: [['array', 'set']],
    result: 'array',
    impl: (a) => {
      const v = a[0]!;
      if (isSet(v)) return [...v.values()];
      return [...(v as readonly Value[])].sort(compare);
    },
  });
  r.register({
    name: 'all',
    args: [['array', 'set']],
    result: 'boolean',
    impl: (a) => collectionItems(a[0]!, 1, ['array', 'set']).every((x) => x === true),
  });
  r.register({
    name: 'any',
    args: [['array', 'set']],
    result: 'boolean',
    impl: (a) => collectionItems(a[0]!, 1, ['array', 'set']).some((x) => x === true),
  });
}
