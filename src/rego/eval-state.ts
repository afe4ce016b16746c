/**
 * The evaluator's state and the pieces every layer of it shares: frames (one slot per variable), the context a
 * `with` modifier overlays (input, data, overridden rules and functions, the per-context rule cache), limits
 * (deadline, depth) and internal control flow (Halt carries a RegoError out of the continuations).
 */
import type { BuiltinContext } from './builtins/registry.js';
import { RegoError } from './errors.js';
import type { Location, RegoErrorCode } from './errors.js';
import type { CTerm, FnRef, RuleNode } from './ir.js';
import { ObjectValue } from './value.js';
import type { Value } from './value.js';

/** A continuation: called once per solution; returning true stops the search. */
export type K = () => boolean;
/** A continuation receiving a value. */
export type VK = (v: Value) => boolean;
/** Variable slots of one rule body or query. */
export type Frame = (Value | undefined)[];

export interface EvalLimits {
  /** Abort after this many milliseconds (eval_cancel_error). */
  timeoutMs?: number;
  /** Maximum nesting of rule/function evaluation (eval_limit_error). */
  maxDepth?: number;
}

export interface EvalOptions extends EvalLimits {
  strictBuiltinErrors?: boolean;
  printHook?: (message: string, loc: Location) => void;
  /** Record which rules produced values (see `provenance`). */
  provenance?: boolean;
  /** Shared cache for builtins (lives with the engine). */
  sharedCache?: Map<string, unknown>;
  /** Fixed clock for time.now_ns (nanoseconds). */
  nowNs?: bigint;
}

export interface ProvenanceEntry {
  /** Rule path without `data.`, e.g. `aibox.egress.decision`. */
  path: string;
  file: string;
  row: number;
  col: number;
}

/** Rule cache markers: the rule is being evaluated (a second visit is recursion), or its value is undefined. */
export const IN_PROGRESS = Symbol('in-progress');
export const UNDEF = Symbol('undefined');
export type CacheEntry = Value | typeof IN_PROGRESS | typeof UNDEF;

export type FnOverride = { fn: FnRef } | { value: Value };

/** What `with` can replace; a new one (with an empty rule cache) per `with`. */
export interface Ctx {
  input: Value | undefined;
  base: Value;
  nodeOverrides: Map<RuleNode, Value> | undefined;
  fnOverrides: Map<string, FnOverride> | undefined;
  cache: Map<RuleNode, CacheEntry>;
}

export class Halt extends Error {
  constructor(readonly err: RegoError) {
    super(err.message);
  }
}

export abstract class EvalBase implements BuiltinContext {
  name = '';
  readonly strict: boolean;
  readonly cache = new Map<string, unknown>();
  readonly sharedCache: Map<string, unknown>;
  protected ctx: Ctx;
  protected depth = 0;
  protected steps = 0;
  protected readonly deadline: number;
  protected readonly maxDepth: number;
  protected now: bigint | undefined;
  readonly provenance: Map<string, ProvenanceEntry[]> | undefined;
  /** Values of top-level query expressions for the current solution, by expression index. */
  exprValues: Value[] = [];

  constructor(
    protected readonly root: RuleNode,
    base: Value,
    input: Value | undefined,
    protected readonly opts: EvalOptions,
  ) {
    this.strict = opts.strictBuiltinErrors ?? false;
    this.sharedCache = opts.sharedCache ?? new Map<string, unknown>();
    this.ctx = { input, base, nodeOverrides: undefined, fnOverrides: undefined, cache: new Map() };
    this.deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
    this.maxDepth = opts.maxDepth ?? 1000;
    this.now = opts.nowNs;
    this.provenance = opts.provenance ? new Map() : undefined;
  }

  get nowNs(): bigint {
    if (this.now === undefined) this.now = BigInt(Date.now()) * 1_000_000n;
    return this.now;
  }

  random(): number {
    return Math.random();
  }

  protected fail(code: RegoErrorCode, msg: string, loc: Location | undefined): never {
    throw new Halt(new RegoError(code, msg, loc));
  }

  /** Every slot `t` needs is bound in `f`. */
  protected evaluable(t: CTerm, f: Frame): boolean {
    const needs = t.needs;
    for (let i = 0; i < needs.length; i++) if (f[needs[i]!] === undefined) return false;
    return true;
  }

  protected tick(loc: Location): void {
    if ((++this.steps & 1023) === 0 && Date.now() > this.deadline)
      this.fail('eval_cancel_error', 'evaluation timed out', loc);
  }
}

/** Internal control flow and JS stack overflow become RegoErrors. */
export function translate(e: unknown): unknown {
  if (e instanceof Halt) return e.err;
  if (e instanceof RangeError && /call stack/i.test(e.message))
    return new RegoError('eval_limit_error', 'maximum evaluation depth exceeded');
  return e;
}

export const NO_LOC: Location = { file: '', row: 0, col: 0, offset: 0 };

export function firstLoc(n: RuleNode): Location {
  return (n.complete[0] ?? n.multi[0] ?? n.dyn[0] ?? n.funcs[0] ?? n.defaultRule)?.loc ?? NO_LOC;
}

/** Merge a virtual document into the base document at the same path; on a non-object conflict the base wins. */
export function mergeBaseFirst(base: Value, virt: Value): Value {
  if (!(base instanceof ObjectValue) || !(virt instanceof ObjectValue)) return base;
  const out = virt.clone();
  for (const [k, v] of base.entries()) {
    const cur = out.get(k);
    out.set(k, cur === undefined ? v : mergeBaseFirst(v, cur));
  }
  return out;
}
