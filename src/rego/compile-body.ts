/**
 * Compile stage: bodies, expressions and terms, AST -> IR. Names resolve to slots (compile-scope.ts), rules or
 * imports (compile-resolve.ts); calls get arity and constant-operand type checks; negated expressions are
 * rewritten first (compile-rewrite.ts) and every body is reordered for safety (compile-safety.ts).
 */
import type { Expr, Term } from './ast.js';
import { matchesType } from './builtins/registry.js';
import { GENERATED_PREFIX } from './compile-context.js';
import type { Diagnostics, PackageContext } from './compile-context.js';
import type { NameResolver } from './compile-resolve.js';
import { arityOf } from './compile-resolve.js';
import { hoistNegated } from './compile-rewrite.js';
import { reorderForSafety } from './compile-safety.js';
import {
  Scope,
  collectBodyVars,
  collectVars,
  isLocal,
  lookupLocal,
  preallocate,
  slotName,
} from './compile-scope.js';
import { allSlots, constFold, exprSlots, patternNeeds, refPathVars, unionNeeds } from './compile-slots.js';
import type { Location } from './errors.js';
import type { CExpr, CTerm, CWith, RuleNode } from './ir.js';
import { typeName } from './value.js';

type Comprehension = Term & { type: 'arraycomp' | 'setcomp' | 'objcomp' };

export class BodyCompiler {
  /** Counter for compiler-generated variable names. */
  private fresh = 0;

  constructor(
    private readonly root: RuleNode,
    private readonly resolver: NameResolver,
    private readonly diag: Diagnostics,
  ) {}

  /** A variable name no module can write. */
  freshName(kind: string): string {
    return `${GENERATED_PREFIX}${kind}${this.fresh++}`;
  }

  /** Compile a body in `scope` and reorder it for safety; `bound` holds slots bound before the body runs. */
  body(exprs: readonly Expr[], scope: Scope, ctx: PackageContext, bound: ReadonlySet<number>): CExpr[] {
    const out: CExpr[] = [];
    const isDocument = (name: string): boolean =>
      !isLocal(scope, name) &&
      (name === 'input' || name === 'data' || ctx.globals.has(name) || ctx.imports.has(name));
    exprs.forEach((e, idx) => {
      const h = hoistNegated(e, () => this.freshName('neg'), isDocument);
      if (h) {
        for (const s of h.support) {
          for (const c of this.expr(s, scope, ctx, -1) ?? []) out.push({ ...c, gen: true });
        }
        e = h.expr;
      }
      const c = this.expr(e, scope, ctx, idx);
      if (c) out.push(...c);
      const d = new Set<string>();
      collectBodyVars([e], d, new Set());
      for (const n of d) scope.visible.add(n);
    });
    return reorderForSafety(out, scope, bound, this.diag);
  }

  private expr(e: Expr, scope: Scope, ctx: PackageContext, idx: number): CExpr[] | undefined {
    const withs = e.with.length
      ? e.with.map((w) => this.withModifier(w.target, w.value, w.loc, scope, ctx))
      : undefined;
    const base = { neg: e.negated, withs, loc: e.loc, idx, text: e.text ?? '' };
    switch (e.kind) {
      case 'some':
        return [{ ...base, k: 'nop' }];
      case 'term': {
        const t = e.term;
        // call with output argument: f(x, out)
        if (t.type === 'call') {
          const arity = this.resolver.callArity(t.op, ctx, scope);
          if (arity !== undefined && arity >= 0 && t.args.length === arity + 1) {
            const call: Term = { ...t, args: t.args.slice(0, arity) };
            const out = t.args[arity]!;
            return [{ ...base, k: 'unify', a: this.term(out, scope, ctx), b: this.term(call, scope, ctx) }];
          }
        }
        return [{ ...base, k: 'term', t: this.term(t, scope, ctx) }];
      }
      case 'unify': {
        if (e.assign) {
          // `:=` only declares; lhs must be a var or a composite of vars (no refs)
          if (e.a.type === 'ref' || e.a.type === 'call' || e.a.type === 'scalar') {
            this.diag.report('rego_compile_error', `cannot assign to ${e.a.type}`, e.loc);
          }
        }
        return [{ ...base, k: 'unify', a: this.term(e.a, scope, ctx), b: this.term(e.b, scope, ctx) }];
      }
      case 'somein': {
        const coll = this.term(e.coll, scope, ctx);
        return [
          {
            ...base,
            k: 'somein',
            key: e.key ? this.term(e.key, scope, ctx) : undefined,
            val: this.term(e.value, scope, ctx),
            coll,
          },
        ];
      }
      case 'every': {
        const domain = this.term(e.domain, scope, ctx);
        const declared = new Set<string>();
        const appear = new Set<string>();
        if (e.key) collectVars(e.key, declared);
        collectVars(e.value, declared);
        collectBodyVars(e.body, declared, appear);
        const inner = new Scope(scope, scope.alloc, declared, appear);
        preallocate(inner);
        if (e.key) collectVars(e.key, inner.visible);
        collectVars(e.value, inner.visible);
        const key = e.key ? this.term(e.key, inner, ctx) : undefined;
        const val = this.term(e.value, inner, ctx);
        const bound = new Set<number>();
        for (let s = 0; s < inner.start; s++) bound.add(s);
        if (key) for (const s of allSlots(key)) bound.add(s);
        for (const s of allSlots(val)) bound.add(s);
        const body = this.body(e.body, inner, ctx, bound);
        return [{ ...base, k: 'every', key, val, domain, body }];
      }
    }
  }

