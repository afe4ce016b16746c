/**
 * The Rego value model.
 *
 * Representation (chosen so the hot path allocates nothing for scalars):
 *   null            -> null
 *   boolean         -> true | false
 *   number          -> a JS `number` when the exact decimal value is what the number's shortest text says
 *                      (all safe integers, most literals), otherwise a `BigNum` (exact integer beyond 2^53, exact
 *                      decimal, 1e400...). `mkNum` normalises, so one value has exactly one representation:
 *                      `number` and `BigNum` never denote the same value.
 *   string          -> JS string
 *   array           -> readonly Value[] (plain JS array, never mutated once built)
 *   object          -> ObjectValue (keys are arbitrary values)
 *   set             -> SetValue
 *
 * Ordering follows OPA (`ast.Compare`): null < boolean < number < string < array < object < set.
 * Objects and sets iterate in sorted key order (deterministic, like OPA's sorted keys).
 */
import { Decimal } from 'decimal.js';

/** Decimal constructor used for exact arithmetic. High precision; ROUND_HALF_EVEN like Go's big.Float default. */
export const Dec = Decimal.clone({
  precision: 120,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpPos: 40,
  toExpNeg: -40,
});
export type Dec = Decimal;

export class BigNum {
  constructor(readonly d: Decimal) {}
  toString(): string {
    return formatDecimal(this.d);
  }
}

export type Value = null | boolean | number | BigNum | string | readonly Value[] | ObjectValue | SetValue;

export type TypeName = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'set';

export function typeName(v: Value): TypeName {
  if (v === null) return 'null';
  const t = typeof v;
  if (t === 'string') return 'string';
  if (t === 'number') return 'number';
  if (t === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'array';
  if (v instanceof ObjectValue) return 'object';
  if (v instanceof SetValue) return 'set';
  return 'number';
}

export const TYPE_RANK: Record<TypeName, number> = {
  null: 0,
  boolean: 1,
  number: 2,
  string: 3,
  array: 4,
  object: 5,
  set: 6,
};

export function isNumber(v: Value): v is number | BigNum {
  return typeof v === 'number' || v instanceof BigNum;
}
export function isArray(v: Value): v is readonly Value[] {
  return Array.isArray(v);
}
export function isObject(v: Value): v is ObjectValue {
  return v instanceof ObjectValue;
}
export function isSet(v: Value): v is SetValue {
  return v instanceof SetValue;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/** Normalise an exact decimal into the canonical number representation. */
export function mkNum(d: Decimal): number | BigNum {
  if (d.isInteger()) {
    if (d.abs().lte(Number.MAX_SAFE_INTEGER)) return d.toNumber();
  }
  const n = d.toNumber();
  if (Number.isFinite(n) && new Dec(n).eq(d)) return n === 0 ? 0 : n;
  return new BigNum(d);
}

/** Parse a numeric literal (JSON/Rego syntax) exactly. Returns undefined when it is not a number. */
export function parseNumber(text: string): number | BigNum | undefined {
  // Fast path: short integer literals.
  if (text.length < 16 && /^-?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
  try {
    return mkNum(new Dec(text));
  } catch {
    return undefined;
  }
}

export function toDec(v: number | BigNum): Decimal {
  return typeof v === 'number' ? new Dec(v) : v.d;
}

/** Exact integer value if the number is integral, else undefined. */
export function toBigInt(v: number | BigNum): bigint | undefined {
  // A number beyond 2^53 denotes the value of its shortest text (see mkNum), not its exact binary value.
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return undefined;
    return Number.isSafeInteger(v) ? BigInt(v) : BigInt(new Dec(v).toFixed(0));
  }
  if (!v.d.isInteger()) return undefined;
  return BigInt(v.d.toFixed(0));
}

export function fromBigInt(b: bigint): number | BigNum {
  if (b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(b);
  // Normalise like mkNum, so a value has one representation whichever way it was built.
  return mkNum(new Dec(b.toString()));
}

/** A JS number (lossy for BigNum) — for builtins that need a float, e.g. time conversions. */
export function toFloat(v: number | BigNum): number {
  return typeof v === 'number' ? v : v.d.toNumber();
}

export function isInteger(v: number | BigNum): boolean {
  return typeof v === 'number' ? Number.isInteger(v) : v.d.isInteger();
}

export function formatDecimal(d: Decimal): string {
  if (d.isInteger() && d.abs().lt('1e40')) return d.toFixed(0);
  return d.toString();
}

export function formatNumber(v: number | BigNum): string {
  if (typeof v === 'number') {
    // Shortest text: beyond 2^53 a number denotes that text's value (see mkNum), not its binary expansion.
    return String(v);
  }
  return v.toString();
}

export function compareNumbers(a: number | BigNum, b: number | BigNum): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return toDec(a).cmp(toDec(b));
}

/** Exact arithmetic. Results are normalised. Division that does not terminate falls back to float precision. */
export function numAdd(a: number | BigNum, b: number | BigNum): number | BigNum {
  if (typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a) && Number.isSafeInteger(b)) {
    const r = a + b;
    if (Number.isSafeInteger(r)) return r;
  }
  return mkNum(toDec(a).plus(toDec(b)));
}
export function numSub(a: number | BigNum, b: number | BigNum): number | BigNum {
  if (typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a) && Number.isSafeInteger(b)) {
    const r = a - b;
    if (Number.isSafeInteger(r)) return r;
  }
  return mkNum(toDec(a).minus(toDec(b)));
}
export function numMul(a: number | BigNum, b: number | BigNum): number | BigNum {
  if (typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a) && Number.isSafeInteger(b)) {
    const r = a * b;
    if (Number.isSafeInteger(r)) return r === 0 ? 0 : r;
  }
  return mkNum(toDec(a).times(toDec(b)));
}
/** Throws RangeError('divide by zero'). */
export function numDiv(a: number | BigNum, b: number | BigNum): number | BigNum {
  const db = toDec(b);
  if (db.isZero()) throw new RangeError('divide by zero');
  const da = toDec(a);
  const q = da.div(db);
  if (q.times(db).eq(da)) return mkNum(q);
  return mkNum(new Dec(q.toNumber()));
}
/** Integer remainder (sign of the dividend, like Go). Throws RangeError for floats or zero divisor. */
export function numRem(a: number | BigNum, b: number | BigNum): number | BigNum {
  const ia = toBigInt(a);
  const ib = toBigInt(b);
  if (ia === undefined || ib === undefined) throw new RangeError('modulo on floating-point number');
  if (ib === 0n) throw new RangeError('modulo by zero');
  return fromBigInt(ia % ib);
}
export function numNeg(a: number | BigNum): number | BigNum {
  if (typeof a === 'number') return a === 0 ? 0 : -a;
  return mkNum(a.d.neg());
}

