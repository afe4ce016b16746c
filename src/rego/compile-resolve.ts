/**
 * Compile stage: name resolution. What a called name is (a user function in the rule tree, a builtin, `print`,
 * `walk`), what a `with` target replaces (input, data, or a function), and OPA's RewriteRegoMetadataCalls (inside a
 * rule, `rego.metadata.chain()` and `rego.metadata.rule()` are constants from its METADATA annotations).
 */
import { AnnotationIndex, annotationValue } from './annotations.js';
import type { Term } from './ast.js';
import type { BuiltinDef, BuiltinRegistry } from './builtins/registry.js';
import { BuiltinError } from './builtins/registry.js';
import type { Diagnostics, PackageContext } from './compile-context.js';
import { lookupNode } from './compile-rule-tree.js';
import { isLocal, refToStrings } from './compile-scope.js';
import type { Scope } from './compile-scope.js';
import type { Location } from './errors.js';
import type { CTerm, CWith, FnRef, RuleNode } from './ir.js';
import { ObjectValue } from './value.js';

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

type NativeOp = 'equal' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';
/** Comparisons the evaluator runs inline instead of through the builtin registry. */
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

export class NameResolver {
  /** METADATA annotations by scope (OPA's AnnotationSet), set once the modules are known. */
  annotations = new AnnotationIndex([]);

  constructor(
    private readonly root: RuleNode,
    private readonly registry: BuiltinRegistry,
    private readonly diag: Diagnostics,
  ) {}

  isDeprecated(fn: FnRef): boolean {
    return fn.kind === 'builtin' && DEPRECATED.has(fn.name);
  }

  /** The called function; with `report`, an unknown name is a type error. */
  resolveFunction(op: Term, ctx: PackageContext, scope: Scope, report: boolean): FnRef | undefined {
    const terms = op.type === 'ref' ? op.terms : [op];
    const strs = refToStrings(terms);
    if (!strs) {
      if (report) this.diag.report('rego_type_error', 'invalid function reference', op.loc);
      return undefined;
    }
    const [h, ...rest] = strs as [string, ...string[]];
    const name = strs.join('.');
    if (isLocal(scope, h)) {
      if (report) this.diag.report('rego_type_error', `undefined function ${name}`, op.loc);
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
      const node = lookupNode(this.root, dataPath);
      if (node && node.arity >= 0) return { kind: 'user', name: 'data.' + dataPath.join('.'), node };
      if (report)
        this.diag.report('rego_type_error', `undefined function data.${dataPath.join('.')}`, op.loc);
      return undefined;
    }
    if (name === 'print') return { kind: 'print', name: 'print' };
    if (name === 'walk') return { kind: 'walk', name: 'walk' };
    const def = this.registry.get(name) ?? UNAVAILABLE.get(name);
    if (def) {
      const native = NATIVE_OPS.has(name) && def.name === name ? (name as NativeOp) : undefined;
      return native ? { kind: 'builtin', name, def, native } : { kind: 'builtin', name, def };
    }
    if (report) this.diag.report('rego_type_error', `undefined function ${name}`, op.loc);
    return undefined;
  }

  /** Arity of the called function (-1 if variadic/unknown, undefined if it does not resolve). */
  callArity(op: Term, ctx: PackageContext, scope: Scope): number | undefined {
    const fn = this.resolveFunction(op, ctx, scope, false);
    return fn ? arityOf(fn) : undefined;
  }

  /** What a `with` target replaces: input or data at a constant path, or a (user or builtin) function. */
  withTarget(target: Term, loc: Location, scope: Scope, ctx: PackageContext): CWith['target'] {
    const terms = target.type === 'ref' ? target.terms : [target];
    const head = terms[0]!;
    const path: string[] = [];
    for (const t of terms.slice(1)) {
      if (t.type === 'scalar' && typeof t.value === 'string') path.push(t.value);
      else {
        this.diag.report('rego_compile_error', 'with keyword target must be a constant reference', loc);
        break;
      }
    }
    if (head.type === 'var' && head.name === 'input' && !isLocal(scope, 'input'))
      return { kind: 'input', path };
    if (head.type === 'var' && head.name === 'data') return this.dataOrFunction(path);
    if (head.type === 'var') {
      // function (user or builtin) or package-local rule
      const name = [head.name, ...path].join('.');
      if (ctx.globals.has(head.name)) return this.dataOrFunction([...ctx.pkgPath, head.name, ...path]);
      const imp = ctx.imports.get(head.name);
      if (imp) {
        const p = refToStrings(imp);
        if (p && p[0] === 'data') return this.dataOrFunction([...p.slice(1), ...path]);
        if (p && p[0] === 'input') return { kind: 'input', path: [...p.slice(1), ...path] };
      }
      if (this.registry.has(name) || UNAVAILABLE.has(name) || name === 'print' || name === 'walk')
        return { kind: 'fn', key: name };
      this.diag.report(
        'rego_compile_error',
        `with keyword target must reference existing input, data, or a function`,
        loc,
      );
    }
    return { kind: 'input', path: [] };
  }

  private dataOrFunction(path: string[]): CWith['target'] {
    const node = lookupNode(this.root, path);
    if (node && node.funcs.length) return { kind: 'fn', key: 'data.' + path.join('.') };
    return { kind: 'data', path };
  }

  /** OPA's RewriteRegoMetadataCalls: inside a rule, the metadata builtins are constants. */
  metadataConstant(t: Term & { type: 'call' }, scope: Scope, ctx: PackageContext): CTerm | undefined {
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
}

/** Number of arguments a resolved function takes (-1: any number). */
export function arityOf(fn: FnRef): number {
  if (fn.kind === 'builtin') return fn.def.args.length;
  if (fn.kind === 'user') return fn.node.arity;
  if (fn.kind === 'walk') return 1;
  return -1;
}
