/**
 * Compile stage: recursion check. Builds the dependency graph between rule-tree nodes (through data references,
 * function calls, comprehension and `every` bodies) and reports the first cycle as OPA's rego_recursion_error.
 */
import type { Location, RegoErrorCode } from './errors.js';
import type { CExpr, CRule, CTerm } from './ir.js';
import type { RuleNode } from './ir.js';

export function checkRecursion(
  root: RuleNode,
  allRules: readonly CRule[],
  err: (code: RegoErrorCode, msg: string, loc: Location) => void,
): void {
  const deps = new Map<RuleNode, Set<RuleNode>>();
  const nodeOf = (r: CRule): RuleNode => r.node;
  const add = (from: RuleNode, to: RuleNode): void => {
    let s = deps.get(from);
    if (!s) deps.set(from, (s = new Set()));
    s.add(to);
  };
  const visitTerm = (from: RuleNode, t: CTerm): void => {
    switch (t.k) {
      case 'ref':
        if (t.head.k === 'data') {
          let n: RuleNode = root;
          let missing = false;
          for (const p of t.path) {
            if (p.k === 'const') {
              const c: RuleNode | undefined = typeof p.v === 'string' ? n.children.get(p.v) : undefined;
              if (!c) {
                missing = true;
                break;
              }
              n = c;
              if (n.hasRules) break;
            } else break;
          }
          if (missing) {
            for (const p of t.path) visitTerm(from, p);
            break;
          }
          if (!n.hasRules && n !== root && t.path.some((p) => p.k !== 'const')) {
            // dynamic reference (data.x[y]): cannot be resolved statically; runtime detects real recursion
            for (const p of t.path) visitTerm(from, p);
            break;
          }
          if (n === root && t.path.length && t.path[0]!.k !== 'const') {
            for (const p of t.path) visitTerm(from, p);
            break;
          }
          const targets: RuleNode[] = [];
          const collect = (x: RuleNode): void => {
            if (x.hasRules) targets.push(x);
            for (const c of x.children.values()) collect(c);
          };
          if (n.hasRules) targets.push(n);
          else collect(n);
          for (const x of targets) add(from, x);
        } else visitTerm(from, t.head);
        for (const p of t.path) visitTerm(from, p);
        break;
      case 'call':
        if (t.fn.kind === 'user') add(from, t.fn.node);
        for (const a of t.args) visitTerm(from, a);
        break;
      case 'array':
      case 'set':
        for (const x of t.items) visitTerm(from, x);
        break;
      case 'object':
        for (const [a, b] of t.items) {
          visitTerm(from, a);
          visitTerm(from, b);
        }
        break;
      case 'arraycomp':
      case 'setcomp':
        visitTerm(from, t.term);
        for (const e of t.body) visitExpr(from, e);
        break;
      case 'objcomp':
        visitTerm(from, t.key);
        visitTerm(from, t.value);
        for (const e of t.body) visitExpr(from, e);
        break;
      case 'template':
        for (const p of t.parts) if (typeof p !== 'string') visitTerm(from, p);
        break;
      case 'const':
      case 'var':
      case 'input':
      case 'data':
        break;
    }
  };
  const visitExpr = (from: RuleNode, e: CExpr): void => {
    for (const w of e.withs ?? []) visitTerm(from, w.value);
    switch (e.k) {
      case 'term':
        visitTerm(from, e.t);
        break;
      case 'unify':
        visitTerm(from, e.a);
        visitTerm(from, e.b);
        break;
      case 'somein':
        visitTerm(from, e.coll);
        break;
      case 'every':
        visitTerm(from, e.domain);
        for (const b of e.body) visitExpr(from, b);
        break;
      case 'nop':
        break;
    }
  };
  for (const r of allRules) {
    const from = nodeOf(r);
    for (const e of r.body) visitExpr(from, e);
    visitTerm(from, r.value);
    if (r.key) visitTerm(from, r.key);
    for (const k of r.keyPath) visitTerm(from, k);
  }
  // DFS for cycles
  const state = new Map<RuleNode, number>();
  const stack: RuleNode[] = [];
  const dfs = (n: RuleNode): boolean => {
    state.set(n, 1);
    stack.push(n);
    for (const m of deps.get(n) ?? []) {
      const st = state.get(m) ?? 0;
      if (st === 1) {
        const cyc = stack.slice(stack.indexOf(m)).concat([m]);
        const rule = n.complete[0] ?? n.multi[0] ?? n.dyn[0] ?? n.funcs[0] ?? n.defaultRule;
        const name = (x: RuleNode): string => x.path.join('.');
        err(
          'rego_recursion_error',
          cyc.length === 2
            ? `rule data.${name(m)} is recursive: data.${name(m)} -> data.${name(m)}`
            : `rule data.${name(m)} is recursive: ${cyc.map((x) => 'data.' + name(x)).join(' -> ')}`,
          rule!.loc,
        );
        return true;
      }
      if (st === 0 && dfs(m)) return true;
    }
    stack.pop();
    state.set(n, 2);
    return false;
  };
  for (const n of deps.keys()) if ((state.get(n) ?? 0) === 0 && dfs(n)) return;
}
