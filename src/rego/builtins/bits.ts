/** Bitwise builtins on exact integers (two's complement semantics of Go's big.Int). */
import type { BuiltinRegistry } from './registry.js';
import { fromBigInt } from '../value.js';
import { expectBigInt, operandError } from './operands.js';

/** Shifts beyond this would build numbers with millions of digits: refuse them. */
const MAX_SHIFT = 1n << 16n;

export function register(r: BuiltinRegistry): void {
  const bin = (name: string, f: (a: bigint, b: bigint) => bigint): void =>
    r.register({
      name,
      args: ['number', 'number'],
      result: 'number',
      impl: (a) => fromBigInt(f(expectBigInt(a[0]!, 1), expectBigInt(a[1]!, 2))),
    });
  bin('bits.and', (a, b) => a & b);
  bin('bits.or', (a, b) => a | b);
  bin('bits.xor', (a, b) => a ^ b);
  const shift = (name: string, left: boolean): void =>
    r.register({
      name,
      args: ['number', 'number'],
      result: 'number',
      impl: (a) => {
        const x = expectBigInt(a[0]!, 1);
        const s = expectBigInt(a[1]!, 2);
        if (s < 0n) throw operandError(2, 'must be an unsigned integer number but got a negative integer');
        if (left && s > MAX_SHIFT) throw operandError(2, `must be at most ${MAX_SHIFT}`);
        return fromBigInt(left ? x << s : x >> s);
      },
    });
  shift('bits.lsh', true);
  shift('bits.rsh', false);
  r.register({
    name: 'bits.negate',
    args: ['number'],
    result: 'number',
    impl: (a) => fromBigInt(~expectBigInt(a[0]!, 1)),
  });
}
