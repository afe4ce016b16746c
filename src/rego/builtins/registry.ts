/**
 * How builtins are declared and registered.
 *
 * NOTES FOR WHOEVER WRITES A BUILTIN FAMILY (strings.ts, regex.ts, numbers.ts, ...):
 *
 * 1. A family file exports `register(registry: BuiltinRegistry): void` and calls `registry.register({...})` for each
 *    builtin. No module-level mutable state (caches go in `ctx.cache`, keyed by your builtin's name). Then add one
 *    import + one call line to `builtins/index.ts`.
 * 2. Values: see `../value.ts`. Scalars are JS primitives (null, boolean, string, number); numbers may also be a
 *    `BigNum` (exact big int / decimal) — test with `isNumber(v)`, never `typeof v === 'number'` alone. Arrays are
 *    plain readonly JS arrays; objects are `ObjectValue` (arbitrary keys: use `.get(k)`, `.getStr(s)`, `.entries()`
 *    which is sorted); sets are `SetValue` (`.has(v)`, `.values()` sorted). Build results with
 *    `new ObjectValue()` + `.set()`, `SetValue.of([...])`, and never mutate an argument. Exact arithmetic:
 *    `numAdd/numSub/numMul/numDiv/numRem`, `compareNumbers`, `toBigInt`, `fromBigInt`, `toFloat`, `parseNumber`.
 *    Ordering/equality: `compare`, `equal` (OPA's order). Printing like OPA: `toRegoText` (sprintf %v), exact JSON
 *    text: `toJSONText`, exact JSON parsing: `parseJSON`. `fromJS`/`toJS` for plain JS.
 * 3. Arity and operand types: `args` lists one `ArgType` per operand. Before calling `impl`, the engine checks the
 *    arity (compile time: rego_type_error) and, unless `checkTypes: false`, each operand's type (runtime:
 *    eval_type_error with OPA's text "<name>: operand 2 must be string but got number"; union types print as
 *    "one of {array, set}"). So `impl` may cast operands whose type it declared. Use `'any'` and check yourself
 *    (with `expect*` / `typeError` below) when OPA's message is more specific.
 * 4. Errors: throw `new BuiltinError(message)` (-> eval_builtin_error) or `typeError(pos, got, expected)` /
 *    `new BuiltinError(message, 'eval_type_error')`. Do NOT prefix the message with the builtin name: the engine
 *    prints `<name>: <message>` (OPA's format). Without strict builtin errors the engine turns BuiltinErrors into
 *    "undefined"; with strict errors it aborts the query. Any other exception is a bug (reported as
 *    eval_internal_error), so never let a library throw through: catch and rethrow as BuiltinError.
 * 5. Return `undefined` to make the call undefined (e.g. OPA builtins that "fail" without error). Return a Value
 *    otherwise.
 * 6. `ctx.nowNs` is the query's fixed clock (time.now_ns must return the same value during one evaluation).
 *    `ctx.cache` lives for one query evaluation; `ctx.sharedCache` lives as long as the engine (use it for compiled
 *    regexes/globs, bounded in size). `ctx.random()` is a per-query deterministic-or-not source for rand.*.
 * 7. Not offered (policy is pure): http.send, net.lookup_ip_addr, opa.runtime env leakage. Do not register them.
 * 8. Operators the language needs natively (plus, minus, mul, div, rem, eq/equal/neq/lt/lte/gt/gte, and/or/minus on
 *    sets, internal.member_2/3, print, walk, assign/unify) live in `builtins/operators.ts` (owned by the language
 *    core). abs/round/ceil/floor/numbers.range go in numbers.ts; count/sum/max/... in aggregates.ts.
 */
import type { Value, TypeName } from '../value.js';
import { typeName } from '../value.js';

/** An operand type: a value type, 'any', or a union (array of types). */
export type ArgType = TypeName | 'any' | readonly (TypeName | 'any')[];