  private withModifier(target: Term, value: Term, loc: Location, scope: Scope, ctx: PackageContext): CWith {
    const v = this.term(value, scope, ctx);
    const w: CWith = { target: this.resolver.withTarget(target, loc, scope, ctx), value: v, loc };
    // `with f as g`: the replacement is a function, called in place of the target
    if (w.target.kind === 'fn' && (value.type === 'var' || value.type === 'ref')) {
      const terms = value.type === 'ref' ? value.terms : [value];
      const h = terms[0]!;
      if (h.type === 'var' && !isLocal(scope, h.name)) {
        const fn = this.resolver.resolveFunction(value, ctx, scope, false);
        if (fn) {
          w.fn = fn;
          w.value = { k: 'const', v: null, loc: w.value.loc, needs: [] };
        }
      }
    }
    return w;
  }

  term(t: Term, scope: Scope, ctx: PackageContext): CTerm {
    switch (t.type) {
      case 'scalar':
        return { k: 'const', v: t.value, loc: t.loc, needs: [] };
      case 'var':
        return this.varTerm(t.name, t.loc, scope, ctx);
      case 'ref':
        return this.refTerm(t.terms, t.loc, scope, ctx);
      case 'array': {
        const items = t.items.map((x) => this.term(x, scope, ctx));
        return constFold({ k: 'array', items, loc: t.loc, needs: unionNeeds(items) });
      }
      case 'set': {
        const items = t.items.map((x) => this.term(x, scope, ctx));
        return constFold({ k: 'set', items, loc: t.loc, needs: unionNeeds(items) });
      }
      case 'object': {
        const items = t.items.map(
          ([a, b]) => [this.term(a, scope, ctx), this.term(b, scope, ctx)] as [CTerm, CTerm],
        );
        return constFold({ k: 'object', items, loc: t.loc, needs: unionNeeds(items.flat()) });
      }
      case 'call':
        return this.call(t, scope, ctx);
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp':
        return this.comprehension(t, scope, ctx);
      case 'template': {
        const parts = t.parts.map((p) => (typeof p === 'string' ? p : this.term(p, scope, ctx)));
        return {
          k: 'template',
          parts,
          loc: t.loc,
          needs: unionNeeds(parts.filter((p): p is CTerm => typeof p !== 'string')),
        };
      }
    }
  }

  private call(t: Term & { type: 'call' }, scope: Scope, ctx: PackageContext): CTerm {
    const meta = this.resolver.metadataConstant(t, scope, ctx);
    if (meta) return meta;
    const fn = this.resolver.resolveFunction(t.op, ctx, scope, true);
    if (ctx.v1Checks && fn && this.resolver.isDeprecated(fn))
      this.diag.report(
        'rego_type_error',
        `deprecated built-in function calls in expression: ${fn.name}`,
        t.loc,
      );
    const args = t.args.map((x) => this.term(x, scope, ctx));
    if (fn) {
      const want = arityOf(fn);
      if (want >= 0 && args.length !== want) {
        this.diag.report(
          'rego_type_error',
          `${fn.name}: arity mismatch\n\thave: (${args.map(() => 'any').join(', ')})\n\twant: (${new Array(want).fill('any').join(', ')})`,
          t.loc,
        );
      } else if (fn.kind === 'builtin' && fn.def.checkTypes !== false) {
        // constant operands of the wrong type are a compile-time type error (like OPA's type checker)
        args.forEach((a, i) => {
          const want = fn.def.args[i];
          const got = a.k === 'const' ? a.v : undefined;
          if (want !== undefined && got !== undefined && !matchesType(got, want))
            this.diag.report(
              'rego_type_error',
              `${fn.name}: invalid argument(s)\n\thave: operand ${i + 1} ${typeName(got)}\n\twant: ${typeof want === 'string' ? want : want.join(' or ')}`,
              a.loc,
            );
        });
      }
    }
    const bindable = new Set<number>();
    for (const a of args) refPathVars(a, bindable);
    return {
      k: 'call',
      fn: fn ?? { kind: 'print', name: 'print' },
      args,
      loc: t.loc,
      needs: unionNeeds(args).filter((x) => !bindable.has(x)),
    };
  }

