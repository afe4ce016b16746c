/**
 * Operand helpers shared by the builtin families: OPA's exact wording for operand errors (the conformance suite
 * compares error text), and conversions from Rego values to the JS types an implementation works with.
 */
import type { BigNum, Value } from '../value.js';
import { isArray, isInteger, isNumber, isSet, toBigInt, typeName } from '../value.js';
import { BuiltinError, typeError } from './registry.js';

export type Num = number | BigNum;

/** `operand <pos> <message>` as an eval_type_error (OPA's `NewOperandErr`). */
export function operandError(pos: number, message: string): BuiltinError {
  return new BuiltinError(`operand ${pos} ${message}`, 'eval_type_error');
}

/** "operand 2 must be array of strings but got array containing number" (OPA's `NewOperandElementErr`). */
export function elementError(pos: number, composite: Value, got: Value, expected: string): BuiltinError {
  const t = typeName(composite);
  return operandError(pos, `must be ${t} of ${expected}s but got ${t} containing ${typeName(got)}`);
}

export function expectNumber(v: Value, pos: number): Num {
  if (!isNumber(v)) throw typeError(pos, v, 'number');
  return v;
}

/** A JS integer operand (OPA's `IntOperand`): numbers that are not integral get OPA's floating-point message. */
export function expectInt(v: Value, pos: number): number {
  const n = expectNumber(v, pos);
  if (!isInteger(n)) throw operandError(pos, 'must be integer number but got floating-point number');
  const b = toBigInt(n)!;
  return Number(b);
}

/** An exact integer operand as a bigint. */
export function expectBigInt(v: Value, pos: number): bigint {
  const n = expectNumber(v, pos);
  const b = toBigInt(n);
  if (b === undefined) throw operandError(pos, 'must be integer number but got floating-point number');
  return b;
}

export function expectArray(v: Value, pos: number): readonly Value[] {
  if (!isArray(v)) throw typeError(pos, v, 'array');
  return v;
}

/** Elements of an array or a set (sorted), or a type error naming `expected`. */
export function collectionItems(
  v: Value,
  pos: number,
  expected: readonly string[] = ['array', 'set'],
): readonly Value[] {
  if (isArray(v)) return v;
  if (isSet(v)) return v.values();
  throw typeError(pos, v, expected as never);
}

/** Strings of an array or set operand (OPA's `StringSliceOperand`). */
export function stringItems(v: Value, pos: number): string[] {
  const items = collectionItems(v, pos);
  const out: string[] = [];
  for (const x of items) {
    if (typeof x !== 'string') throw elementError(pos, v, x, 'string');
    out.push(x);
  }
  return out;
}

/** Wrap a library call so a thrown exception becomes an eval_builtin_error with its message. */
export function guard<T>(f: () => T, prefix = ''): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BuiltinError) throw e;
    throw new BuiltinError(prefix + (e instanceof Error ? e.message : String(e)));
  }
}

/** Code points of a string (Go iterates runes; JS strings are UTF-16). */
export function runes(s: string): string[] {
  return Array.from(s);
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}
