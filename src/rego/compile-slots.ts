/**
 * Compile stage: slot analysis on the IR, used by safety reordering. Which slots a term or expression reads,
 * which it needs bound to evaluate, and whether a unification can run with the slots bound so far.
 */
import type { CExpr, CTerm } from './ir.js';
import { ObjectValue, SetValue } from './value.js';
import type { Value } from './value.js';

/** Every slot referenced by a term (including inside comprehensions). */
export function allSlots(t: CTerm): number[] {
  const out: number[] = [];
  const rec = (x: CTerm): void => {
    switch (x.k) {
      case 'var':
        out.push(x.slot);
        break;
      case 'ref':
        rec(x.head);
        x.path.forEach(rec);
        break;
      case 'array':
      case 'set':
        x.items.forEach(rec);
        break;
      case 'object':
        for (const [a, b] of x.items) {
          rec(a);
          rec(b);
        }
        break;
      case 'call':
        x.args.forEach(rec);
        break;
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp':
        out.push(...x.needs);
        break;
      case 'template':
        for (const p of x.parts) if (typeof p !== 'string') rec(p);
        break;
      case 'const':
      case 'input':
      case 'data':
        break;
    }
  };
  rec(t);
  return out;
}

/** Slots an expression references at its level. With `deep`, includes every-body slots. */
export function exprSlots(e: CExpr, deep = false): number[] {
  const out: number[] = [];
  for (const w of e.withs ?? []) out.push(...allSlots(w.value));
  switch (e.k) {
    case 'term':
      out.push(...allSlots(e.t));
      break;
    case 'unify':
      out.push(...allSlots(e.a), ...allSlots(e.b));
      break;
    case 'somein':
      if (e.key) out.push(...allSlots(e.key));
      out.push(...allSlots(e.val), ...allSlots(e.coll));
      break;
    case 'every':
      out.push(...allSlots(e.domain));
      out.push(...closureNeeds(e));
      if (deep) {
        if (e.key) out.push(...allSlots(e.key));
        out.push(...allSlots(e.val));
        for (const b of e.body) out.push(...exprSlots(b, true));
      }
      break;
    case 'nop':
      break;
  }
  return out;
}

export function closureNeeds(e: CExpr & { k: 'every' }): number[] {
  const own = new Set<number>();
  if (e.key) for (const s of allSlots(e.key)) own.add(s);
  for (const s of allSlots(e.val)) own.add(s);
  const inner = new Set<number>();
  const all: number[] = [];
  for (const b of e.body) all.push(...exprSlots(b, true));
  // slots allocated inside the every body are >= the smallest own slot
  const min = Math.min(...own);
  for (const s of all) if (!own.has(s) && s < min) inner.add(s);
  return [...inner];
}

/** Slots needed to unify a pattern against a value: object keys and non-pattern subterms must be evaluable. */
export function patternNeeds(t: CTerm): number[] {
  if (t.k === 'var') return [];
  if (t.k === 'array') return t.items.flatMap(patternNeeds);
  if (t.k === 'object') return t.items.flatMap(([k, v]) => [...k.needs, ...patternNeeds(v)]);
  return t.needs;
}

export function evaluable(t: CTerm, bound: ReadonlySet<number>): boolean {
  for (const s of t.needs) if (!bound.has(s)) return false;
  return true;
}

export function unifiable(t: CTerm, bound: ReadonlySet<number>): boolean {
  for (const s of patternNeeds(t)) if (!bound.has(s)) return false;
  return true;
}

export function unifyReady(a: CTerm, b: CTerm, bound: ReadonlySet<number>): boolean {
  if (evaluable(a, bound) && unifiable(b, bound)) return true;
  if (evaluable(b, bound) && unifiable(a, bound)) return true;
  if (a.k === 'array' && b.k === 'array' && a.items.length === b.items.length) {
    const bb = new Set(bound);
    const todo = a.items.map((x, i) => [x, b.items[i]!] as const);
    let progress = true;
    while (todo.length && progress) {
      progress = false;
      for (let i = 0; i < todo.length; i++) {
        const [x, y] = todo[i]!;
        if (unifyReady(x, y, bb)) {
          for (const s of [...allSlots(x), ...allSlots(y)]) bb.add(s);
          todo.splice(i, 1);
          progress = true;
          break;
        }
      }
    }
    return todo.length === 0;
  }
  if (a.k === 'object' && b.k === 'object' && a.items.length === b.items.length) {
    return unifyReady(
      { k: 'array', items: a.items.map((x) => x[1]), loc: a.loc, needs: [] },
      { k: 'array', items: b.items.map((x) => x[1]), loc: b.loc, needs: [] },
      bound,
    );
  }
  return false;
}

/** Slots of plain vars in ref path positions (bound by evaluating the ref). */
export function refPathVars(t: CTerm, out: Set<number>): void {
  if (t.k === 'ref') {
    for (const p of t.path) if (p.k === 'var') out.add(p.slot);
    refPathVars(t.head, out);
  } else if (t.k === 'call') for (const a of t.args) refPathVars(a, out);
}

export function unionNeeds(ts: readonly CTerm[]): number[] {
  if (ts.length === 0) return [];
  const s = new Set<number>();
  for (const t of ts) for (const x of t.needs) s.add(x);
  return [...s];
}

/** Turn composite literals of constants into constants. */
export function constFold(t: CTerm): CTerm {
  if (t.k === 'array') {
    if (t.items.every((x) => x.k === 'const'))
      return { k: 'const', v: t.items.map((x) => (x as { v: Value }).v), loc: t.loc, needs: [] };
  } else if (t.k === 'set') {
    if (t.items.every((x) => x.k === 'const'))
      return { k: 'const', v: SetValue.of(t.items.map((x) => (x as { v: Value }).v)), loc: t.loc, needs: [] };
  } else if (t.k === 'object') {
    if (t.items.every(([a, b]) => a.k === 'const' && b.k === 'const')) {
      const o = new ObjectValue();
      for (const [a, b] of t.items) o.set((a as { v: Value }).v, (b as { v: Value }).v);
      return { k: 'const', v: o, loc: t.loc, needs: [] };
    }
  }
  return t;
}
