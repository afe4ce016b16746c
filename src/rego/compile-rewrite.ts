/**
 * AST-level compile stages that mirror OPA's rewrites:
 *  - redeclaration checks of OPA's RewriteLocalVars (`x := 1; x := 2` is "var x assigned above");
 *  - OPA's RewriteExprTerms + RewriteDynamicTerms for negated expressions: nested calls and dynamic terms
 *    (references, comprehensions) in a negated call are evaluated *before* the negation, so
 *    `not startswith(o.missing, "a")` fails when `o.missing` is undefined (OPA issue #1877's behaviour).
 */
import { childTerms, type Expr, type Term } from './ast.js';
import { RegoError } from './errors.js';

type Occurrence = 'seen' | 'assigned' | 'declared' | 'arg';

/**
 * Check one body (and, recursively, the comprehension and `every` bodies in it) for OPA's redeclaration errors.
 * `args` are the function arguments' vars; `isLocal(name)` says whether a plain name is a local variable (not a rule,
 * import, `input` or `data`), since only locals count as "referenced above".
 */
export function checkRedeclarations(
  body: readonly Expr[],
  args: readonly Term[],
  isLocal: (name: string) => boolean,
  report: (e: RegoError) => void,
  headTerms?: readonly Term[],
): void {
  const occ = new Map<string, Occurrence>();
  for (const a of args) for (const v of varsOf(a)) if (v.name !== '_') occ.set(v.name, 'arg');
  let failed = false;
  checkBody(body, occ, isLocal, (e) => {
    failed = true;
    report(e);
  });
  // OPA's checkUnusedDeclaredVars reports only when the declarations themselves were fine
  if (!failed && headTerms !== undefined) {
    for (const t of headTerms) checkClosuresUnused(t, report);
    checkUnusedDeclared(body, headTerms, report);
  }
}

function checkClosuresUnused(t: Term, report: (e: RegoError) => void): void {
  for (const c of comprehensionsIn(t)) {
    if (c.type === 'objcomp') checkUnusedDeclared(c.body, [c.key, c.value], report);
    else if (c.type === 'arraycomp' || c.type === 'setcomp') checkUnusedDeclared(c.body, [c.term], report);
  }
}

/**
 * OPA's checkUnusedDeclaredVars, per body (rule, comprehension, `every`): a name declared by a plain `some x` or as
 * an `every` key/value must occur in that body (or in the head that owns it). `some x in xs` uses x by itself.
 */
function checkUnusedDeclared(
  body: readonly Expr[],
  headTerms: readonly Term[],
  report: (e: RegoError) => void,
): void {
  const used = new Set<string>();
  for (const t of headTerms) termVarsDeep(t, used);
  for (const e of body) exprVarsDeep(e, used);
  for (const e of body) {
    if (e.kind !== 'some') continue;
    for (const v of e.vars)
      if (v.type === 'var' && v.name !== '_' && !used.has(v.name))
        report(new RegoError('rego_compile_error', `declared var ${v.name} unused`, e.loc));
  }
  const nested = (t: Term): void => checkClosuresUnused(t, report);
  for (const e of body) {
    for (const w of e.with) nested(w.value);
    switch (e.kind) {
      case 'unify':
        nested(e.a);
        nested(e.b);
        break;
      case 'term':
        nested(e.term);
        break;
      case 'somein':
        if (e.key) nested(e.key);
        nested(e.value);
        nested(e.coll);
        break;
      case 'every': {
        nested(e.domain);
        const inBody = new Set<string>();
        for (const x of e.body) exprVarsDeep(x, inBody);
        for (const d of [e.key, e.value])
          if (d?.type === 'var' && d.name !== '_' && !inBody.has(d.name))
            report(
              new RegoError('rego_compile_error', `declared var ${d.name} unused`, e.body[0]?.loc ?? e.loc),
            );
        checkUnusedDeclared(e.body, [], report);
        break;
      }
      case 'some':
        break;
    }
  }
}

/** Every var in a term, comprehension heads and bodies included (OPA's VarVisitor with default parameters). */
function termVarsDeep(t: Term, out: Set<string>): void {
  for (const v of varsOf(t)) out.add(v.name);
  for (const c of comprehensionsIn(t)) {
    if (c.type === 'objcomp') {
      termVarsDeep(c.key, out);
      termVarsDeep(c.value, out);
    } else if (c.type === 'arraycomp' || c.type === 'setcomp') termVarsDeep(c.term, out);
    if (c.type === 'arraycomp' || c.type === 'setcomp' || c.type === 'objcomp')
      for (const e of c.body) exprVarsDeep(e, out);
  }
}

