/**
 * Compile stage: one rule (and its `else` chain) into a CRule. The rule's kind follows from its head (function,
 * ref-head with a variable key path, partial set/object, complete); function arguments that need evaluation become
 * fresh vars unified at the end of the body (OPA's RewriteRefsInHead); head vars must be bound by the body.
 */
import type { Expr, Rule, Term } from './ast.js';
import type { BodyCompiler } from './compile-body.js';
import type { Diagnostics, PackageContext } from './compile-context.js';
import type { PlacedRule } from './compile-rule-tree.js';
import { checkRedeclarations } from './compile-rewrite.js';
import {
  Alloc,
  Scope,
  collectBodyVars,
  collectVars,
  preallocate,
  requiresEval,
  slotName,
} from './compile-scope.js';
import { allSlots, exprSlots } from './compile-slots.js';
import type { CRule } from './ir.js';

/** A call inside a function argument (OPA's ruleArgLocalRewriter refuses them; set elements and keys aside). */
function callInArg(t: Term): Term | undefined {
  switch (t.type) {
    case 'call':
      return t;
    case 'ref':
      for (const x of t.terms) {
        const c = callInArg(x);
        if (c) return c;
      }
      return undefined;
    case 'array':
      for (const x of t.items) {
        const c = callInArg(x);
        if (c) return c;
      }
      return undefined;
    case 'object':
      for (const [, v] of t.items) {
        const c = callInArg(v);
        if (c) return c;
      }
      return undefined;
    case 'template':
      for (const x of t.parts) {
        const c = typeof x === 'string' ? undefined : callInArg(x);
        if (c) return c;
      }
      return undefined;
    case 'scalar':
    case 'var':
    case 'set':
    case 'arraycomp':
    case 'setcomp':
    case 'objcomp':
      return undefined;
  }
}

/** Compiles a placed rule; every compiled rule (else branches included) is also appended to `allRules`. */
export function compileRule(
  placed: PlacedRule,
  bodies: BodyCompiler,
  diag: Diagnostics,
  allRules: CRule[],
): CRule | undefined {
  const { r, node, keyPath } = placed;
  const ctx: PackageContext = { ...placed.ctx, rule: r };
  const kind: CRule['kind'] =
    r.head.args !== undefined
      ? 'func'
      : keyPath.length
        ? 'dyn'
        : r.head.key !== undefined
          ? 'multi'
          : 'complete';
  const isLocalName = (name: string): boolean =>
    name !== 'input' && name !== 'data' && !ctx.globals.has(name) && !ctx.imports.has(name);
  // OPA's RewriteRefsInHead: a function argument that needs evaluation (a ref, call, comprehension or template)
  // becomes a fresh var, unified with that term at the end of the body.
  const argExprs: Expr[] = [];
  for (const a of r.head.args ?? []) {
    const call = callInArg(a);
    if (call) {
      diag.report('rego_compile_error', 'rule arguments cannot contain calls', call.loc);
      return undefined;
    }
  }
  const fnArgs = r.head.args?.map((a): Term => {
    if (!requiresEval(a)) return a;
    const v: Term = { type: 'var', name: bodies.freshName('arg'), loc: a.loc };
    argExprs.push({
      kind: 'unify',
      a: v,
      b: a,
      assign: false,
      negated: false,
      with: [],
      loc: a.loc,
      text: '',
    });
    return v;
  });
  const compileOne = (rule0: Rule, isElse: boolean): CRule => {
    const rule = argExprs.length ? { ...rule0, body: [...rule0.body, ...argExprs] } : rule0;
    const headTerms = [
      ...keyPath,
      ...(rule0.head.key ? [rule0.head.key] : []),
      ...(rule0.head.value ? [rule0.head.value] : []),
    ];
    checkRedeclarations(rule0.body, r.head.args ?? [], isLocalName, (e) => diag.add(e), headTerms);
    const alloc = new Alloc();
    const declared = new Set<string>();
    const appear = new Set<string>();
    for (const a of fnArgs ?? []) collectVars(a, declared);
    for (const t of keyPath) collectVars(t, appear);
    if (rule.head.key) collectVars(rule.head.key, appear);
    if (rule.head.value) collectVars(rule.head.value, appear);
    collectBodyVars(rule.body, declared, appear);
    for (const d of declared) appear.delete(d);
    const scope = new Scope(undefined, alloc, declared, appear);
    preallocate(scope);
    for (const a of fnArgs ?? []) collectVars(a, scope.visible);
    const args = fnArgs?.map((a) => bodies.term(a, scope, ctx));
    const argSlots = new Set<number>();
    for (const a of args ?? []) for (const s of allSlots(a)) argSlots.add(s);
    const body = bodies.body(rule.body, scope, ctx, argSlots);
    const bound = new Set<number>(argSlots);
    for (const e of body) for (const s of exprSlots(e)) bound.add(s);
    const cKeyPath = keyPath.map((t) => bodies.term(t, scope, ctx));
    const key = rule.head.key ? bodies.term(rule.head.key, scope, ctx) : undefined;
    const valueTerm: Term = rule.head.value ?? { type: 'scalar', value: true, loc: rule.head.loc };
    const value = bodies.term(valueTerm, scope, ctx);
    for (const t of [...cKeyPath, ...(key ? [key] : []), value]) {
      for (const s of t.needs) {
        if (!bound.has(s)) {
          const name = slotName(scope, s) ?? '_';
          diag.report('rego_unsafe_var_error', `var ${name} is unsafe`, t.loc);
        }
      }
    }
    const cr: CRule = {
      kind,
      node,
      keyPath: cKeyPath,
      key,
      value,
      constValue: value.k === 'const' ? value.v : undefined,
      args,
      body,
      nslots: alloc.n,
      else: undefined,
      isDefault: r.default && !isElse,
      loc: rule.loc,
    };
    allRules.push(cr);
    return cr;
  };
  const first = compileOne(r, false);
  let cur = first;
  let e = r.else;
  while (e) {
    const ce = compileOne({ ...e, head: { ...e.head, args: r.head.args } }, true);
    cur.else = ce;
    cur = ce;
    e = e.else;
  }
  return first;
}
