/** Array builtins: array.concat, array.slice, array.reverse, array.flatten. */
import type { BuiltinRegistry } from './registry.js';
import type { Value } from '../value.js';
import { isArray } from '../value.js';
import { expectInt } from './operands.js';

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'array.concat',
    args: ['array', 'array'],
    result: 'array',
    impl: (a) => [...(a[0] as readonly Value[]), ...(a[1] as readonly Value[])],
  });
  r.register({
    name: 'array.slice',
    args: ['array', 'number', 'number'],
    result: 'array',
    impl: (a) => {
      const arr = a[0] as readonly Value[];
      // Out-of-range indexes are clamped; a start past the stop gives an empty array.
      const start = Math.max(0, expectInt(a[1]!, 2));
      const stop = Math.min(arr.length, expectInt(a[2]!, 3));
      return start >= stop ? [] : arr.slice(start, stop);
    },
  });
  r.register({
    name: 'array.reverse',
    args: ['array'],
    result: 'array',
    impl: (a) => [...(a[0] as readonly Value[])].reverse(),
  });
  r.register({
    name: 'array.flatten',
    args: ['array'],
    result: 'array',
    // One level deep, like OPA.
    impl: (a) => (a[0] as readonly Value[]).flatMap((x) => (isArray(x) ? [...x] : [x])),
  });
}