/** Vars an expression uses (a plain `some` declares, it does not use). */
function exprVarsDeep(e: Expr, out: Set<string>): void {
  for (const w of e.with) {
    termVarsDeep(w.target, out);
    termVarsDeep(w.value, out);
  }
  switch (e.kind) {
    case 'unify':
      termVarsDeep(e.a, out);
      termVarsDeep(e.b, out);
      break;
    case 'term':
      termVarsDeep(e.term, out);
      break;
    case 'somein':
      if (e.key) termVarsDeep(e.key, out);
      termVarsDeep(e.value, out);
      termVarsDeep(e.coll, out);
      break;
    case 'every':
      if (e.key) termVarsDeep(e.key, out);
      termVarsDeep(e.value, out);
      termVarsDeep(e.domain, out);
      for (const x of e.body) exprVarsDeep(x, out);
      break;
    case 'some':
      break;
  }
}

function checkBody(
  body: readonly Expr[],
  occ: Map<string, Occurrence>,
  isLocal: (name: string) => boolean,
  report: (e: RegoError) => void,
): void {
  const seen = (t: Term): void => {
    for (const v of varsOf(t))
      if (v.name !== '_' && !occ.has(v.name) && isLocal(v.name)) occ.set(v.name, 'seen');
    for (const c of comprehensionsIn(t)) checkClosure(c, isLocal, report);
  };
  const declare = (t: Term, as: Occurrence): void => {
    for (const v of varsOf(t)) {
      if (v.name === '_') continue;
      const prev = occ.get(v.name);
      if (prev !== undefined && as === 'assigned') {
        const msg =
          prev === 'seen'
            ? `var ${v.name} referenced above`
            : prev === 'arg'
              ? `arg ${v.name} redeclared`
              : `var ${v.name} ${prev} above`;
        report(new RegoError('rego_compile_error', msg, v.loc));
      } else if (prev === undefined) occ.set(v.name, as);
    }
    for (const c of comprehensionsIn(t)) checkClosure(c, isLocal, report);
  };
  for (const e of body) {
    for (const w of e.with) seen(w.value);
    switch (e.kind) {
      case 'unify':
        if (e.assign) {
          seen(e.b);
          declare(e.a, 'assigned');
        } else {
          seen(e.a);
          seen(e.b);
        }
        break;
      case 'term':
        seen(e.term);
        break;
      case 'some':
        for (const v of e.vars) declare(v, 'declared');
        break;
      case 'somein':
        seen(e.coll);
        if (e.key) declare(e.key, 'declared');
        declare(e.value, 'declared');
        break;
      case 'every': {
        seen(e.domain);
        const inner = new Map<string, Occurrence>();
        if (e.key) for (const v of varsOf(e.key)) inner.set(v.name, 'declared');
        for (const v of varsOf(e.value)) inner.set(v.name, 'declared');
        checkBody(e.body, inner, isLocal, report);
        break;
      }
    }
  }
}

function checkClosure(t: Term, isLocal: (name: string) => boolean, report: (e: RegoError) => void): void {
  if (t.type !== 'arraycomp' && t.type !== 'setcomp' && t.type !== 'objcomp') return;
  const occ = new Map<string, Occurrence>();
  checkBody(t.body, occ, isLocal, report);
  if (t.type === 'objcomp') {
    for (const c of [...comprehensionsIn(t.key), ...comprehensionsIn(t.value)])
      checkClosure(c, isLocal, report);
  } else for (const c of comprehensionsIn(t.term)) checkClosure(c, isLocal, report);
}

/** Plain vars of a term, outside comprehensions (ref heads included, like OPA's var visitor). */
function varsOf(t: Term): (Term & { type: 'var' })[] {
  if (t.type === 'var') return [t];
  return childTerms(t).flatMap(varsOf);
}

/** Comprehensions directly inside a term (not inside other comprehensions). */
function comprehensionsIn(t: Term): Term[] {
  if (t.type === 'arraycomp' || t.type === 'setcomp' || t.type === 'objcomp') return [t];
  return childTerms(t).flatMap(comprehensionsIn);
}

