/**
 * Top-down evaluator with backtracking, in continuation-passing style. Each evaluation step calls its continuation
 * once per solution; a continuation returns `true` to stop the search (used by negation, `every`, constant rules).
 * Variables live in frames (arrays indexed by slot); bindings are undone when the continuation returns.
 */
import type { BuiltinContext, BuiltinDef } from './builtins/registry.js';
import { BuiltinError, checkArgs } from './builtins/registry.js';
import { RegoError } from './errors.js';
import type { Location, RegoErrorCode } from './errors.js';
import type { CExpr, CRule, CTerm, CWith, FnRef } from './ir.js';
import type { RuleNode } from './ir.js';
import { forEachEntry, getChild, isCollection, setPath, walkValue } from './eval-values.js';
import { ObjectValue, SetValue, compare, equal, toRegoText } from './value.js';
import type { Value } from './value.js';

type K = () => boolean;
type VK = (v: Value) => boolean;
type Frame = (Value | undefined)[];

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

const IN_PROGRESS = Symbol('in-progress');
const UNDEF = Symbol('undefined');
type CacheEntry = Value | typeof IN_PROGRESS | typeof UNDEF;

type FnOverride = { fn: FnRef } | { value: Value };

interface Ctx {
  input: Value | undefined;
  base: Value;
  nodeOverrides: Map<RuleNode, Value> | undefined;
  fnOverrides: Map<string, FnOverride> | undefined;
  cache: Map<RuleNode, CacheEntry>;
}

class MultiValues {
  constructor(readonly values: Value[]) {}
}

class Halt extends Error {
  constructor(readonly err: RegoError) {
    super(err.message);
  }
}

export class Evaluator implements BuiltinContext {
  name = '';
  readonly strict: boolean;
  readonly cache = new Map<string, unknown>();
  readonly sharedCache: Map<string, unknown>;
  private ctx: Ctx;
  private depth = 0;
  private steps = 0;
  private readonly deadline: number;
  private readonly maxDepth: number;
  private now: bigint | undefined;
  readonly provenance: Map<string, ProvenanceEntry[]> | undefined;
  /** Values of top-level query expressions for the current solution, by expression index. */
  exprValues: Value[] = [];

