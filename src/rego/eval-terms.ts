/**
 * Evaluation of bodies, expressions and terms, in continuation-passing style: negation, `some ... in`, `every`,
 * `with` (a new context for the expression, the old one restored for its continuation), unification (bindings undone
 * when the continuation returns), and terms: collections, comprehensions, template strings. References, rules and
 * calls are the subclasses' (eval-documents.ts, eval-calls.ts).
 */
import type { CExpr, CTerm, CWith, RuleNode } from './ir.js';
import { forEachEntry, isCollection, setPath } from './eval-values.js';
import { EvalBase } from './eval-state.js';
import type { Ctx, Frame, K, VK } from './eval-state.js';
import { ObjectValue, SetValue, equal, toRegoText } from './value.js';
import type { Value } from './value.js';

export abstract class TermEvaluator extends EvalBase {
  /** The value of the rules at a node (cached per context). */
  protected abstract nodeValue(node: RuleNode, ctx: Ctx): Value | undefined;
  /** Navigate the data document (rule tree and base documents) from `node` along path[i..]. */
  protected abstract evalData(
    node: RuleNode,
    base: Value | undefined,
    path: readonly CTerm[],
    i: number,
    f: Frame,
    vk: VK,
  ): boolean;
  protected abstract evalRef(t: CTerm & { k: 'ref' }, f: Frame, vk: VK): boolean;
  protected abstract evalCall(t: CTerm & { k: 'call' }, f: Frame, vk: VK): boolean;

  // --- bodies and expressions ----------------------------------------------------------------------------------------

  evalBody(body: readonly CExpr[], i: number, f: Frame, k: K): boolean {
    if (i === body.length) return k();
    const e = body[i]!;
    if (i === body.length - 1) return this.evalExpr(e, f, k);
    return this.evalExpr(e, f, () => this.evalBody(body, i + 1, f, k));
  }

  protected evalExpr(e: CExpr, f: Frame, k: K): boolean {
    this.tick(e.loc);
    if (e.withs !== undefined) return this.evalWith(e, e.withs, f, k);
    return this.evalExprNoWith(e, f, k);
  }

  protected evalExprNoWith(e: CExpr, f: Frame, k: K): boolean {
    if (e.neg) {
      const found = this.evalExprPos(e, f, () => true);
      if (found) return false;
      if (e.q) this.exprValues[e.idx] = true;
      return k();
    }
    return this.evalExprPos(e, f, k);
  }

  protected evalExprPos(e: CExpr, f: Frame, k: K): boolean {
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

  protected bodyHolds(e: CExpr & { k: 'every' }, val: Value, f: Frame): boolean {
    return this.unifyValue(e.val, val, f, () => this.evalBody(e.body, 0, f, () => true));
  }

  protected evalWith(e: CExpr, withs: CWith[], f: Frame, k: K): boolean {
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

  protected unify(a: CTerm, b: CTerm, f: Frame, k: K): boolean {
    if (a.k === 'var' && f[a.slot] === undefined)
      return this.evalTerm(b, f, (v) => this.bind(a.slot, v, f, k));
    if (b.k === 'var' && f[b.slot] === undefined)
      return this.evalTerm(a, f, (v) => this.bind(b.slot, v, f, k));
    if (this.evaluable(a, f)) return this.evalTerm(a, f, (v) => this.unifyValue(b, v, f, k));
    if (this.evaluable(b, f)) return this.evalTerm(b, f, (v) => this.unifyValue(a, v, f, k));
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

  protected unifyPairs(as: CTerm[], bs: CTerm[], f: Frame, k: K): boolean {
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
          this.evaluable(a, f) ||
          this.evaluable(b, f) ||
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

  protected bind(slot: number, v: Value, f: Frame, k: K): boolean {
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
  protected unifyValue(p: CTerm, v: Value, f: Frame, k: K): boolean {
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

  protected unifyArrayFrom(
    items: readonly CTerm[],
    arr: readonly Value[],
    i: number,
    f: Frame,
    k: K,
  ): boolean {
    if (i === items.length) return k();
    return this.unifyValue(items[i]!, arr[i]!, f, () => this.unifyArrayFrom(items, arr, i + 1, f, k));
  }

  protected unifyObjectFrom(
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

  protected evalList(items: readonly CTerm[], f: Frame, k: (vals: Value[]) => boolean): boolean {
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

  protected evalListFrom(
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
}