// ---------------------------------------------------------------------------------------------------------------
// Strings: OPA (Go) compares strings by UTF-8 bytes, i.e. by code point. JS `<` compares UTF-16 code units, which
// differs only when surrogates meet characters in U+E000..U+FFFF.

export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca >= 0xd800 && cb >= 0xd800) {
        const pa = a.codePointAt(i)!;
        const pb = b.codePointAt(i)!;
        return pa < pb ? -1 : 1;
      }
      return ca < cb ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Hash keys: a canonical string for any value; equal values have equal keys.

export function hashKey(v: Value): string {
  if (v === null) return 'N';
  if (typeof v === 'boolean') return v ? 'T' : 'F';
  if (typeof v === 'number') return 'n' + String(v);
  if (typeof v === 'string') return 's' + v;
  if (v instanceof BigNum) return 'n' + v.d.toString();
  if (Array.isArray(v)) {
    let s = '[';
    for (const e of v as readonly Value[]) s += hashKeyNested(e) + ',';
    return s + ']';
  }
  if (v instanceof ObjectValue) {
    let s = '{';
    for (const [k, val] of v.entries()) s += hashKeyNested(k) + ':' + hashKeyNested(val) + ',';
    return s + '}';
  }
  if (v instanceof SetValue) {
    let s = '<';
    for (const e of v.values()) s += hashKeyNested(e) + ',';
    return s + '>';
  }
  throw new Error('unknown value');
}