  constructor(
    private readonly root: RuleNode,
    base: Value,
    input: Value | undefined,
    private readonly opts: EvalOptions,
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

  // --- entry points ------------------------------------------------------------------------------------------------

  /** Run a compiled body; `onSolution` is called for each solution with the frame. Errors are thrown. */
  run(body: CExpr[], nslots: number, onSolution: (f: Frame) => boolean | void): void {
    const f: Frame = new Array<Value | undefined>(nslots);
    try {
      this.evalBody(body, 0, f, () => onSolution(f) === true);
    } catch (e) {
      throw translate(e);
    }
  }

  evalTermAll(t: CTerm, nslots: number): Value[] {
    const out: Value[] = [];
    const f: Frame = new Array<Value | undefined>(nslots);
    try {
      this.evalTerm(t, f, (v) => {
        out.push(v);
        return false;
      });
    } catch (e) {
      throw translate(e);
    }
    return out;
  }

  /** Value of the document at a data path (rules evaluated), or undefined. */
  evalDataPath(path: readonly string[]): Value | undefined {
    let out: Value | undefined;
    const terms: CTerm[] = path.map((s) => ({ k: 'const', v: s, loc: NO_LOC, needs: [] }));
    try {
      this.evalData(this.root, this.ctx.base, terms, 0, [], (v) => {
        out = v;
        return true;
      });
    } catch (e) {
      throw translate(e);
    }
    return out;
  }

  // --- errors ------------------------------------------------------------------------------------------------------

  private fail(code: RegoErrorCode, msg: string, loc: Location | undefined): never {
    throw new Halt(new RegoError(code, msg, loc));
  }

  private tick(loc: Location): void {
    if ((++this.steps & 1023) === 0 && Date.now() > this.deadline)
      this.fail('eval_cancel_error', 'evaluation timed out', loc);
  }

  // --- bodies and expressions ----------------------------------------------------------------------------------------

  evalBody(body: readonly CExpr[], i: number, f: Frame, k: K): boolean {
    if (i === body.length) return k();
    const e = body[i]!;
    if (i === body.length - 1) return this.evalExpr(e, f, k);
    return this.evalExpr(e, f, () => this.evalBody(body, i + 1, f, k));
  }

  private evalExpr(e: CExpr, f: Frame, k: K): boolean {
    this.tick(e.loc);
    if (e.withs !== undefined) return this.evalWith(e, e.withs, f, k);
    return this.evalExprNoWith(e, f, k);
  }

  private evalExprNoWith(e: CExpr, f: Frame, k: K): boolean {
    if (e.neg) {
      const found = this.evalExprPos(e, f, () => true);
      if (found) return false;
      if (e.q) this.exprValues[e.idx] = true;
      return k();
    }
    return this.evalExprPos(e, f, k);
  }

  private evalExprPos(e: CExpr, f: Frame, k: K): boolean {
    switch (e.k) {
      case 'term':
        return this.evalTerm(e.t, f, (v) => {
          // top-level query terms that are not calls are captured like OPA does (`data.x.allow` may be false)
          if (v === false && !(e.q && e.t.k !== 'call')) return false;
          if (e.q) this.exprValues[e.idx] = v;
          return k();
        });
      case 'unify':
        if (e.q) this.exprValues[e.idx] = true;
        return this.unify(e.a, e.b, f, k);
      case 'nop':
        if (e.q) this.exprValues[e.idx] = true;
        return k();
      case 'somein':
        if (e.q) this.exprValues[e.idx] = true;
        return this.evalTerm(e.coll, f, (c) =>
          forEachEntry(c, (key, val) => {
            if (e.key) return this.unifyValue(e.key, key, f, () => this.unifyValue(e.val, val, f, k));
            return this.unifyValue(e.val, val, f, k);
          }),
        );
      case 'every':
        if (e.q) this.exprValues[e.idx] = true;
        return this.evalTerm(e.domain, f, (d) => {
          if (!isCollection(d)) return false;
          let ok = true;
          forEachEntry(d, (key, val) => {
            const good = e.key
              ? this.unifyValue(e.key, key, f, () => this.bodyHolds(e, val, f))
              : this.bodyHolds(e, val, f);
            if (!good) {
              ok = false;
              return true;
            }
            return false;
          });
          return ok ? k() : false;
        });
    }
  }

  private bodyHolds(e: CExpr & { k: 'every' }, val: Value, f: Frame): boolean {
    return this.unifyValue(e.val, val, f, () => this.evalBody(e.body, 0, f, () => true));
  }

  private evalWith(e: CExpr, withs: CWith[], f: Frame, k: K): boolean {
    // evaluate the replacement values (first value of each)
    const vals: (Value | undefined)[] = [];
    for (const w of withs) {
      if (w.fn) {
        vals.push(null);
        continue;
      }
      let v: Value | undefined;
      this.evalTerm(w.value, f, (x) => {
        v = x;
        return true;
      });
      if (v === undefined) return false;
      vals.push(v);
    }
    const old = this.ctx;
    const next: Ctx = {
      input: old.input,
      base: old.base,
      nodeOverrides: old.nodeOverrides ? new Map(old.nodeOverrides) : undefined,
      fnOverrides: old.fnOverrides ? new Map(old.fnOverrides) : undefined,
      cache: new Map(),
    };
    withs.forEach((w, i) => {
      const v = vals[i]!;
      const t = w.target;
      if (t.kind === 'input') next.input = t.path.length ? setPath(next.input, t.path, v) : v;
      else if (t.kind === 'data') {
        next.base = setPath(next.base, t.path, v);
        let n: RuleNode | undefined = this.root;
        for (const s of t.path) {
          n = n.children.get(s);
          if (!n) break;
        }
        if (n) (next.nodeOverrides ??= new Map()).set(n, v);
        // an override above or at a rule node replaces the rules below it; overrides inside a rule's value patch it
        if (!n) {
          let m: RuleNode = this.root;
          let i2 = 0;
          for (; i2 < t.path.length; i2++) {
            const c = m.children.get(t.path[i2]!);
            if (!c) break;
            m = c;
            if (m.hasRules) break;
          }
          if (m.hasRules && i2 < t.path.length) {
            // patch the rule's value lazily: record as an override of the computed value
            const cur = this.nodeValue(m, old);
            if (cur !== undefined) next.nodeOverrides!.set(m, setPath(cur, t.path.slice(i2 + 1), v));
          }
        }
      } else {
        (next.fnOverrides ??= new Map()).set(t.key, w.fn ? { fn: w.fn } : { value: v });
      }
    });
    this.ctx = next;
    try {
      return this.evalExprNoWith(e, f, () => {
        this.ctx = old;
        try {
          return k();
        } finally {
          this.ctx = next;
        }
      });
    } finally {
      this.ctx = old;
    }
  }

  // --- unification -----------------------------------------------------------------------------------------------

  private unify(a: CTerm, b: CTerm, f: Frame, k: K): boolean {
    if (a.k === 'var' && f[a.slot] === undefined)
      return this.evalTerm(b, f, (v) => this.bind(a.slot, v, f, k));
    if (b.k === 'var' && f[b.slot] === undefined)
      return this.evalTerm(a, f, (v) => this.bind(b.slot, v, f, k));
    if (evaluable(a, f)) return this.evalTerm(a, f, (v) => this.unifyValue(b, v, f, k));
    if (evaluable(b, f)) return this.evalTerm(b, f, (v) => this.unifyValue(a, v, f, k));
    if (a.k === 'array' && b.k === 'array') {
      if (a.items.length !== b.items.length) return false;
      return this.unifyPairs(a.items, b.items, f, k);
    }
    if (a.k === 'object' && b.k === 'object') {
      if (a.items.length !== b.items.length) return false;
      // keys must be ground; match them up
      const pa: CTerm[] = [];
      const pb: CTerm[] = [];
      for (const [ka, va] of a.items) {
        if (ka.k !== 'const') return false;
        const m = b.items.find(([kb]) => kb.k === 'const' && equal(kb.v, ka.v));
        if (!m) return false;
        pa.push(va);
        pb.push(m[1]);
      }
      return this.unifyPairs(pa, pb, f, k);
    }
    return this.fail('eval_internal_error', 'cannot unify: unsafe variables', a.loc);
  }

  private unifyPairs(as: CTerm[], bs: CTerm[], f: Frame, k: K): boolean {
    // pick a pair that can be unified now; repeat
    const n = as.length;
    const done = new Array<boolean>(n).fill(false);
    const step = (left: number): boolean => {
      if (left === 0) return k();
      for (let i = 0; i < n; i++) {
        if (done[i]) continue;
        const a = as[i]!;
        const b = bs[i]!;
        if (
          evaluable(a, f) ||
          evaluable(b, f) ||
          (a.k === 'var' && f[a.slot] === undefined) ||
          (b.k === 'var' && f[b.slot] === undefined)
        ) {
          done[i] = true;
          const r = this.unify(a, b, f, () => step(left - 1));
          done[i] = false;
          return r;
        }
      }
      for (let i = 0; i < n; i++) {
        if (done[i]) continue;
        done[i] = true;
        const r = this.unify(as[i]!, bs[i]!, f, () => step(left - 1));
        done[i] = false;
        return r;
      }
      return k();
    };
    return step(n);
  }

  private bind(slot: number, v: Value, f: Frame, k: K): boolean {
    const cur = f[slot];
    if (cur !== undefined) return equal(cur, v) ? k() : false;
    f[slot] = v;
    try {
      return k();
    } finally {
      f[slot] = undefined;
    }
  }

  /** Unify a (pattern) term with a value. */
  private unifyValue(p: CTerm, v: Value, f: Frame, k: K): boolean {
    if (p.k === 'var') return this.bind(p.slot, v, f, k);
    if (p.k === 'const') return equal(p.v, v) ? k() : false;
    if (p.k === 'array') {
      if (!Array.isArray(v)) return false;
      const arr = v as readonly Value[];
      if (arr.length !== p.items.length) return false;
      return this.unifyArrayFrom(p.items, arr, 0, f, k);
    }
    if (p.k === 'object') {
      if (!(v instanceof ObjectValue) || v.size !== p.items.length) return false;
      return this.unifyObjectFrom(p.items, v, 0, f, k);
    }
    return this.evalTerm(p, f, (pv) => (equal(pv, v) ? k() : false));
  }

  private unifyArrayFrom(items: readonly CTerm[], arr: readonly Value[], i: number, f: Frame, k: K): boolean {
    if (i === items.length) return k();
    return this.unifyValue(items[i]!, arr[i]!, f, () => this.unifyArrayFrom(items, arr, i + 1, f, k));
  }

  private unifyObjectFrom(
    items: readonly [CTerm, CTerm][],
    v: ObjectValue,
    i: number,
    f: Frame,
    k: K,
  ): boolean {
    if (i === items.length) return k();
    const [kt, vt] = items[i]!;
    return this.evalTerm(kt, f, (kv) => {
      const x = v.get(kv);
      if (x === undefined) return false;
      return this.unifyValue(vt, x, f, () => this.unifyObjectFrom(items, v, i + 1, f, k));
    });
  }

  // --- terms -------------------------------------------------------------------------------------------------------

  evalTerm(t: CTerm, f: Frame, vk: VK): boolean {
    switch (t.k) {
      case 'const':
        return vk(t.v);
      case 'var': {
        const v = f[t.slot];
        if (v === undefined) return this.fail('eval_internal_error', `var ${t.name} is unbound`, t.loc);
        return vk(v);
      }
      case 'input':
        return this.ctx.input === undefined ? false : vk(this.ctx.input);
      case 'data':
        return this.evalData(this.root, this.ctx.base, [], 0, f, vk);
      case 'ref':
        return this.evalRef(t, f, vk);
      case 'array':
        return this.evalList(t.items, f, (vals) => vk(vals));
      case 'set':
        return this.evalList(t.items, f, (vals) => vk(SetValue.of(vals)));
      case 'object': {
        const flat: CTerm[] = [];
        for (const [a, b] of t.items) flat.push(a, b);
        return this.evalList(flat, f, (vals) => {
          const o = new ObjectValue();
          for (let i = 0; i < vals.length; i += 2) o.set(vals[i]!, vals[i + 1]!);
          return vk(o);
        });
      }
      case 'call':
        return this.evalCall(t, f, vk);
      case 'arraycomp': {
        const out: Value[] = [];
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.term, f, (v) => {
            out.push(v);
            return false;
          }),
        );
        return vk(out);
      }
      case 'setcomp': {
        const out = new SetValue();
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.term, f, (v) => {
            out.add(v);
            return false;
          }),
        );
        return vk(out);
      }
      case 'objcomp': {
        const out = new ObjectValue();
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.key, f, (kv) =>
            this.evalTerm(t.value, f, (vv) => {
              const cur = out.get(kv);
              if (cur !== undefined && !equal(cur, vv))
                this.fail('eval_conflict_error', 'object keys must be unique', t.loc);
              out.set(kv, vv);
              return false;
            }),
          ),
        );
        return vk(out);
      }
      case 'template': {
        let s = '';
        for (const p of t.parts) {
          if (typeof p === 'string') {
            s += p;
            continue;
          }
          let vals: Value[] = [];
          this.evalTerm(p, f, (v) => {
            vals.push(v);
            return false;
          });
          if (p.k === 'arraycomp' && p.unwrap && vals.length === 1) vals = [...(vals[0] as Value[])];
          if (vals.length === 0) s += '<undefined>';
          else if (vals.length > 1)
            this.fail('eval_conflict_error', 'template expression produced multiple outputs', p.loc);
          else s += typeof vals[0] === 'string' ? vals[0] : toRegoText(vals[0]!);
        }
        return vk(s);
      }
    }
  }

  private evalList(items: readonly CTerm[], f: Frame, k: (vals: Value[]) => boolean): boolean {
    const n = items.length;
    // fast path: no enumeration possible
    let simple = true;
    for (let i = 0; i < n; i++) {
      const t = items[i]!;
      if (t.k !== 'const' && t.k !== 'var') {
        simple = false;
        break;
      }
    }
    if (simple) {
      const vals = new Array<Value>(n);
      for (let i = 0; i < n; i++) {
        const t = items[i]!;
        if (t.k === 'const') vals[i] = t.v;
        else {
          const v = f[(t as { slot: number }).slot];
          if (v === undefined)
            return this.fail('eval_internal_error', `var ${(t as { name: string }).name} is unbound`, t.loc);
          vals[i] = v;
        }
      }
      return k(vals);
    }
    const vals = new Array<Value>(n);
    // plain variables last: a ref argument may bind them (`x == xs[x]`)
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (items[i]!.k !== 'var') order.push(i);
    for (let i = 0; i < n; i++) if (items[i]!.k === 'var') order.push(i);
    return this.evalListFrom(items, order, vals, 0, f, k);
  }

  private evalListFrom(
    items: readonly CTerm[],
    order: readonly number[],
    vals: Value[],
    j: number,
    f: Frame,
    k: (vals: Value[]) => boolean,
  ): boolean {
    if (j === order.length) return k(vals.slice());
    const i = order[j]!;
    return this.evalTerm(items[i]!, f, (v) => {
      vals[i] = v;
      return this.evalListFrom(items, order, vals, j + 1, f, k);
    });
  }

  // --- references --------------------------------------------------------------------------------------------------

  private evalRef(t: CTerm & { k: 'ref' }, f: Frame, vk: VK): boolean {
    const h = t.head;
    if (h.k === 'data') {
      const st = t.start;
      if (st !== undefined && this.ctx.nodeOverrides === undefined) {
        let base: Value | undefined = this.ctx.base;
        const bp = st.basePath;
        for (let i = 0; i < bp.length && base !== undefined; i++)
          base = base instanceof ObjectValue ? base.getStr(bp[i]!) : undefined;
        return this.evalData(st.node, base, t.path, st.i, f, vk);
      }
      return this.evalData(this.root, this.ctx.base, t.path, 0, f, vk);
    }
    if (h.k === 'input')
      return this.ctx.input === undefined ? false : this.nav(this.ctx.input, t.path, 0, f, vk);
    if (h.k === 'var') {
      const v = f[h.slot];
      if (v === undefined) return this.fail('eval_internal_error', `var ${h.name} is unbound`, h.loc);
      return this.nav(v, t.path, 0, f, vk);
    }
    return this.evalTerm(h, f, (v) => this.nav(v, t.path, 0, f, vk));
  }

  /** Navigate a plain value along path[i..], enumerating unbound variables. */
  private nav(v: Value, path: readonly CTerm[], i: number, f: Frame, vk: VK, store = false): boolean {
    if (i === path.length) return vk(v);
    const p = path[i]!;
    if (p.k === 'const') {
      let c = getChild(v, p.v);
      // base documents (the store) have string keys only: data.x[2] reads key "2" like OPA
      if (c === undefined && store && typeof p.v === 'number' && v instanceof ObjectValue)
        c = v.getStr(String(p.v));
      return c === undefined ? false : this.nav(c, path, i + 1, f, vk, store);
    }
    if (p.k === 'var') {
      const bound = f[p.slot];
      if (bound !== undefined) {
        const c = getChild(v, bound);
        return c === undefined ? false : this.nav(c, path, i + 1, f, vk);
      }
      const slot = p.slot;
      return forEachEntry(v, (key, child) => {
        f[slot] = key;
        try {
          return this.nav(child, path, i + 1, f, vk);
        } finally {
          f[slot] = undefined;
        }
      });
    }
    if (evaluable(p, f)) {
      return this.evalTerm(p, f, (key) => {
        const c = getChild(v, key);
        return c === undefined ? false : this.nav(c, path, i + 1, f, vk);
      });
    }
    return forEachEntry(v, (key, child) =>
      this.unifyValue(p, key, f, () => this.nav(child, path, i + 1, f, vk)),
    );
  }

  /** Navigate the data document: rule tree + base documents. */
  private evalData(
    node: RuleNode,
    base: Value | undefined,
    path: readonly CTerm[],
    i: number,
    f: Frame,
    vk: VK,
  ): boolean {
    const ctx = this.ctx;
    if (ctx.nodeOverrides !== undefined) {
      const ov = ctx.nodeOverrides.get(node);
      if (ov !== undefined) return this.nav(ov, path, i, f, vk);
    }
    if (node.hasRules) {
      // a zero-argument function named without parentheses is its value, like OPA (`f() := 1` then `f`)
      const v = node.arity === 0 ? this.callUser(node, [], firstLoc(node)) : this.nodeValue(node, ctx);
      return v === undefined ? false : this.nav(v, path, i, f, vk);
    }
    if (i === path.length) {
      const v = this.fullValue(node, base);
      return v === undefined ? false : vk(v);
    }
    if (node.children.size === 0) return base === undefined ? false : this.nav(base, path, i, f, vk, true);
    const p = path[i]!;
    if (p.k === 'const') return this.dataStep(node, base, path, i, f, vk, p.v);
    if (evaluable(p, f)) return this.evalTerm(p, f, (key) => this.dataStep(node, base, path, i, f, vk, key));
    // enumerate keys: children and base keys
    const keys = new Set<string>();
    const all: Value[] = [];
    for (const name of node.children.keys()) {
      keys.add(name);
      all.push(name);
    }
    if (base instanceof ObjectValue)
      for (const [k2] of base.entries()) if (typeof k2 !== 'string' || !keys.has(k2)) all.push(k2);
    for (const key of all)
      if (this.unifyValue(p, key, f, () => this.dataStep(node, base, path, i, f, vk, key))) return true;
    return false;
  }

  private dataStep(
    node: RuleNode,
    base: Value | undefined,
    path: readonly CTerm[],
    i: number,
    f: Frame,
    vk: VK,
    key: Value,
  ): boolean {
    if (typeof key === 'string') {
      const c = node.children.get(key);
      if (c !== undefined)
        return this.evalData(
          c,
          base instanceof ObjectValue ? base.getStr(key) : undefined,
          path,
          i + 1,
          f,
          vk,
        );
    }
    if (base === undefined) return false;
    let child = getChild(base, key);
    if (child === undefined && typeof key === 'number' && base instanceof ObjectValue)
      child = base.getStr(String(key));
    return child === undefined ? false : this.nav(child, path, i + 1, f, vk, true);
  }

  /** The full value of a node: rules evaluated, merged with base data. */
  private fullValue(node: RuleNode, base: Value | undefined): Value | undefined {
    const ov = this.ctx.nodeOverrides?.get(node);
    if (ov !== undefined) return ov;
    if (node.hasRules) return this.nodeValue(node, this.ctx);
    if (node.children.size === 0) return base ?? new ObjectValue();
    const obj = base instanceof ObjectValue ? base.clone() : new ObjectValue();
    for (const [name, c] of node.children) {
      const b = base instanceof ObjectValue ? base.getStr(name) : undefined;
      const cv = this.fullValue(c, b);
      // a rule and base data at the same path: objects merge, otherwise the base document wins (like OPA)
      if (cv !== undefined) obj.set(name, c.hasRules && b !== undefined ? mergeBaseFirst(b, cv) : cv);
    }
    return obj;
  }

  // --- rules -------------------------------------------------------------------------------------------------------

  private nodeValue(node: RuleNode, ctx: Ctx): Value | undefined {
    if (node.constant !== undefined && this.provenance === undefined) return node.constant;
    const cached = ctx.cache.get(node);
    if (cached !== undefined) {
      if (cached === UNDEF) return undefined;
      if (cached === IN_PROGRESS)
        this.fail('rego_recursion_error', `rule data.${node.path.join('.')} is recursive`, firstLoc(node));
      return cached;
    }
    if (node.arity >= 0) return undefined;
    ctx.cache.set(node, IN_PROGRESS);
    if (++this.depth > this.maxDepth)
      this.fail('eval_limit_error', 'maximum evaluation depth exceeded', firstLoc(node));
    let v: Value | undefined;
    try {
      if (node.multi.length) v = this.evalMulti(node);
      else if (node.dyn.length) v = this.evalDyn(node);
      else v = this.evalComplete(node);
    } catch (e) {
      ctx.cache.delete(node);
      throw e;
    } finally {
      this.depth--;
    }
    ctx.cache.set(node, v === undefined ? UNDEF : v);
    return v;
  }

  private record(r: CRule): void {
    if (!this.provenance) return;
    const path = r.node.path.join('.');
    let l = this.provenance.get(path);
    if (!l) this.provenance.set(path, (l = []));
    if (!l.some((x) => x.row === r.loc.row && x.file === r.loc.file && x.col === r.loc.col))
      l.push({ path, file: r.loc.file, row: r.loc.row, col: r.loc.col });
  }

  private evalComplete(node: RuleNode): Value | undefined {
    let result: Value | undefined;
    for (const r of node.complete) {
      if (
        result !== undefined &&
        r.constValue !== undefined &&
        r.else === undefined &&
        equal(result, r.constValue)
      )
        continue;
      const v = this.evalRuleChain(r, 'complete rules must not produce multiple outputs');
      if (v === undefined) continue;
      if (result !== undefined && !equal(result, v))
        this.fail('eval_conflict_error', 'complete rules must not produce multiple outputs', r.loc);
      result = v;
    }
    if (result === undefined && node.defaultRule) {
      const d = node.defaultRule;
      const f: Frame = new Array<Value | undefined>(d.nslots);
      this.evalTerm(d.value, f, (v) => {
        result = v;
        return true;
      });
      if (result !== undefined) this.record(d);
    }
    return result;
  }

  /** Value of a rule (following its else chain); conflicts within one rule raise `conflictMsg`. */
  private evalRuleChain(r: CRule, conflictMsg: string): Value | undefined {
    for (let cur: CRule | undefined = r; cur; cur = cur.else) {
      const rule = cur;
      const f: Frame = new Array<Value | undefined>(rule.nslots);
      let val: Value | undefined;
      this.evalBody(rule.body, 0, f, () =>
        this.evalTerm(rule.value, f, (v) => {
          if (val !== undefined && !equal(val, v)) this.fail('eval_conflict_error', conflictMsg, rule.loc);
          val = v;
          return rule.constValue !== undefined;
        }),
      );
      if (val !== undefined) {
        this.record(rule);
        return val;
      }
    }
    return undefined;
  }

  private evalMulti(node: RuleNode): Value {
    const out = new SetValue();
    for (const r of node.multi) {
      const f: Frame = new Array<Value | undefined>(r.nslots);
      let any = false;
      this.evalBody(r.body, 0, f, () =>
        this.evalTerm(r.key!, f, (v) => {
          out.add(v);
          any = true;
          return false;
        }),
      );
      if (any) this.record(r);
    }
    return out;
  }

  private evalDyn(node: RuleNode): Value {
    const out = new ObjectValue();
    const owned = new WeakSet<ObjectValue>([out]);
    const ownedSets = new WeakSet<SetValue>();
    const insert = (keys: readonly Value[], v: Value, loc: Location): void => {
      let o = out;
      for (let i = 0; i < keys.length - 1; i++) {
        const key = keys[i]!;
        const cur = o.get(key);
        if (cur === undefined) {
          const n = new ObjectValue();
          owned.add(n);
          o.set(key, n);
          o = n;
        } else if (cur instanceof ObjectValue && owned.has(cur)) o = cur;
        else this.fail('eval_conflict_error', 'object keys must be unique', loc);
      }
      const last = keys[keys.length - 1]!;
      const cur = o.get(last);
      if (cur !== undefined) {
        if (equal(cur, v)) return;
        if (cur instanceof SetValue && v instanceof SetValue && ownedSets.has(cur)) {
          for (const x of v.values()) cur.add(x);
          return;
        }
        this.fail('eval_conflict_error', 'object keys must be unique', loc);
      }
      if (v instanceof SetValue) {
        const own = v.clone();
        ownedSets.add(own);
        o.set(last, own);
        return;
      }
      o.set(last, v);
    };
    for (const r of node.dyn) {
      const f: Frame = new Array<Value | undefined>(r.nslots);
      let any = false;
      this.evalBody(r.body, 0, f, () =>
        this.evalList(r.keyPath, f, (keys) => {
          if (r.key !== undefined) {
            // multi-value rule with a ref head: p[q] contains r
            return this.evalTerm(r.key, f, (v) => {
              insert(keys, SetValue.of([v]), r.loc);
              any = true;
              return false;
            });
          }
          return this.evalTerm(r.value, f, (v) => {
            insert(keys, v, r.loc);
            any = true;
            return false;
          });
        }),
      );
      if (any) this.record(r);
    }
    // fixed-path rules below this node
    const walk = (n: RuleNode, prefix: string[]): void => {
      for (const [name, c] of n.children) {
        const p = [...prefix, name];
        if (c.hasRules) {
          const v = this.nodeValue(c, this.ctx);
          if (v !== undefined) insert(p, v, firstLoc(c) ?? NO_LOC);
        } else walk(c, p);
      }
    };
    walk(node, []);
    return out;
  }

  // --- calls -------------------------------------------------------------------------------------------------------

  private evalCall(t: CTerm & { k: 'call' }, f: Frame, vk: VK): boolean {
    const fn = t.fn;
    const ov = this.ctx.fnOverrides?.get(fn.name);
    if (ov !== undefined) {
      if ('value' in ov) return this.evalList(t.args, f, () => vk(ov.value));
      // the mock runs with mocks disabled (a mock may call the original function)
      const mock = ov.fn;
      return this.evalList(t.args, f, (args) => {
        const outer = this.ctx;
        this.ctx = { ...outer, fnOverrides: undefined, cache: new Map() };
        let r: Value | typeof UNDEF | MultiValues;
        try {
          r = this.callFn(mock, args, t.loc);
        } finally {
          this.ctx = outer;
        }
        if (r === UNDEF) return false;
        if (r instanceof MultiValues) return r.values.some((v) => vk(v));
        return vk(r);
      });
    }
    switch (fn.kind) {
      case 'print':
        return this.evalPrint(t, f, vk);
      case 'walk':
        return this.evalList(t.args, f, (args) => walkValue(args[0]!, [], vk));
      case 'builtin': {
        const def = fn.def;
        const native = fn.native;
        if (native !== undefined) {
          const [a0, b0] = t.args as [CTerm, CTerm];
          const swap = a0.k === 'var' && b0.k !== 'var';
          const a = swap ? b0 : a0;
          const b = swap ? a0 : b0;
          return this.evalTerm(a, f, (x0) =>
            this.evalTerm(b, f, (y0) => {
              const x = swap ? y0 : x0;
              const y = swap ? x0 : y0;
              let r: boolean;
              switch (native) {
                case 'equal':
                  r = equal(x, y);
                  break;
                case 'neq':
                  r = !equal(x, y);
                  break;
                case 'lt':
                  r = compare(x, y) < 0;
                  break;
                case 'lte':
                  r = compare(x, y) <= 0;
                  break;
                case 'gt':
                  r = compare(x, y) > 0;
                  break;
                case 'gte':
                  r = compare(x, y) >= 0;
                  break;
              }
              return vk(r);
            }),
          );
        }
        return this.evalList(t.args, f, (args) => {
          const r = this.callBuiltin(def, fn.name, args, t.loc);
          return r === undefined ? false : vk(r);
        });
      }
      case 'user': {
        const node = fn.node;
        return this.evalList(t.args, f, (args) => {
          const r = this.callUser(node, args, t.loc);
          return r === undefined ? false : vk(r);
        });
      }
    }
  }

  /** Call a function with evaluated arguments (walk may produce several values). */
  private callFn(fn: FnRef, args: Value[], loc: Location): Value | typeof UNDEF | MultiValues {
    switch (fn.kind) {
      case 'print':
        return true;
      case 'walk': {
        const out: Value[] = [];
        walkValue(args[0]!, [], (v) => {
          out.push(v);
          return false;
        });
        return new MultiValues(out);
      }
      case 'builtin':
        return this.callBuiltin(fn.def, fn.name, args, loc) ?? UNDEF;
      case 'user':
        return this.callUser(fn.node, args, loc) ?? UNDEF;
    }
  }

  callBuiltin(def: BuiltinDef, name: string, args: readonly Value[], loc: Location): Value | undefined {
    try {
      if (def.checkTypes !== false && args.length === def.args.length) checkArgs(def, args);
      this.name = name;
      return def.impl(args, this);
    } catch (e) {
      if (e instanceof Halt) throw e;
      if (e instanceof BuiltinError) {
        if (this.strict) this.fail(e.code, `${name}: ${e.message}`, loc);
        return undefined;
      }
      if (e instanceof RegoError) throw new Halt(e);
      if (this.strict)
        this.fail('eval_builtin_error', `${name}: ${e instanceof Error ? e.message : String(e)}`, loc);
      return undefined;
    }
  }

  private callUser(node: RuleNode, args: Value[], loc: Location): Value | undefined {
    if (++this.depth > this.maxDepth) this.fail('eval_limit_error', 'maximum evaluation depth exceeded', loc);
    try {
      let result: Value | undefined;
      for (const r of node.funcs) {
        for (let cur: CRule | undefined = r; cur; cur = cur.else) {
          const rule = cur;
          const f: Frame = new Array<Value | undefined>(rule.nslots);
          let val: Value | undefined;
          const params = rule.args!;
          const step = (i: number): boolean => {
            if (i === params.length)
              return this.evalBody(rule.body, 0, f, () =>
                this.evalTerm(rule.value, f, (v) => {
                  if (val !== undefined && !equal(val, v))
                    this.fail(
                      'eval_conflict_error',
                      'functions must not produce multiple outputs for same inputs',
                      rule.loc,
                    );
                  val = v;
                  return false;
                }),
              );
            return this.unifyValue(params[i]!, args[i]!, f, () => step(i + 1));
          };
          step(0);
          if (val !== undefined) {
            if (result !== undefined && !equal(result, val))
              this.fail(
                'eval_conflict_error',
                'functions must not produce multiple outputs for same inputs',
                rule.loc,
              );
            result = val;
            this.record(rule);
            break;
          }
        }
      }
      if (result === undefined && node.defaultRule) {
        const d = node.defaultRule;
        const f: Frame = new Array<Value | undefined>(d.nslots);
        this.evalTerm(d.value, f, (v) => {
          result = v;
          return true;
        });
      }
      return result;
    } finally {
      this.depth--;
    }
  }

  private evalPrint(t: CTerm & { k: 'call' }, f: Frame, vk: VK): boolean {
    const parts: string[] = [];
    for (const a of t.args) {
      const vals: Value[] = [];
      try {
        this.evalTerm(a, f, (v) => {
          vals.push(v);
          return false;
        });
      } catch (e) {
        if (!(e instanceof Halt)) throw e;
      }
      if (vals.length === 0) parts.push('<undefined>');
      else parts.push(vals.map((v) => (typeof v === 'string' ? v : toRegoText(v))).join(', '));
    }
    this.opts.printHook?.(parts.join(' '), t.loc);
    return vk(true);
  }
}

