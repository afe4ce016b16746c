/**
 * Compiler: AST -> IR. Stages: rule tree (ref heads), reference resolution (package-local rule names, imports,
 * input/data), redeclaration checks and the negation rewrite (compile-rewrite.ts), variable scoping into slots
 * (compile-scope.ts), builtin/function resolution with arity checks, safety analysis with body reordering
 * (compile-slots.ts), recursion check (compile-recursion.ts), `rego.metadata.*` constants per rule.
 */
import { AnnotationIndex, annotationValue } from './annotations.js';
import type { Expr, Module, Rule, Term } from './ast.js';
import type { BuiltinDef, BuiltinRegistry } from './builtins/registry.js';
import { BuiltinError, matchesType } from './builtins/registry.js';
import { checkRecursion } from './compile-recursion.js';
import { checkRedeclarations, hoistNegated } from './compile-rewrite.js';
import { TypeChecker } from './compile-types.js';
import {
  Alloc,
  Scope,
  collectBodyVars,
  collectVars,
  isLocal,
  lookupLocal,
  preallocate,
  refToStrings,
  requiresEval,
  slotName,
} from './compile-scope.js';
import {
  allSlots,
  closureNeeds,
  constFold,
  exprSlots,
  patternNeeds,
  refPathVars,
  slotsIn,
  unifyReady,
  unionNeeds,
} from './compile-slots.js';
import { RegoError } from './errors.js';
import type { Location, RegoErrorCode } from './errors.js';
import type { CExpr, CRule, CTerm, CWith, FnRef } from './ir.js';
import { RuleNode } from './ir.js';
import { ObjectValue, typeName } from './value.js';

export class CompileErrors extends Error {
  constructor(readonly errors: RegoError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'CompileErrors';
  }
}

interface PkgCtx {
  pkgPath: string[];
  globals: Set<string>;
  imports: Map<string, Term[]>;
  file: string;
  /** The rule being compiled (for `rego.metadata.chain()` / `rego.metadata.rule()`). */
  rule?: Rule;
  /** OPA's v1 checks apply (module parsed as v1, or v0 importing rego.v1): deprecated builtins are refused. */
  v1Checks?: boolean;
}

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

/** Builtins OPA deprecates: refused in v1 modules ("deprecated built-in function calls in expression"). */
const DEPRECATED = new Set([
  'any',
  'all',
  're_match',
  'net.cidr_overlap',
  'set_diff',
  'cast_array',
  'cast_set',
  'cast_string',
  'cast_boolean',
  'cast_null',
  'cast_object',
]);

const GENERATED_PREFIX = '__';

type NativeOp = 'equal' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';
const NATIVE_OPS = new Set<string>(['equal', 'neq', 'lt', 'lte', 'gt', 'gte']);

/**
 * Builtins that reach the network. Policy is pure: they are known (so `with http.send as mock` works in tests)
 * but every real call fails with eval_builtin_error.
 */
const UNAVAILABLE = new Map<string, BuiltinDef>(
  (
    [
      ['http.send', 1],
      ['net.lookup_ip_addr', 1],
    ] as const
  ).map(([name, n]) => [
    name,
    {
      name,
      args: new Array<'any'>(n).fill('any'),
      impl: () => {
        throw new BuiltinError('not available: aibox policy is pure (no network access)');
      },
    },
  ]),
);

export interface CompiledModules {
  root: RuleNode;
  rules: CRule[];
}

export class Compiler {
  readonly root = new RuleNode([], undefined);
  private errors: RegoError[] = [];
  /** Counter for compiler-generated variable names. */
  private fresh = 0;
  private readonly allRules: CRule[] = [];
  /** Package path key -> first segments of rule names declared in it. */
  private readonly pkgGlobals = new Map<string, Set<string>>();

  constructor(private readonly registry: BuiltinRegistry) {}

  private err(code: RegoErrorCode, msg: string, loc: Location): void {
    if (this.errors.length < 100) this.errors.push(new RegoError(code, msg, loc));
  }

  /** METADATA annotations by scope (OPA's AnnotationSet). */
  private annotations = new AnnotationIndex([]);