function hashKeyNested(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return hashKey(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Objects

export class ObjectValue {
  private readonly strs = new Map<string, Value>();
  private others: Map<string, [Value, Value]> | undefined;
  private sorted: [Value, Value][] | undefined;

  static readonly EMPTY: ObjectValue = new ObjectValue();

  static fromEntries(entries: Iterable<readonly [Value, Value]>): ObjectValue {
    const o = new ObjectValue();
    for (const [k, v] of entries) o.set(k, v);
    return o;
  }

  /** Build from a plain record of string keys. */
  static fromRecord(rec: Record<string, Value>): ObjectValue {
    const o = new ObjectValue();
    for (const k of Object.keys(rec)) o.strs.set(k, rec[k]!);
    return o;
  }

  get size(): number {
    return this.strs.size + (this.others?.size ?? 0);
  }

  get(k: Value): Value | undefined {
    if (typeof k === 'string') return this.strs.get(k);
    if (this.others === undefined) return undefined;
    return this.others.get(hashKey(k))?.[1];
  }

  getStr(k: string): Value | undefined {
    return this.strs.get(k);
  }

  has(k: Value): boolean {
    return this.get(k) !== undefined;
  }

  /** Mutation is for builders only: never mutate an object after it has been shared. */
  set(k: Value, v: Value): void {
    this.sorted = undefined;
    if (typeof k === 'string') {
      this.strs.set(k, v);
      return;
    }
    (this.others ??= new Map()).set(hashKey(k), [k, v]);
  }

  delete(k: Value): void {
    this.sorted = undefined;
    if (typeof k === 'string') this.strs.delete(k);
    else this.others?.delete(hashKey(k));
  }

  /** Entries in sorted key order (cached). */
  entries(): readonly (readonly [Value, Value])[] {
    if (this.sorted !== undefined) return this.sorted;
    const out: [Value, Value][] = [];
    for (const [k, v] of this.strs) out.push([k, v]);
    if (this.others) for (const e of this.others.values()) out.push([e[0], e[1]]);
    if (this.others) out.sort((a, b) => compare(a[0], b[0]));
    else out.sort((a, b) => compareStrings(a[0] as string, b[0] as string));
    this.sorted = out;
    return out;
  }

  keys(): Value[] {
    return this.entries().map((e) => e[0]);
  }

  /** True when every key is a string (JSON-representable keys). */
  allStringKeys(): boolean {
    return this.others === undefined || this.others.size === 0;
  }

  clone(): ObjectValue {
    const o = new ObjectValue();
    for (const [k, v] of this.strs) o.strs.set(k, v);
    if (this.others) o.others = new Map(this.others);
    return o;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sets

export class SetValue {
  private readonly strs = new Set<string>();
  private others: Map<string, Value> | undefined;
  private sorted: Value[] | undefined;

  static readonly EMPTY: SetValue = new SetValue();

  static of(items: Iterable<Value>): SetValue {
    const s = new SetValue();
    for (const v of items) s.add(v);
    return s;
  }

  get size(): number {
    return this.strs.size + (this.others?.size ?? 0);
  }

  has(v: Value): boolean {
    if (typeof v === 'string') return this.strs.has(v);
    if (this.others === undefined) return false;
    return this.others.has(hashKey(v));
  }

  /** Mutation is for builders only. Returns true when the element was new. */
  add(v: Value): boolean {
    if (typeof v === 'string') {
      if (this.strs.has(v)) return false;
      this.strs.add(v);
      this.sorted = undefined;
      return true;
    }
    const k = hashKey(v);
    const m = (this.others ??= new Map());
    if (m.has(k)) return false;
    m.set(k, v);
    this.sorted = undefined;
    return true;
  }

  delete(v: Value): void {
    this.sorted = undefined;
    if (typeof v === 'string') this.strs.delete(v);
    else this.others?.delete(hashKey(v));
  }

  /** Elements in sorted order (cached). */
  values(): readonly Value[] {
    if (this.sorted !== undefined) return this.sorted;
    const out: Value[] = [...this.strs];
    if (this.others) {
      for (const v of this.others.values()) out.push(v);
      out.sort(compare);
    } else out.sort((a, b) => compareStrings(a as string, b as string));
    this.sorted = out;
    return out;
  }

  clone(): SetValue {
    const s = new SetValue();
    for (const v of this.strs) s.strs.add(v);
    if (this.others) s.others = new Map(this.others);
    return s;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Equality and ordering

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  const ta = typeof a;
  if (ta !== 'object' || typeof b !== 'object') return false;
  if (a instanceof BigNum) return b instanceof BigNum && a.d.eq(b.d);
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return false;
    const aa = a as readonly Value[];
    const bb = b as readonly Value[];
    if (aa.length !== bb.length) return false;
    for (let i = 0; i < aa.length; i++) if (!equal(aa[i]!, bb[i]!)) return false;
    return true;
  }
  if (a instanceof ObjectValue) {
    if (!(b instanceof ObjectValue) || a.size !== b.size) return false;
    for (const [k, v] of a.entries()) {
      const w = b.get(k);
      if (w === undefined || !equal(v, w)) return false;
    }
    return true;
  }
  if (a instanceof SetValue) {
    if (!(b instanceof SetValue) || a.size !== b.size) return false;
    for (const v of a.values()) if (!b.has(v)) return false;
    return true;
  }
  return false;
}

export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  const ta = typeName(a);
  const tb = typeName(b);
  if (ta !== tb) return TYPE_RANK[ta] < TYPE_RANK[tb] ? -1 : 1;
  switch (ta) {
    case 'null':
      return 0;
    case 'boolean':
      return a === b ? 0 : a === false ? -1 : 1;
    case 'number':
      return compareNumbers(a as number | BigNum, b as number | BigNum);
    case 'string':
      return compareStrings(a as string, b as string);
    case 'array': {
      const aa = a as readonly Value[];
      const bb = b as readonly Value[];
      const n = Math.min(aa.length, bb.length);
      for (let i = 0; i < n; i++) {
        const c = compare(aa[i]!, bb[i]!);
        if (c !== 0) return c;
      }
      return aa.length < bb.length ? -1 : aa.length > bb.length ? 1 : 0;
    }
    case 'object': {
      const ea = (a as ObjectValue).entries();
      const eb = (b as ObjectValue).entries();
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const kc = compare(ea[i]![0], eb[i]![0]);
        if (kc !== 0) return kc;
        const vc = compare(ea[i]![1], eb[i]![1]);
        if (vc !== 0) return vc;
      }
      return ea.length < eb.length ? -1 : ea.length > eb.length ? 1 : 0;
    }
    case 'set': {
      const va = (a as SetValue).values();
      const vb = (b as SetValue).values();
      const n = Math.min(va.length, vb.length);
      for (let i = 0; i < n; i++) {
        const c = compare(va[i]!, vb[i]!);
        if (c !== 0) return c;
      }
      return va.length < vb.length ? -1 : va.length > vb.length ? 1 : 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conversion from and to JSON / JS

/** Convert a plain JS value (from JSON.parse, YAML...) into a Value. bigint becomes an exact number. */
export function fromJS(x: unknown): Value {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new TypeError('non-finite number');
    return Object.is(x, -0) ? 0 : x;
  }
  if (typeof x === 'bigint') return fromBigInt(x);
  if (typeof x !== 'object') throw new TypeError(`cannot convert ${typeof x} to a Rego value`);
  if (x instanceof BigNum || x instanceof ObjectValue || x instanceof SetValue) return x;
  if (x instanceof Decimal) return mkNum(x);
  if (Array.isArray(x)) return x.map(fromJS);
  if (x instanceof Set) return SetValue.of([...(x as Set<unknown>)].map(fromJS));
  if (x instanceof Map) {
    const o = new ObjectValue();
    for (const [k, v] of x as Map<unknown, unknown>) o.set(fromJS(k), fromJS(v));
    return o;
  }
  const o = new ObjectValue();
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) o.set(k, fromJS(v));
  return o;
}

export type JSONValue = null | boolean | number | string | JSONValue[] | { [k: string]: JSONValue };

/**
 * Convert to plain JSON-compatible JS. Sets become sorted arrays; non-string object keys are rendered as their
 * Rego text (like OPA). BigNums become JS numbers (lossy): use `toJSONText` for exact output.
 */
export function toJS(v: Value): JSONValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof BigNum) return v.d.toNumber();
  if (Array.isArray(v)) return (v as readonly Value[]).map(toJS);
  if (v instanceof ObjectValue) {
    const o: { [k: string]: JSONValue } = {};
    for (const [k, val] of jsonEntries(v)) o[k] = toJS(val);
    return o;
  }
  if (v instanceof SetValue) return v.values().map(toJS);
  throw new TypeError('unknown value');
}

/**
 * An object's entries with JSON keys (non-string keys as their JSON text), in OPA's output order: Go marshals the
 * resulting map with its keys sorted bytewise, and a later key of the same text wins.
 */
function jsonEntries(o: ObjectValue): (readonly [string, Value])[] {
  const entries = o.entries();
  if (entries.every(([k]) => typeof k === 'string')) return entries as (readonly [string, Value])[];
  const m = new Map<string, Value>();
  for (const [k, val] of entries) m.set(typeof k === 'string' ? k : toJSONText(k), val);
  return [...m.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Exact JSON text (numbers keep every digit). `indent` like JSON.stringify's third argument. */
export function toJSONText(v: Value, indent?: number): string {
  const pad = indent ? ' '.repeat(indent) : '';
  const rec = (x: Value, cur: string): string => {
    if (x === null) return 'null';
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (typeof x === 'number' || x instanceof BigNum) return formatNumber(x);
    if (typeof x === 'string') return JSON.stringify(x);
    const inner = cur + pad;
    const nl = pad ? '\n' : '';
    const sep = pad ? ': ' : ':';
    let items: string[];
    let open: string;
    let close: string;
    if (Array.isArray(x) || x instanceof SetValue) {
      const arr: readonly Value[] = x instanceof SetValue ? x.values() : (x as readonly Value[]);
      items = arr.map((e) => inner + rec(e, inner));
      open = '[';
      close = ']';
    } else {
      items = jsonEntries(x as ObjectValue).map(
        ([k, val]) => inner + JSON.stringify(k) + sep + rec(val, inner),
      );
      open = '{';
      close = '}';
    }
    if (items.length === 0) return open + close;
    return open + nl + items.join(',' + nl) + nl + cur + close;
  };
  return rec(v, '');
}

/** Rego term text, as OPA prints values (`sprintf("%v")`, `print`, error messages): sets `{1, 2}`, `set()`. */
export function toRegoText(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' || v instanceof BigNum) return formatNumber(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + (v as readonly Value[]).map(toRegoText).join(', ') + ']';
  if (v instanceof ObjectValue)
    return (
      '{' +
      v
        .entries()
        .map(([k, val]) => toRegoText(k) + ': ' + toRegoText(val))
        .join(', ') +
      '}'
    );
  if (v instanceof SetValue) {
    if (v.size === 0) return 'set()';
    return '{' + v.values().map(toRegoText).join(', ') + '}';
  }
  throw new TypeError('unknown value');
}

/**
 * Parse JSON text exactly (numbers beyond 2^53 and long decimals keep every digit). Throws SyntaxError on bad input.
 */
export function parseJSON(text: string): Value {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (msg: string): never => {
    throw new SyntaxError(`${msg} at offset ${i}`);
  };
  const val = (depth: number): Value => {
    if (depth > 10000) fail('JSON nested too deeply');
    ws();
    if (i >= n) fail('unexpected end of JSON input');
    const c = text[i]!;
    if (c === '{') {
      i++;
      const o = new ObjectValue();
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        o.set(k, val(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const a: Value[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(val(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r || r[0].length === 0) return fail('unexpected character');
    i += r[0].length;
    return parseNumber(r[0])!;
  };
  const str = (): string => {
    const start = i;
    i++;
    let simple = true;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) {
        simple = false;
        i += 2;
        continue;
      }
      if (c < 32) fail('control character in string');
      i++;
    }
    if (i >= n) fail('unterminated string');
    i++;
    const raw = text.slice(start, i);
    return simple ? raw.slice(1, -1) : (JSON.parse(raw) as string);
  };
  const v = val(0);
  ws();
  if (i < n) fail('unexpected data after JSON value');
  return v;
}
