/**
 * Compile stage: safety. OPA's reorderBodyForSafety on the IR: expressions run in an order where each one's inputs
 * are bound by those before it; what can never be bound is a rego_unsafe_var_error. A negated expression has no
 * outputs, so each of its vars (`_` included) must be bound elsewhere.
 */
import type { Diagnostics } from './compile-context.js';
import { slotName } from './compile-scope.js';
import type { Scope } from './compile-scope.js';
import { allSlots, closureNeeds, exprSlots, patternNeeds, unifyReady } from './compile-slots.js';
import type { CExpr } from './ir.js';

/** Reorder a compiled body for safety; `initial` holds the slots bound before the body runs. */
export function reorderForSafety(
  exprs: CExpr[],
  scope: Scope,
  initial: ReadonlySet<number>,
  diag: Diagnostics,
): CExpr[] {
  const bound = new Set(initial);
  // occurrence counts: negated expressions may keep vars that appear nowhere else local to themselves.
  const count = new Map<number, number>();
  for (const e of exprs) for (const s of new Set(exprSlots(e))) count.set(s, (count.get(s) ?? 0) + 1);
  const remaining = [...exprs];
  const out: CExpr[] = [];
  while (remaining.length) {
    let picked = -1;
    for (let i = 0; i < remaining.length; i++) {
      if (unboundInputs(remaining[i]!, bound, count).length === 0) {
        picked = i;
        break;
      }
    }
    if (picked < 0) {
      const e = remaining[0]!;
      const unsafe = new Set<string>();
      for (const r of remaining) {
        for (const s of unboundInputs(r, bound, count)) {
          const n = slotName(scope, s);
          if (n !== undefined && !n.startsWith('$')) unsafe.add(n);
        }
      }
      const names = [...unsafe].sort();
      if (names.length === 0) names.push('_');
      for (const n of names) diag.report('rego_unsafe_var_error', `var ${n} is unsafe`, e.loc);
      return out.concat(remaining);
    }
    const e = remaining.splice(picked, 1)[0]!;
    out.push(e);
    if (!e.neg && e.k !== 'every') for (const s of exprSlots(e)) bound.add(s);
  }
  return out;
}

/** The slots `e` needs bound before it can run (empty: it is ready). */
function unboundInputs(e: CExpr, bound: ReadonlySet<number>, count: ReadonlyMap<number, number>): number[] {
  const miss = new Set<number>();
  const need = (ss: readonly number[]): void => {
    for (const s of ss) if (!bound.has(s)) miss.add(s);
  };
  for (const w of e.withs ?? []) need(w.value.needs);
  // OPA: a negated expression has no outputs, every var in it must be bound before it
  if (e.neg) {
    need(exprSlots(e));
    return [...miss];
  }
  if (e.k === 'every') {
    for (const s of exprSlots(e)) if ((count.get(s) ?? 0) > 1 && !bound.has(s)) miss.add(s);
    need(e.domain.needs);
    need(closureNeeds(e));
    return [...miss];
  }
  switch (e.k) {
    case 'term':
      need(e.t.needs);
      break;
    case 'unify':
      if (!unifyReady(e.a, e.b, bound)) {
        need(e.a.needs);
        need(e.b.needs);
        if (miss.size === 0)
          for (const s of [...allSlots(e.a), ...allSlots(e.b)]) if (!bound.has(s)) miss.add(s);
      }
      break;
    case 'somein':
      need(e.coll.needs);
      if (e.key) need(patternNeeds(e.key));
      need(patternNeeds(e.val));
      break;
    case 'nop':
      break;
  }
  return [...miss];
}