  /** OPA's RewriteRegoMetadataCalls: inside a rule, the metadata builtins are constants. */
  private metadataCall(t: Term & { type: 'call' }, scope: Scope, ctx: PkgCtx): CTerm | undefined {
    if (!ctx.rule || t.args.length !== 0 || t.op.type !== 'ref' || isLocal(scope, 'rego')) return undefined;
    const name = refToStrings(t.op.terms)?.join('.');
    if (name === 'rego.metadata.chain')
      return { k: 'const', v: this.annotations.chain(ctx.rule, ctx.pkgPath), loc: t.loc, needs: [] };
    if (name === 'rego.metadata.rule') {
      const a = this.annotations.ruleScope(ctx.rule);
      return { k: 'const', v: a ? annotationValue(a) : new ObjectValue(), loc: t.loc, needs: [] };
    }
    return undefined;
  }

  compileModules(modules: readonly Module[]): CompiledModules {
    this.annotations = new AnnotationIndex(modules);
    // Stage 1: globals per package and rule tree skeleton.
    for (const m of modules) {
      const key = m.packagePath.join('.');
      let g = this.pkgGlobals.get(key);
      if (!g) this.pkgGlobals.set(key, (g = new Set()));
      for (const r of m.rules) {
        const h = r.head.ref[0];
        if (h && h.type === 'var') g.add(h.name);
      }
    }
    for (const m of modules) {
      let n = this.root;
      for (const seg of m.packagePath) n = n.child(seg);
    }
    // Stage 2: compile rules.
    const pending: { m: Module; r: Rule; ctx: PkgCtx }[] = [];
    for (const m of modules) {
      const ctx = this.pkgCtx(m);
      for (const r of m.rules) pending.push({ m, r, ctx });
    }
    // Nodes must exist before bodies are compiled (function resolution looks them up).
    const placed: { r: Rule; ctx: PkgCtx; node: RuleNode; keyPath: Term[] }[] = [];
    for (const { r, ctx } of pending) {
      const p = this.placeRule(r, ctx);
      if (p) placed.push({ r, ctx, ...p });
    }
    for (const p of placed) {
      if (p.r.head.args !== undefined) {
        const n = p.r.head.args.length;
        if (p.node.arity >= 0 && p.node.arity !== n)
          this.err('rego_type_error', `conflicting rules data.${p.node.path.join('.')} found`, p.r.loc);
        p.node.arity = n;
      }
    }
    for (const p of placed) {
      try {
        const cr = this.compileRule(p.r, { ...p.ctx, rule: p.r }, p.node, p.keyPath);
        if (!cr) continue;
        if (cr.isDefault) {
          if (p.node.defaultRule)
            this.err(
              'rego_type_error',
              `multiple default rules data.${p.node.path.join('.')} found`,
              p.r.loc,
            );
          p.node.defaultRule = cr;
        } else if (cr.kind === 'complete') p.node.complete.push(cr);
        else if (cr.kind === 'multi') p.node.multi.push(cr);
        else if (cr.kind === 'dyn') p.node.dyn.push(cr);
        else p.node.funcs.push(cr);
      } catch (e) {
        if (e instanceof RegoError) this.errors.push(e);
        else throw e;
      }
    }
    this.checkConflicts(this.root);
    const markConstants = (n: RuleNode): void => {
      const r = n.complete[0];
      if (
        n.complete.length === 1 &&
        r !== undefined &&
        !n.defaultRule &&
        !n.multi.length &&
        !n.dyn.length &&
        !n.funcs.length &&
        r.body.length === 0 &&
        r.else === undefined &&
        r.constValue !== undefined
      )
        n.constant = r.constValue;
      for (const c of n.children.values()) markConstants(c);
    };
    markConstants(this.root);
    if (this.errors.length === 0) checkRecursion(this.root, this.allRules, (c, m, l) => this.err(c, m, l));
    // OPA's checkTypes runs after the safety and recursion checks
    if (this.errors.length === 0) new TypeChecker(modules, this.registry, (e) => this.errors.push(e)).check();
    if (this.errors.length) throw new CompileErrors(byStage(this.errors));
    return { root: this.root, rules: this.allRules };
  }

