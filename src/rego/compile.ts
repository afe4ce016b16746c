/**
 * Compiler: AST -> IR, in OPA's stage order. Each stage is its own file:
 *  1. rule tree (compile-rule-tree.ts): package and rule nodes (ref heads), package contexts (imports), arities;
 *  2. rules (compile-rules.ts) and their bodies/terms (compile-body.ts): name resolution (compile-resolve.ts),
 *     variable slots (compile-scope.ts), OPA's rewrites (compile-rewrite.ts), safety reordering
 *     (compile-safety.ts, on the slot analysis of compile-slots.ts);
 *  3. tree checks (conflicting rules) and constant rules (compile-rule-tree.ts);
 *  4. recursion (compile-recursion.ts), then types (compile-types.ts), each only if everything before passed.
 */
import { AnnotationIndex } from './annotations.js';
import type { Expr, Module, Rule, Term } from './ast.js';
import type { BuiltinRegistry } from './builtins/registry.js';
import { BodyCompiler } from './compile-body.js';
import { Diagnostics, GENERATED_PREFIX } from './compile-context.js';
import type { PackageContext } from './compile-context.js';
import { checkRecursion } from './compile-recursion.js';
import { NameResolver } from './compile-resolve.js';
import {
  attachRule,
  checkConflicts,
  declarePackages,
  markConstants,
  packageContext,
  placeRule,
  setFunctionArities,
} from './compile-rule-tree.js';
import type { PlacedRule } from './compile-rule-tree.js';
import { compileRule } from './compile-rules.js';
import { checkRedeclarations } from './compile-rewrite.js';
import { Alloc, Scope, collectBodyVars, preallocate } from './compile-scope.js';
import { TypeChecker } from './compile-types.js';
import { RegoError } from './errors.js';
import type { CExpr, CRule, CTerm } from './ir.js';
import { RuleNode } from './ir.js';

export class CompileErrors extends Error {
  constructor(readonly errors: RegoError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'CompileErrors';
  }
}

export interface CompiledModules {
  root: RuleNode;
  rules: CRule[];
}

export interface CompiledQuery {
  body: CExpr[];
  nslots: number;
  /** Query variable name -> slot (the bindings reported in results). */
  vars: Map<string, number>;
}

/** Compiles a set of modules once (compileModules), then queries and terms against their rule tree. */
export class Compiler {
  readonly root = new RuleNode([], undefined);
  private readonly diag = new Diagnostics();
  private readonly allRules: CRule[] = [];
  /** Package path key -> first segments of rule names declared in it. */
  private pkgGlobals = new Map<string, Set<string>>();
  private readonly resolver: NameResolver;
  private readonly bodies: BodyCompiler;

  constructor(private readonly registry: BuiltinRegistry) {
    this.resolver = new NameResolver(this.root, registry, this.diag);
    this.bodies = new BodyCompiler(this.root, this.resolver, this.diag);
  }

  compileModules(modules: readonly Module[]): CompiledModules {
    const diag = this.diag;
    this.resolver.annotations = new AnnotationIndex(modules);
    // Stage 1: the rule tree. Nodes must exist before bodies are compiled (function resolution looks them up).
    this.pkgGlobals = declarePackages(modules, this.root);
    const pending: { r: Rule; ctx: PackageContext }[] = [];
    for (const m of modules) {
      const ctx = packageContext(m, this.pkgGlobals, diag);
      for (const r of m.rules) pending.push({ r, ctx });
    }
    const placed: PlacedRule[] = [];
    for (const { r, ctx } of pending) {
      const p = placeRule(this.root, r, ctx, diag);
      if (p) placed.push(p);
    }
    setFunctionArities(placed, diag);
    // Stage 2: rules.
    for (const p of placed) {
      try {
        const cr = compileRule(p, this.bodies, diag, this.allRules);
        if (cr) attachRule(p, cr, diag);
      } catch (e) {
        if (e instanceof RegoError) diag.add(e);
        else throw e;
      }
    }
    // Stage 3: the whole tree.
    checkConflicts(this.root, diag);
    markConstants(this.root);
    // Stage 4: OPA's checkTypes runs after the safety and recursion checks.
    if (!diag.failed) checkRecursion(this.root, this.allRules, (c, m, l) => diag.report(c, m, l));
    if (!diag.failed) new TypeChecker(modules, this.registry, (e) => diag.add(e)).check();
    if (diag.failed) throw new CompileErrors(byStage(diag.errors));
    return { root: this.root, rules: this.allRules };
  }

  compileQuery(
    exprs: readonly Expr[],
    pkgPath: string[] = [],
    imports = new Map<string, Term[]>(),
  ): CompiledQuery {
    this.diag.errors = [];
    const alloc = new Alloc();
    const declared = new Set<string>();
    const appear = new Set<string>();
    collectBodyVars(exprs, declared, appear);
    const scope = new Scope(undefined, alloc, declared, appear);
    preallocate(scope);
    const globals = this.pkgGlobals.get(pkgPath.join('.')) ?? new Set<string>();
    const ctx: PackageContext = {
      pkgPath,
      globals: pkgPath.length ? globals : new Set(),
      imports,
      file: 'query',
    };
    checkRedeclarations(
      exprs,
      [],
      (n) => n !== 'input' && n !== 'data' && !ctx.globals.has(n) && !imports.has(n),
      (e) => this.diag.add(e),
    );
    const body = this.bodies.body(exprs, scope, ctx, new Set());
    if (this.diag.failed) throw new CompileErrors(this.diag.errors);
    for (const e of body) if (!e.gen) e.q = true;
    const vars = new Map<string, number>();
    for (const [n, s] of scope.slots)
      if (!n.startsWith('_') && !n.startsWith(GENERATED_PREFIX)) vars.set(n, s);
    return { body, nslots: alloc.n, vars };
  }

  compileTermStandalone(t: Term): CTerm {
    this.diag.errors = [];
    const scope = new Scope(undefined, new Alloc(), new Set(), new Set());
    const ct = this.bodies.term(t, scope, {
      pkgPath: [],
      globals: new Set(),
      imports: new Map(),
      file: 'term',
    });
    if (this.diag.failed) throw new CompileErrors(this.diag.errors);
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