export interface BuiltinContext {
  /** Name of the builtin being called. */
  readonly name: string;
  /** Strict builtin errors (opa eval --strict-builtin-errors). Informational: throwing is handled by the engine. */
  readonly strict: boolean;
  /** Nanoseconds since the epoch, fixed for the whole query evaluation. */
  readonly nowNs: bigint;
  /** Per-evaluation cache (cleared on each evaluate call). */
  readonly cache: Map<string, unknown>;
  /** Cache that lives as long as the engine (keep entries bounded). */
  readonly sharedCache: Map<string, unknown>;
  /** Random source in [0, 1). */
  random(): number;
}

export type BuiltinImpl = (args: readonly Value[], ctx: BuiltinContext) => Value | undefined;

export interface BuiltinDef {
  /** Full dotted name as written in Rego, e.g. `strings.replace_n`. */
  readonly name: string;
  /** One entry per operand; arity = args.length. */
  readonly args: readonly ArgType[];
  /** Result type (documentation and future type checks). */
  readonly result?: ArgType;
  readonly impl: BuiltinImpl;
  /** Check operand types before calling impl (default true). */
  readonly checkTypes?: boolean;
  /** Result differs between calls with the same arguments (time.now_ns, rand.intn, uuid.rfc4122...). */
  readonly nondeterministic?: boolean;
  /** Deprecated or alternative names that resolve to the same builtin (e.g. `re_match`). */
  readonly aliases?: readonly string[];
  /** Infix operator text, for error messages (e.g. `+`). */
  readonly infix?: string;
}

export type BuiltinErrorCode = 'eval_builtin_error' | 'eval_type_error';

export class BuiltinError extends Error {
  constructor(
    message: string,
    readonly code: BuiltinErrorCode = 'eval_builtin_error',
  ) {
    super(message);
    this.name = 'BuiltinError';
  }
}

function typeText(t: ArgType): string {
  if (typeof t === 'string') return t;
  return t.length === 1 ? String(t[0]) : `one of {${t.join(', ')}}`;
}

/** `operand <pos> must be <expected> but got <actual type>` as an eval_type_error (pos is 1-based). */
export function typeError(pos: number, got: Value, expected: ArgType): BuiltinError {
  return new BuiltinError(
    `operand ${pos} must be ${typeText(expected)} but got ${typeName(got)}`,
    'eval_type_error',
  );
}

export function matchesType(v: Value, t: ArgType): boolean {
  if (t === 'any') return true;
  if (typeof t === 'string') return typeName(v) === t;
  const n = typeName(v);
  for (const x of t) if (x === 'any' || x === n) return true;
  return false;
}

/** Check args against declared types; throws the eval_type_error OPA would. */
export function checkArgs(def: BuiltinDef, args: readonly Value[]): void {
  for (let i = 0; i < def.args.length; i++) {
    const t = def.args[i]!;
    if (t !== 'any' && !matchesType(args[i]!, t)) throw typeError(i + 1, args[i]!, t);
  }
}

export function expectString(v: Value, pos: number): string {
  if (typeof v !== 'string') throw typeError(pos, v, 'string');
  return v;
}

export class BuiltinRegistry {
  private readonly defs = new Map<string, BuiltinDef>();

  register(def: BuiltinDef): void {
    if (this.defs.has(def.name)) throw new Error(`builtin ${def.name} registered twice`);
    this.defs.set(def.name, def);
    for (const a of def.aliases ?? []) {
      if (this.defs.has(a)) throw new Error(`builtin ${a} registered twice`);
      this.defs.set(a, def);
    }
  }

  /** Replace or add (used by embedders, e.g. tests registering a custom builtin). */
  override(def: BuiltinDef): void {
    this.defs.set(def.name, def);
  }

  /** Remove a builtin (e.g. to withhold one from policy). */
  remove(name: string): void {
    this.defs.delete(name);
  }

  get(name: string): BuiltinDef | undefined {
    return this.defs.get(name);
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  names(): string[] {
    return [...this.defs.keys()].sort();
  }
}