  private pkgCtx(m: Module): PkgCtx {
    const imports = new Map<string, Term[]>();
    const strict = m.v1Checks !== false;
    const seen = new Map<string, string>();
    for (const imp of m.imports) {
      const terms = imp.path.type === 'ref' ? imp.path.terms : [imp.path];
      const head = terms[0]!;
      if (head.type !== 'var') continue;
      if (head.name === 'future' || head.name === 'rego') continue;
      let alias = imp.alias;
      if (alias === undefined) {
        const last = terms[terms.length - 1]!;
        if (terms.length === 1) alias = head.name;
        else if (last.type === 'scalar' && typeof last.value === 'string') alias = last.value;
      }
      if (alias === undefined) continue;
      // v1 (OPA's NoDuplicateImports): a second import of the same name is an error
      const path = refToStrings(terms)?.join('.') ?? alias;
      const prev = seen.get(alias);
      if (strict && prev !== undefined)
        this.err('rego_compile_error', `import must not shadow import ${prev}`, imp.loc);
      if (prev === undefined) seen.set(alias, path);
      if (!(terms.length === 1 && (alias === 'input' || alias === 'data'))) imports.set(alias, terms);
    }
    if (strict) this.checkRootOverrides(m);
    return {
      pkgPath: m.packagePath,
      globals: this.pkgGlobals.get(m.packagePath.join('.')) ?? new Set(),
      imports,
      file: m.file,
      v1Checks: strict,
    };
  }

  /** v1 (OPA's NoRootDocumentOverrides): rules and `:=` variables must not be named `input` or `data`. */
  private checkRootOverrides(m: Module): void {
    const visit = (body: readonly Expr[]): void => {
      for (const e of body) {
        if (
          e.kind === 'unify' &&
          e.assign &&
          e.a.type === 'var' &&
          (e.a.name === 'input' || e.a.name === 'data')
        )
          this.err(
            'rego_compile_error',
            `variables must not shadow ${e.a.name} (use a different variable name)`,
            e.loc,
          );
        if (e.kind === 'every') visit(e.body);
      }
    };
    for (const r of m.rules) {
      const h = r.head.ref[0];
      if (h?.type === 'var' && (h.name === 'input' || h.name === 'data'))
        this.err('rego_compile_error', `rules must not shadow ${h.name} (use a different rule name)`, r.loc);
      for (let cur: Rule | undefined = r; cur; cur = cur.else) visit(cur.body);
    }
  }

  private placeRule(r: Rule, ctx: PkgCtx): { node: RuleNode; keyPath: Term[] } | undefined {
    const ref = r.head.ref;
    const head = ref[0]!;
    if (head.type !== 'var') {
      this.err('rego_parse_error', 'invalid rule head', r.loc);
      return undefined;
    }
    let node = this.root;
    for (const s of ctx.pkgPath) node = node.child(s);
    node = node.child(head.name);
    let i = 1;
    for (; i < ref.length; i++) {
      const t = ref[i]!;
      if (t.type === 'scalar' && typeof t.value === 'string') node = node.child(t.value);
      else break;
    }
    const keyPath = ref.slice(i);
    if (r.head.args !== undefined && keyPath.length) {
      this.err('rego_parse_error', 'function rule heads must be constant refs', r.loc);
      return undefined;
    }
    if (r.default && keyPath.length) {
      this.err('rego_compile_error', 'default rules must have a constant reference', r.loc);
      return undefined;
    }
    return { node, keyPath };
  }