// --- negation: hoist nested calls and dynamic terms ------------------------------------------------------------------

/**
 * For a negated expression, the positive expressions OPA evaluates before it, and the negated expression with
 * those terms replaced by fresh vars. Returns undefined when nothing is hoisted.
 *  - nested calls anywhere in the expression (RewriteExprTerms),
 *  - for a call expression other than `==`: references and comprehensions among its arguments, also inside
 *    array/object/set arguments (RewriteDynamicTerms);
 *  - for `==`/`=` operands and plain terms: references among ref path segments (`data.p[input.x]`) and inside
 *    array/object/set operands (a reference operand itself stays inside the negation).
 */
export function hoistNegated(
  e: Expr,
  fresh: () => string,
  isDocument: (name: string) => boolean,
): { support: Expr[]; expr: Expr } | undefined {
  if (!e.negated) return undefined;
  const support: Expr[] = [];
  const bind = (t: Term): Term => {
    const v: Term = { type: 'var', name: fresh(), loc: t.loc };
    support.push({
      kind: 'unify',
      a: v,
      b: t,
      assign: false,
      negated: false,
      with: e.with,
      loc: t.loc,
      text: '',
    });
    return v;
  };
  // RewriteExprTerms: calls nested in a term become support expressions (their own args expanded first)
  const expandCalls = (t: Term): Term => {
    switch (t.type) {
      case 'call':
        return bind({ ...t, args: t.args.map(expandCalls) });
      case 'ref':
        return { ...t, terms: t.terms.map((x, i) => (i === 0 && x.type === 'var' ? x : expandCalls(x))) };
      case 'array':
      case 'set':
        return { ...t, items: t.items.map(expandCalls) };
      case 'object':
        return { ...t, items: t.items.map(([k, v]) => [expandCalls(k), expandCalls(v)] as [Term, Term]) };
      case 'arraycomp':
      case 'objcomp':
      case 'scalar':
      case 'setcomp':
      case 'template':
      case 'var':
        return t;
    }
  };
  // RewriteDynamicTerms on one operand of a call: refs and comprehensions are bound first
  const dynamic = (t: Term): Term => {
    switch (t.type) {
      case 'ref':
        return bind({ ...t, terms: t.terms.map((x, i) => (i === 0 ? x : dynamic(x))) });
      case 'var':
        // `input`, `data`, and names of rules or imports are references too
        return isDocument(t.name) ? bind(t) : t;
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp':
        return bind(t);
      case 'array':
      case 'set':
        return { ...t, items: t.items.map(dynamic) };
      case 'object':
        return { ...t, items: t.items.map(([k, v]) => [dynamic(k), dynamic(v)] as [Term, Term]) };
      case 'call':
      case 'scalar':
      case 'template':
        return t;
    }
  };
  // `=`/`==` operands and plain terms (OPA's rewriteDynamicsInTerm): a reference keeps its place and only its path
  // segments are dynamic; a name or comprehension stays; composites have their dynamic parts bound
  const inTerm = (t: Term): Term => {
    switch (t.type) {
      case 'ref':
        return { ...t, terms: t.terms.map((x, i) => (i === 0 ? x : dynamic(x))) };
      case 'var':
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp':
        return t;
      case 'array':
      case 'set':
      case 'object':
      case 'call':
      case 'scalar':
      case 'template':
        return dynamic(t);
    }
  };
  let out: Expr;
  if (e.kind === 'term' && e.term.type === 'call') {
    const call = e.term;
    const args = call.args.map(expandCalls);
    const isEq = isOp(call.op, 'equal') && args.length === 2;
    out = { ...e, term: { ...call, args: args.map(isEq ? inTerm : dynamic) } };
  } else if (e.kind === 'term') {
    out = { ...e, term: inTerm(expandCalls(e.term)) };
  } else if (e.kind === 'unify' && !e.assign) {
    out = { ...e, a: inTerm(expandCalls(e.a)), b: inTerm(expandCalls(e.b)) };
  } else return undefined;
  return support.length ? { support, expr: out } : undefined;
}

function isOp(op: Term, name: string): boolean {
  return (
    op.type === 'ref' && op.terms.length === 1 && op.terms[0]!.type === 'var' && op.terms[0].name === name
  );
}