// --- helpers ---------------------------------------------------------------------------------------------------------

/** Internal control flow and JS stack overflow become RegoErrors. */
function translate(e: unknown): unknown {
  if (e instanceof Halt) return e.err;
  if (e instanceof RangeError && /call stack/i.test(e.message))
    return new RegoError('eval_limit_error', 'maximum evaluation depth exceeded');
  return e;
}

const NO_LOC: Location = { file: '', row: 0, col: 0, offset: 0 };

function firstLoc(n: RuleNode): Location {
  return (n.complete[0] ?? n.multi[0] ?? n.dyn[0] ?? n.funcs[0] ?? n.defaultRule)?.loc ?? NO_LOC;
}

/** Merge a virtual document into the base document at the same path; on a non-object conflict the base wins. */
function mergeBaseFirst(base: Value, virt: Value): Value {
  if (!(base instanceof ObjectValue) || !(virt instanceof ObjectValue)) return base;
  const out = virt.clone();
  for (const [k, v] of base.entries()) {
    const cur = out.get(k);
    out.set(k, cur === undefined ? v : mergeBaseFirst(v, cur));
  }
  return out;
}

function evaluable(t: CTerm, f: Frame): boolean {
  const needs = t.needs;
  for (let i = 0; i < needs.length; i++) if (f[needs[i]!] === undefined) return false;
  return true;
}