  private checkConflicts(n: RuleNode): void {
    const kinds =
      (n.complete.length || (n.defaultRule && !n.funcs.length) ? 1 : 0) +
      (n.multi.length ? 1 : 0) +
      (n.funcs.length ? 1 : 0);
    if (kinds > 1) {
      const r = n.complete[0] ?? n.multi[0] ?? n.funcs[0] ?? n.defaultRule;
      this.err('rego_type_error', `conflicting rules data.${n.path.join('.')} found`, r!.loc);
    }
    if ((n.complete.length || n.multi.length || n.funcs.length) && n.children.size) {
      for (const c of n.children.values()) {
        if (c.hasRulesBelow && (n.multi.length || n.funcs.length)) {
          this.err(
            'rego_type_error',
            `rule data.${c.path.join('.')} conflicts with data.${n.path.join('.')}`,
            n.complete[0]?.loc ?? n.multi[0]?.loc ?? n.funcs[0]!.loc,
          );
          break;
        }
      }
    }
    for (const c of n.children.values()) this.checkConflicts(c);
  }

  // --- rules -----------------------------------------------------------------------------------------------------

  private compileRule(r: Rule, ctx: PkgCtx, node: RuleNode, keyPath: Term[]): CRule | undefined {
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
        this.err('rego_compile_error', 'rule arguments cannot contain calls', call.loc);
        return undefined;
      }
    }
    const fnArgs = r.head.args?.map((a): Term => {
      if (!requiresEval(a)) return a;
      const v: Term = { type: 'var', name: `${GENERATED_PREFIX}arg${this.fresh++}`, loc: a.loc };
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
      checkRedeclarations(rule0.body, r.head.args ?? [], isLocalName, (e) => this.errors.push(e), headTerms);
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
      const args = fnArgs?.map((a) => this.term(a, scope, ctx));
      const argSlots = new Set<number>();
      for (const a of args ?? []) for (const s of slotsIn(a)) argSlots.add(s);
      const body = this.body(rule.body, scope, ctx, argSlots);
      const bound = new Set<number>(argSlots);
      for (const e of body) for (const s of exprSlots(e)) bound.add(s);
      const cKeyPath = keyPath.map((t) => this.term(t, scope, ctx));
      const key = rule.head.key ? this.term(rule.head.key, scope, ctx) : undefined;
      const valueTerm: Term = rule.head.value ?? { type: 'scalar', value: true, loc: rule.head.loc };
      const value = this.term(valueTerm, scope, ctx);
      for (const t of [...cKeyPath, ...(key ? [key] : []), value]) {
        for (const s of t.needs) {
          if (!bound.has(s)) {
            const name = slotName(scope, s) ?? '_';
            this.err('rego_unsafe_var_error', `var ${name} is unsafe`, t.loc);
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
      this.allRules.push(cr);
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

  // --- bodies ----------------------------------------------------------------------------------------------------

  /** Compile a body in `scope` and reorder it for safety; `bound` holds slots bound before the body runs. */
  body(exprs: readonly Expr[], scope: Scope, ctx: PkgCtx, bound: ReadonlySet<number>): CExpr[] {
    const out: CExpr[] = [];
    const isDocument = (name: string): boolean =>
      !isLocal(scope, name) &&
      (name === 'input' || name === 'data' || ctx.globals.has(name) || ctx.imports.has(name));
    exprs.forEach((e, idx) => {
      const h = hoistNegated(e, () => `${GENERATED_PREFIX}neg${this.fresh++}`, isDocument);
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
    return this.reorder(out, scope, bound);
  }

  private reorder(exprs: CExpr[], scope: Scope, initial: ReadonlySet<number>): CExpr[] {
    const bound = new Set(initial);
    // occurrence counts: negated expressions may keep vars that appear nowhere else local to themselves.
    const count = new Map<number, number>();
    for (const e of exprs) for (const s of new Set(exprSlots(e))) count.set(s, (count.get(s) ?? 0) + 1);
    const remaining = [...exprs];
    const out: CExpr[] = [];
    while (remaining.length) {
      let picked = -1;
      for (let i = 0; i < remaining.length; i++) {
        if (this.ready(remaining[i]!, bound, count)) {
          picked = i;
          break;
        }
      }
      if (picked < 0) {
        const e = remaining[0]!;
        const unsafe = new Set<string>();
        for (const r of remaining) {
          for (const s of this.missing(r, bound, count)) {
            const n = slotName(scope, s);
            if (n !== undefined && !n.startsWith('$')) unsafe.add(n);
          }
        }
        const names = [...unsafe].sort();
        if (names.length === 0) names.push('_');
        for (const n of names) this.err('rego_unsafe_var_error', `var ${n} is unsafe`, e.loc);
        return out.concat(remaining);
      }
      const e = remaining.splice(picked, 1)[0]!;
      out.push(e);
      if (!e.neg && e.k !== 'every') for (const s of exprSlots(e)) bound.add(s);
    }
    return out;
  }

  private missing(e: CExpr, bound: ReadonlySet<number>, count: ReadonlyMap<number, number>): number[] {
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
      if (e.k === 'every') need(e.domain.needs);
      if (e.k === 'every') need(closureNeeds(e));
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

  private ready(e: CExpr, bound: ReadonlySet<number>, count: ReadonlyMap<number, number>): boolean {
    return this.missing(e, bound, count).length === 0;
  }

  private expr(e: Expr, scope: Scope, ctx: PkgCtx, idx: number): CExpr[] | undefined {
    const withs = e.with.length
      ? e.with.map((w) => this.withMod(w.target, w.value, w.loc, scope, ctx))
      : undefined;
    const base = { neg: e.negated, withs, loc: e.loc, idx, text: e.text ?? '' };
    switch (e.kind) {
      case 'some':
        return [{ ...base, k: 'nop' }];
      case 'term': {
        const t = e.term;
        // call with output argument: f(x, out)
        if (t.type === 'call') {
          const arity = this.callArity(t.op, ctx, scope);
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
            this.err('rego_compile_error', `cannot assign to ${e.a.type}`, e.loc);
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
        if (key) for (const s of slotsIn(key)) bound.add(s);
        for (const s of slotsIn(val)) bound.add(s);
        const body = this.body(e.body, inner, ctx, bound);
        return [{ ...base, k: 'every', key, val, domain, body }];
      }
    }
  }

  private withMod(target: Term, value: Term, loc: Location, scope: Scope, ctx: PkgCtx): CWith {
    const w = this.withMod0(target, value, loc, scope, ctx);
    if (w.target.kind === 'fn' && (value.type === 'var' || value.type === 'ref')) {
      const terms = value.type === 'ref' ? value.terms : [value];
      const h = terms[0]!;
      if (h.type === 'var' && !isLocal(scope, h.name)) {
        const fn = this.resolveFn(value, ctx, scope, false);
        if (fn) {
          w.fn = fn;
          w.value = { k: 'const', v: null, loc: w.value.loc, needs: [] };
        }
      }
    }
    return w;
  }

  private withMod0(target: Term, value: Term, loc: Location, scope: Scope, ctx: PkgCtx): CWith {
    const v = this.term(value, scope, ctx);
    const terms = target.type === 'ref' ? target.terms : [target];
    const head = terms[0]!;
    const path: string[] = [];
    for (const t of terms.slice(1)) {
      if (t.type === 'scalar' && typeof t.value === 'string') path.push(t.value);
      else {
        this.err('rego_compile_error', 'with keyword target must be a constant reference', loc);
        break;
      }
    }
    if (head.type === 'var' && head.name === 'input' && !isLocal(scope, 'input'))
      return { target: { kind: 'input', path }, value: v, loc };
    if (head.type === 'var' && head.name === 'data') {
      const node = this.lookupNode(path);
      if (node && node.funcs.length)
        return { target: { kind: 'fn', key: 'data.' + path.join('.') }, value: v, loc };
      return { target: { kind: 'data', path }, value: v, loc };
    }
    if (head.type === 'var') {
      // function (user or builtin) or package-local rule
      const name = [head.name, ...path].join('.');
      if (ctx.globals.has(head.name)) {
        const full = [...ctx.pkgPath, head.name, ...path];
        const node = this.lookupNode(full);
        if (node && node.funcs.length)
          return { target: { kind: 'fn', key: 'data.' + full.join('.') }, value: v, loc };
        return { target: { kind: 'data', path: full }, value: v, loc };
      }
      const imp = ctx.imports.get(head.name);
      if (imp) {
        const p = refToStrings(imp);
        if (p && p[0] === 'data') {
          const full = [...p.slice(1), ...path];
          const node = this.lookupNode(full);
          if (node && node.funcs.length)
            return { target: { kind: 'fn', key: 'data.' + full.join('.') }, value: v, loc };
          return { target: { kind: 'data', path: full }, value: v, loc };
        }
        if (p && p[0] === 'input')
          return { target: { kind: 'input', path: [...p.slice(1), ...path] }, value: v, loc };
      }
      if (this.registry.has(name) || UNAVAILABLE.has(name) || name === 'print' || name === 'walk')
        return { target: { kind: 'fn', key: name }, value: v, loc };
      this.err(
        'rego_compile_error',
        `with keyword target must reference existing input, data, or a function`,
        loc,
      );
    }
    return { target: { kind: 'input', path: [] }, value: v, loc };
  }

  private lookupNode(path: readonly string[]): RuleNode | undefined {
    let n: RuleNode | undefined = this.root;
    for (const s of path) {
      n = n.children.get(s);
      if (!n) return undefined;
    }
    return n;
  }

  /** Arity of the called function (-1 if variadic/unknown). */
  private callArity(op: Term, ctx: PkgCtx, scope: Scope): number | undefined {
    const fn = this.resolveFn(op, ctx, scope, false);
    if (!fn) return undefined;
    if (fn.kind === 'builtin') return fn.def.args.length;
    if (fn.kind === 'user') return fn.node.arity;
    if (fn.kind === 'walk') return 1;
    return -1;
  }

  private resolveFn(op: Term, ctx: PkgCtx, scope: Scope, report: boolean): FnRef | undefined {
    const terms = op.type === 'ref' ? op.terms : [op];
    const strs = refToStrings(terms);
    if (!strs) {
      if (report) this.err('rego_type_error', 'invalid function reference', op.loc);
      return undefined;
    }
    const [h, ...rest] = strs as [string, ...string[]];
    const name = strs.join('.');
    if (isLocal(scope, h)) {
      if (report) this.err('rego_type_error', `undefined function ${name}`, op.loc);
      return undefined;
    }
    let dataPath: string[] | undefined;
    if (h === 'data') dataPath = rest;
    else if (ctx.globals.has(h)) dataPath = [...ctx.pkgPath, h, ...rest];
    else {
      const imp = ctx.imports.get(h);
      if (imp) {
        const p = refToStrings(imp);
        if (p && p[0] === 'data') dataPath = [...p.slice(1), ...rest];
      }
    }
    if (dataPath) {
      const node = this.lookupNode(dataPath);
      if (node && node.arity >= 0) return { kind: 'user', name: 'data.' + dataPath.join('.'), node };
      if (report) this.err('rego_type_error', `undefined function data.${dataPath.join('.')}`, op.loc);
      return undefined;
    }
    if (name === 'print') return { kind: 'print', name: 'print' };
    if (name === 'walk') return { kind: 'walk', name: 'walk' };
    const def = this.registry.get(name) ?? UNAVAILABLE.get(name);
    if (def) {
      const native = NATIVE_OPS.has(name) && def.name === name ? (name as NativeOp) : undefined;
      return native ? { kind: 'builtin', name, def, native } : { kind: 'builtin', name, def };
    }
    if (report) this.err('rego_type_error', `undefined function ${name}`, op.loc);
    return undefined;
  }

  // --- terms -----------------------------------------------------------------------------------------------------

  term(t: Term, scope: Scope, ctx: PkgCtx): CTerm {
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
      case 'call': {
        const meta = this.metadataCall(t, scope, ctx);
        if (meta) return meta;
        const fn = this.resolveFn(t.op, ctx, scope, true);
        if (ctx.v1Checks && fn?.kind === 'builtin' && DEPRECATED.has(fn.name))
          this.err('rego_type_error', `deprecated built-in function calls in expression: ${fn.name}`, t.loc);
        const args = t.args.map((x) => this.term(x, scope, ctx));
        if (fn) {
          const want =
            fn.kind === 'builtin'
              ? fn.def.args.length
              : fn.kind === 'user'
                ? fn.node.arity
                : fn.kind === 'walk'
                  ? 1
                  : -1;
          if (want >= 0 && args.length !== want) {
            this.err(
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
                this.err(
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
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp': {
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
          for (const n of [...names].sort()) this.err('rego_unsafe_var_error', `var ${n} is unsafe`, t.loc);
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

  private varTerm(name: string, loc: Location, scope: Scope, ctx: PkgCtx): CTerm {
    if (name === '_') {
      const slot = scope.fresh();
      return { k: 'var', slot, name: '_', loc, needs: [slot] };
    }
    const local = lookupLocal(scope, name, true);
    if (local !== undefined) return { k: 'var', slot: local, name, loc, needs: [local] };
    if (name === 'input') return { k: 'input', loc, needs: [] };
    if (name === 'data') return { k: 'data', loc, needs: [] };
    if (ctx.globals.has(name)) return this.globalRef([...ctx.pkgPath, name], [], loc);
    const imp = ctx.imports.get(name);
    if (imp) return this.refTerm(imp, loc, scope, ctx);
    const slot = lookupLocal(scope, name, false) ?? scope.slotOf(name);
    return { k: 'var', slot, name, loc, needs: [slot] };
  }

  private globalRef(path: string[], rest: CTerm[], loc: Location): CTerm {
    const p: CTerm[] = path.map((s) => ({ k: 'const', v: s, loc, needs: [] }));
    p.push(...rest);
    const ref: CTerm = {
      k: 'ref',
      head: { k: 'data', loc, needs: [] },
      path: p,
      loc,
      needs: unionNeeds(rest.filter((x) => x.k !== 'var')),
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

  private refTerm(terms: readonly Term[], loc: Location, scope: Scope, ctx: PkgCtx): CTerm {
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

  // --- queries ---------------------------------------------------------------------------------------------------

  compileQuery(
    exprs: readonly Expr[],
    pkgPath: string[] = [],
    imports: Map<string, Term[]> = new Map(),
  ): { body: CExpr[]; nslots: number; vars: Map<string, number> } {
    this.errors = [];
    const alloc = new Alloc();
    const declared = new Set<string>();
    const appear = new Set<string>();
    collectBodyVars(exprs, declared, appear);
    const scope = new Scope(undefined, alloc, declared, appear);
    preallocate(scope);
    const globals = this.pkgGlobals.get(pkgPath.join('.')) ?? new Set<string>();
    const ctx: PkgCtx = { pkgPath, globals: pkgPath.length ? globals : new Set(), imports, file: 'query' };
    checkRedeclarations(
      exprs,
      [],
      (n) => n !== 'input' && n !== 'data' && !ctx.globals.has(n) && !imports.has(n),
      (e) => this.errors.push(e),
    );
    const body = this.body(exprs, scope, ctx, new Set());
    if (this.errors.length) throw new CompileErrors(this.errors);
    for (const e of body) if (!e.gen) e.q = true;
    const vars = new Map<string, number>();
    for (const [n, s] of scope.slots)
      if (!n.startsWith('_') && !n.startsWith(GENERATED_PREFIX)) vars.set(n, s);
    return { body, nslots: alloc.n, vars };
  }

  compileTermStandalone(t: Term): CTerm {
    this.errors = [];
    const scope = new Scope(undefined, new Alloc(), new Set(), new Set());
    const ct = this.term(t, scope, { pkgPath: [], globals: new Set(), imports: new Map(), file: 'term' });
    if (this.errors.length) throw new CompileErrors(this.errors);
    return ct;
  }
}

/**
 * OPA stops at the first compiler stage that fails: safety (rego_unsafe_var_error) runs before type checking, so
 * the type errors this compiler finds in the same pass are not reported next to unsafe variables.
 */
function byStage(errors: RegoError[]): RegoError[] {
  if (!errors.some((e) => e.code === 'rego_unsafe_var_error')) return errors;
  return errors.filter((e) => e.code !== 'rego_type_error');
}
