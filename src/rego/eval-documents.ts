/**
 * References and documents: navigating `input` and `data` (the rule tree over the base documents, enumerating
 * unbound path variables), and the value of the rules at a node: complete rules (with `else` and `default`),
 * partial sets, ref-head rules building objects, conflicts, per-context caching, provenance of the deciding rules.
 */
import type { CRule, CTerm } from './ir.js';
import type { RuleNode } from './ir.js';
import { forEachEntry, getChild } from './eval-values.js';
import * as state from './eval-state.js';
import { NO_LOC, firstLoc, mergeBaseFirst } from './eval-state.js';
import type { Ctx, Frame, VK } from './eval-state.js';
import { TermEvaluator } from './eval-terms.js';
import type { Location } from './errors.js';
import { ObjectValue, SetValue, equal } from './value.js';
import type { Value } from './value.js';

// Module-local copies of the rule cache markers: reading an imported binding on this hot path cost about 2% of a
// decision (bench:rego).
const IN_PROGRESS: typeof state.IN_PROGRESS = state.IN_PROGRESS;
const UNDEF: typeof state.UNDEF = state.UNDEF;

export abstract class DocumentEvaluator extends TermEvaluator {
  /** Call a user function with evaluated arguments. */
  protected abstract callUser(node: RuleNode, args: Value[], loc: Location): Value | undefined;

  // --- references --------------------------------------------------------------------------------------------------

  protected evalRef(t: CTerm & { k: 'ref' }, f: Frame, vk: VK): boolean {
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
  protected nav(v: Value, path: readonly CTerm[], i: number, f: Frame, vk: VK, store = false): boolean {
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
    if (this.evaluable(p, f)) {
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
  protected evalData(
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
    if (this.evaluable(p, f))
      return this.evalTerm(p, f, (key) => this.dataStep(node, base, path, i, f, vk, key));
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

  protected dataStep(
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
  protected fullValue(node: RuleNode, base: Value | undefined): Value | undefined {
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

  protected nodeValue(node: RuleNode, ctx: Ctx): Value | undefined {
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

  protected record(r: CRule): void {
    if (!this.provenance) return;
    const path = r.node.path.join('.');
    let l = this.provenance.get(path);
    if (!l) this.provenance.set(path, (l = []));
    if (!l.some((x) => x.row === r.loc.row && x.file === r.loc.file && x.col === r.loc.col))
      l.push({ path, file: r.loc.file, row: r.loc.row, col: r.loc.col });
  }

  protected evalComplete(node: RuleNode): Value | undefined {
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
  protected evalRuleChain(r: CRule, conflictMsg: string): Value | undefined {
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

  protected evalMulti(node: RuleNode): Value {
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

  protected evalDyn(node: RuleNode): Value {
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
}