  private comprehension(t: Comprehension, scope: Scope, ctx: PackageContext): CTerm {
    const declared = new Set<string>();
    const appear = new Set<string>();
    collectBodyVars(t.body, declared, appear);
    if (t.type === 'objcomp') {
      collectVars(t.key, appear);
      collectVars(t.value, appear);
    } else collectVars(t.term, appear);
    const inner = new Scope(scope, scope.alloc, declared, appear);
    preallocate(inner);
    const bound = new Set<number>();
    for (let s = 0; s < inner.start; s++) bound.add(s);
    const body = this.body(t.body, inner, ctx, bound);
    const start = inner.start;
    const closure = (terms: CTerm[]): number[] => {
      // after the head terms are compiled: their fresh slots (`_`) are the comprehension's own
      const end = scope.alloc.n;
      const set = new Set<number>();
      for (const x of terms) for (const s of allSlots(x)) if (s < start || s >= end) set.add(s);
      for (const e of body) for (const s of exprSlots(e, true)) if (s < start || s >= end) set.add(s);
      return [...set];
    };
    // OPA's reorderComprehensionSafety: a head var must occur in the comprehension body (or outside it)
    const checkHead = (terms: CTerm[]): void => {
      const inBody = new Set<number>();
      for (const e of body) for (const s of exprSlots(e)) inBody.add(s);
      const names = new Set<string>();
      for (const x of terms)
        for (const s of allSlots(x))
          if (s >= start && s < scope.alloc.n && !inBody.has(s)) names.add(slotName(inner, s) ?? '_');
      for (const n of [...names].sort())
        this.diag.report('rego_unsafe_var_error', `var ${n} is unsafe`, t.loc);
    };
    if (t.type === 'objcomp') {
      const key = this.term(t.key, inner, ctx);
      const value = this.term(t.value, inner, ctx);
      checkHead([key, value]);
      return { k: 'objcomp', key, value, body, loc: t.loc, needs: closure([key, value]) };
    }
    const term = this.term(t.term, inner, ctx);
    checkHead([term]);
    if (t.type === 'arraycomp' && t.unwrap)
      return { k: 'arraycomp', term, body, loc: t.loc, needs: closure([term]), unwrap: true };
    return { k: t.type, term, body, loc: t.loc, needs: closure([term]) };
  }

  private varTerm(name: string, loc: Location, scope: Scope, ctx: PackageContext): CTerm {
    if (name === '_') {
      const slot = scope.fresh();
      return { k: 'var', slot, name: '_', loc, needs: [slot] };
    }
    const local = lookupLocal(scope, name, true);
    if (local !== undefined) return { k: 'var', slot: local, name, loc, needs: [local] };
    if (name === 'input') return { k: 'input', loc, needs: [] };
    if (name === 'data') return { k: 'data', loc, needs: [] };
    if (ctx.globals.has(name)) return this.ruleRef([...ctx.pkgPath, name], loc);
    const imp = ctx.imports.get(name);
    if (imp) return this.refTerm(imp, loc, scope, ctx);
    const slot = lookupLocal(scope, name, false) ?? scope.slotOf(name);
    return { k: 'var', slot, name, loc, needs: [slot] };
  }

  /** A package-local rule name: `data.<package>.<name>`, starting at its rule-tree node. */
  private ruleRef(path: string[], loc: Location): CTerm {
    const ref: CTerm = {
      k: 'ref',
      head: { k: 'data', loc, needs: [] },
      path: path.map((s) => ({ k: 'const', v: s, loc, needs: [] })),
      loc,
      needs: [],
    };
    let node = this.root;
    let i = 0;
    const basePath: string[] = [];
    while (i < path.length && !node.hasRules) {
      const c = node.children.get(path[i]!);
      if (!c) break;
      node = c;
      basePath.push(path[i]!);
      i++;
    }
    if (i > 0) ref.start = { node, i, basePath };
    return ref;
  }

  private refTerm(terms: readonly Term[], loc: Location, scope: Scope, ctx: PackageContext): CTerm {
    const head = this.term(terms[0]!, scope, ctx);
    const rest = terms.slice(1).map((x) => this.term(x, scope, ctx));
    if (rest.length === 0) return head;
    let h = head;
    let path = rest;
    if (head.k === 'ref') {
      h = head.head;
      path = [...head.path, ...rest];
    }
    const needs = new Set<number>(h.needs);
    for (const p of path) for (const s of patternNeeds(p)) needs.add(s);
    const ref: CTerm = { k: 'ref', head: h, path, loc, needs: [...needs] };
    if (h.k === 'data') {
      let node = this.root;
      let i = 0;
      const basePath: string[] = [];
      while (i < path.length && !node.hasRules) {
        const p = path[i]!;
        if (p.k !== 'const' || typeof p.v !== 'string') break;
        const c = node.children.get(p.v);
        if (!c) break;
        node = c;
        basePath.push(p.v);
        i++;
      }
      if (i > 0) ref.start = { node, i, basePath };
    }
    return ref;
  }
}
