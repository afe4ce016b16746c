/**
 * Compile stage: a conservative subset of OPA's type checker (v1/ast/check.go). Types are sets of top-level type
 * names (`number`, `string`, ...), known for literals, comprehensions, templates, builtin results, locals assigned
 * with `:=`, and the values of the package's rules and functions; everything else is "any". An ill-typed module is
 * refused with rego_type_error only when a type is certainly wrong:
 *  - a builtin operand whose type cannot be what the builtin declares (`x := 1; split(x, ".")`);
 *  - a user function called with an operand its body cannot take (`f(a) := upper(a)`, `f(1)`);
 *  - a constant key missing from a non-empty object literal's keys, or an index outside a non-empty array literal
 *    (`x := {"a": 1}; x.b`; OPA types an empty literal as open).
 * Whatever is unsure is accepted: this must never refuse a module OPA accepts. `every` bodies and expressions with
 * `with` are not checked (OPA 0.47 does not type-check `every` bodies; `with` may replace functions).
 */
import type { Expr, Module, Rule, Term } from './ast.js';
import type { ArgType, BuiltinDef, BuiltinRegistry } from './builtins/index.js';
import { RegoError } from './errors.js';
import { refToStrings } from './compile-scope.js';
import { typeName } from './value.js';
import type { TypeName } from './value.js';

/** A known type: possible type names, and for literals the object's constant keys or the array's length. */
interface KnownType {
  names: ReadonlySet<TypeName>;
  keys?: ReadonlySet<string>;
  len?: number;
}
/** undefined: any. */
type Ty = KnownType | undefined;

const one = (n: TypeName): KnownType => ({ names: new Set([n]) });

/**
 * Result types of builtins, from OPA's declarations (top level only). Builtins OPA declares as returning any
 * (object.union, object.get, json.unmarshal, max, ...) are absent: their result is any here too.
 */
const RESULTS: Record<string, readonly TypeName[]> = {
  upper: ['string'],
  lower: ['string'],
  trim: ['string'],
  trim_space: ['string'],
  trim_prefix: ['string'],
  trim_suffix: ['string'],
  trim_left: ['string'],
  trim_right: ['string'],
  replace: ['string'],
  substring: ['string'],
  concat: ['string'],
  sprintf: ['string'],
  format_int: ['string'],
  'strings.reverse': ['string'],
  type_name: ['string'],
  'json.marshal': ['string'],
  split: ['array'],
  'numbers.range': ['array'],
  sort: ['array'],
  'array.concat': ['array'],
  'array.slice': ['array'],
  'array.reverse': ['array'],
  union: ['set'],
  intersection: ['set'],
  count: ['number'],
  abs: ['number'],
  round: ['number'],
  ceil: ['number'],
  floor: ['number'],
  indexof: ['number'],
  sum: ['number'],
  product: ['number'],
  to_number: ['number'],
  startswith: ['boolean'],
  endswith: ['boolean'],
  contains: ['boolean'],
  'regex.match': ['boolean'],
  'glob.match': ['boolean'],
  'semver.is_valid': ['boolean'],
  is_array: ['boolean'],
  is_number: ['boolean'],
  is_set: ['boolean'],
  is_string: ['boolean'],
  is_object: ['boolean'],
  is_boolean: ['boolean'],
  is_null: ['boolean'],
  all: ['boolean'],
  any: ['boolean'],
  mul: ['number'],
  div: ['number'],
  rem: ['number'],
  equal: ['boolean'],
  neq: ['boolean'],
  lt: ['boolean'],
  lte: ['boolean'],
  gt: ['boolean'],
  gte: ['boolean'],
};

function argNames(t: ArgType): ReadonlySet<string> | undefined {
  if (t === 'any') return undefined;
  const list = typeof t === 'string' ? [t] : t;
  if (list.includes('any')) return undefined;
  return new Set(list);
}

/** The type can only be something `want` excludes. */
function disjoint(ty: Ty, want: ReadonlySet<string> | undefined): boolean {
  if (!ty || !want) return false;
  for (const n of ty.names) if (want.has(n)) return false;
  return true;
}

function union(a: Ty, b: Ty): Ty {
  if (!a || !b) return undefined;
  return { names: new Set([...a.names, ...b.names]) };
}

function show(ty: Ty): string {
  return ty ? [...ty.names].join('|') : 'any';
}

interface FnInfo {
  /** Per parameter, the type names its body accepts (undefined: any). */
  params: (ReadonlySet<string> | undefined)[];
}

export class TypeChecker {
  private readonly ruleTypes = new Map<string, Ty | 'pending'>();
  private readonly fnInfo = new Map<string, FnInfo | undefined>();
  /** Rules by package path + name. */
  private readonly rules = new Map<string, Rule[]>();
  private readonly globals = new Map<string, Set<string>>();

  constructor(
    private readonly modules: readonly Module[],
    private readonly registry: BuiltinRegistry,
    private readonly report: (e: RegoError) => void,
  ) {
    for (const m of modules) {
      const pkg = m.packagePath.join('.');
      let g = this.globals.get(pkg);
      if (!g) this.globals.set(pkg, (g = new Set()));
      for (const r of m.rules) {
        const h = r.head.ref[0];
        if (h?.type !== 'var') continue;
        g.add(h.name);
        const key = `${pkg}.${h.name}`;
        const list = this.rules.get(key) ?? [];
        list.push(r);
        this.rules.set(key, list);
      }
    }
  }

  check(): void {
    for (const m of this.modules) {
      const pkg = m.packagePath.join('.');
      const imports = new Set<string>();
      for (const i of m.imports) {
        if (i.alias) imports.add(i.alias);
        else if (i.path.type === 'ref') {
          const s = refToStrings(i.path.terms);
          if (s) imports.add(s[s.length - 1]!);
        } else if (i.path.type === 'var') imports.add(i.path.name);
      }
      for (const r0 of m.rules) {
        for (let r: Rule | undefined = r0; r; r = r.else) {
          const env = this.bodyEnv(r.body, new Map(), pkg, imports, r0.head.args);
          this.checkBody(r.body, env, pkg, imports);
          for (const t of [...r.head.ref.slice(1), r.head.key, r.head.value])
            if (t) this.typeOf(t, env, pkg, imports, true);
        }
      }
    }
  }

  // --- environments ---------------------------------------------------------------------------------------------

  private bodyEnv(
    body: readonly Expr[],
    outer: ReadonlyMap<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
    args?: readonly Term[],
  ): Map<string, Ty> {
    const env = new Map(outer);
    // function arguments and other declared names shadow outer types and rules: any
    for (const a of args ?? []) for (const v of plainVars(a)) env.set(v, undefined);
    for (const e of body) {
      if (e.kind === 'some') for (const v of e.vars) if (v.type === 'var') env.set(v.name, undefined);
      if (e.kind === 'somein')
        for (const t of [e.key, e.value]) if (t) for (const v of plainVars(t)) env.set(v, undefined);
      if (e.kind === 'unify' && e.assign) for (const v of plainVars(e.a)) env.set(v, undefined);
    }
    // two passes: an assignment may use a local assigned further down (bodies are reordered for safety)
    for (let pass = 0; pass < 2; pass++)
      for (const e of body)
        if (e.kind === 'unify' && e.assign && e.a.type === 'var' && !e.negated && e.with.length === 0)
          env.set(e.a.name, this.typeOf(e.b, env, pkg, imports, false));
    return env;
  }

  private checkBody(
    body: readonly Expr[],
    env: Map<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
  ): void {
    for (const e of body) {
      if (e.with.length) continue;
      switch (e.kind) {
        case 'term': {
          const ty = this.typeOf(e.term, env, pkg, imports, true);
          // OPA rewrites an `a == b` expression to the unification `a = b` before checking types
          const t = e.term;
          if (ty && t.type === 'call' && t.args.length === 2 && isOp(t.op, 'equal'))
            this.unify(t.args[0]!, t.args[1]!, env, pkg, imports, t);
          break;
        }
        case 'unify': {
          this.typeOf(e.a, env, pkg, imports, true);
          this.typeOf(e.b, env, pkg, imports, true);
          if (!(e.assign && e.a.type === 'var')) this.unify(e.a, e.b, env, pkg, imports, e.b);
          break;
        }
        case 'somein':
          this.typeOf(e.coll, env, pkg, imports, true);
          break;
        case 'every':
          this.typeOf(e.domain, env, pkg, imports, true);
          break;
        case 'some':
          break;
      }
    }
  }

  /** Two operands of a unification whose types cannot meet: OPA's "match error". */
  private unify(
    a: Term,
    b: Term,
    env: Map<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
    at: Term,
  ): void {
    const ta = this.typeOf(a, env, pkg, imports, false);
    const tb = this.typeOf(b, env, pkg, imports, false);
    if (ta && tb && disjoint(ta, tb.names))
      this.err(`match error\n\tleft  : ${show(ta)}\n\tright : ${show(tb)}`, at);
  }

  // --- terms ----------------------------------------------------------------------------------------------------

  private typeOf(
    t: Term,
    env: Map<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
    report: boolean,
  ): Ty {
    const rec = (x: Term): Ty => this.typeOf(x, env, pkg, imports, report);
    switch (t.type) {
      case 'scalar':
        return one(typeName(t.value));
      case 'array':
        t.items.forEach(rec);
        return { names: new Set(['array']), len: t.items.length };
      case 'set':
        t.items.forEach(rec);
        return one('set');
      case 'object': {
        const keys = new Set<string>();
        let constant = true;
        for (const [k, v] of t.items) {
          rec(k);
          rec(v);
          if (k.type === 'scalar' && typeof k.value === 'string') keys.add(k.value);
          else constant = false;
        }
        return constant ? { names: new Set(['object']), keys } : one('object');
      }
      case 'template':
        for (const p of t.parts) if (typeof p !== 'string') rec(p);
        return one('string');
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp': {
        // outer locals are any inside a comprehension: OPA 0.47 accepted, e.g., a boolean local passed as a
        // string operand there (it types closures apart); locals assigned in the comprehension are typed
        const inner = this.bodyEnv(t.body, new Map([...env.keys()].map((k) => [k, undefined])), pkg, imports);
        this.checkBody(t.body, inner, pkg, imports);
        if (t.type === 'objcomp') {
          this.typeOf(t.key, inner, pkg, imports, report);
          this.typeOf(t.value, inner, pkg, imports, report);
          return one('object');
        }
        this.typeOf(t.term, inner, pkg, imports, report);
        return one(t.type === 'arraycomp' ? 'array' : 'set');
      }
      case 'var':
        return this.varType(t.name, env, pkg, imports);
      case 'ref':
        return this.refType(t, env, pkg, imports, report);
      case 'call':
        return this.callType(t, env, pkg, imports, report);
    }
  }

  private varType(name: string, env: Map<string, Ty>, pkg: string, imports: ReadonlySet<string>): Ty {
    if (env.has(name)) return env.get(name);
    if (imports.has(name)) return undefined;
    if (this.globals.get(pkg)?.has(name)) return this.ruleType(pkg, name);
    return undefined;
  }

  private refType(
    t: Term & { type: 'ref' },
    env: Map<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
    report: boolean,
  ): Ty {
    const [head, ...path] = t.terms;
    for (const p of path) this.typeOf(p, env, pkg, imports, report);
    if (!head) return undefined;
    const base =
      head.type === 'var'
        ? this.varType(head.name, env, pkg, imports)
        : this.typeOf(head, env, pkg, imports, report);
    const first = path[0];
    if (!base || !first || first.type !== 'scalar' || base.names.size !== 1) return undefined;
    if (report) {
      const k = first.value;
      if (base.keys?.size && base.names.has('object') && typeof k === 'string' && !base.keys.has(k))
        this.err(`undefined ref: ${refText(t)}`, t);
      if (base.len && base.names.has('array')) {
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= base.len)
          this.err(`undefined ref: ${refText(t)}`, t);
      }
    }
    return undefined;
  }

  private callType(
    t: Term & { type: 'call' },
    env: Map<string, Ty>,
    pkg: string,
    imports: ReadonlySet<string>,
    report: boolean,
  ): Ty {
    const args = t.args.map((a) => this.typeOf(a, env, pkg, imports, report));
    const strs =
      t.op.type === 'ref' ? refToStrings(t.op.terms) : t.op.type === 'var' ? [t.op.name] : undefined;
    if (!strs) return undefined;
    const [h] = strs as [string];
    if (env.has(h) || imports.has(h) || h === 'data') return undefined;
    if (this.globals.get(pkg)?.has(h)) {
      if (strs.length !== 1) return undefined;
      const info = this.fn(pkg, h);
      if (report && info && info.params.length === args.length)
        args.forEach((a, i) => {
          if (disjoint(a, info.params[i])) this.invalidArgs(`data.${pkg}.${h}`, args, t);
        });
      return this.ruleType(pkg, h);
    }
    const name = strs.join('.');
    const def: BuiltinDef | undefined = this.registry.get(name);
    if (!def) return undefined;
    if (report && def.checkTypes !== false && def.args.length === args.length) {
      const bad = args.some((a, i) => disjoint(a, argNames(def.args[i]!)));
      if (bad) this.invalidArgs(name, args, t);
    }
    const res = RESULTS[def.name];
    return res ? { names: new Set(res) } : undefined;
  }

  // --- rules and functions --------------------------------------------------------------------------------------

  /** The union of the values a rule (or function) can take; any when unsure (ref heads, recursion). */
  private ruleType(pkg: string, name: string): Ty {
    const key = `${pkg}.${name}`;
    const known = this.ruleTypes.get(key);
    if (known === 'pending') return undefined;
    if (this.ruleTypes.has(key)) return known;
    this.ruleTypes.set(key, 'pending');
    let ty: Ty = { names: new Set() };
    for (const r0 of this.rules.get(key) ?? []) {
      if (r0.head.ref.length > 1) {
        ty = undefined;
        break;
      }
      if (r0.head.key !== undefined) {
        ty = union(ty, one('set'));
        continue;
      }
      for (let r: Rule | undefined = r0; r && ty; r = r.else) {
        const env = this.bodyEnv(r.body, new Map(), pkg, new Set(), r0.head.args);
        const v = r.head.value ? this.typeOf(r.head.value, env, pkg, new Set(), false) : one('boolean');
        ty = union(ty, v);
      }
      if (!ty) break;
    }
    if (ty && ty.names.size === 0) ty = undefined;
    this.ruleTypes.set(key, ty);
    return ty;
  }

  /** Parameter types of a function: what every definition's body accepts for a plain-var parameter. */
  private fn(pkg: string, name: string): FnInfo | undefined {
    const key = `${pkg}.${name}`;
    if (this.fnInfo.has(key)) return this.fnInfo.get(key);
    this.fnInfo.set(key, undefined);
    const defs = (this.rules.get(key) ?? []).filter((r) => r.head.args !== undefined);
    if (defs.length === 0 || defs.length !== (this.rules.get(key) ?? []).length) return undefined;
    const n = defs[0]!.head.args!.length;
    const params: (Set<string> | undefined)[] = Array.from({ length: n }, () => undefined);
    let first = true;
    for (const r0 of defs) {
      if (r0.head.args!.length !== n) return undefined;
      for (let r: Rule | undefined = r0; r; r = r.else) {
        const own = r0.head.args!.map((a) =>
          a.type === 'var' && a.name !== '_' ? this.paramUse(r, a.name) : undefined,
        );
        // a parameter accepts what any definition accepts
        own.forEach((s, i) => {
          if (first) params[i] = s;
          else if (params[i] && s) params[i] = new Set([...params[i], ...s]);
          else params[i] = undefined;
        });
        first = false;
      }
    }
    const info = { params };
    this.fnInfo.set(key, info);
    return info;
  }

  /**
   * The type names a parameter may have for this definition to be well typed, when every occurrence of it is a
   * direct operand of a builtin that declares a type there: the union of those types (OPA narrows an untyped
   * parameter at its first such use; the union accepts whatever any use would). Any other occurrence (assigned,
   * compared, in a ref, a composite, a comprehension) leaves it unconstrained.
   */
  private paramUse(r: Rule, name: string): Set<string> | undefined {
    let acc: Set<string> | undefined;
    let other = false;
    const mentions = (x: unknown): boolean => JSON.stringify(x).includes(`"name":${JSON.stringify(name)}`);
    const visit = (t: Term): void => {
      switch (t.type) {
        case 'call': {
          const strs = t.op.type === 'ref' ? refToStrings(t.op.terms) : undefined;
          const def = strs ? this.registry.get(strs.join('.')) : undefined;
          t.args.forEach((a, i) => {
            const want =
              def && def.checkTypes !== false && def.args.length === t.args.length
                ? argNames(def.args[i]!)
                : undefined;
            if (a.type === 'var' && a.name === name && want) acc = new Set([...(acc ?? []), ...want]);
            else visit(a);
          });
          break;
        }
        case 'ref':
          t.terms.forEach(visit);
          break;
        case 'array':
        case 'set':
          t.items.forEach(visit);
          break;
        case 'object':
          for (const [k, v] of t.items) {
            visit(k);
            visit(v);
          }
          break;
        case 'var':
          if (t.name === name) other = true;
          break;
        case 'arraycomp':
        case 'objcomp':
        case 'setcomp':
        case 'template':
          if (mentions(t)) other = true;
          break;
        case 'scalar':
          break;
      }
    };
    for (const e of r.body) {
      if (e.with.length) return undefined;
      if (e.kind === 'term') visit(e.term);
      else if (e.kind === 'unify') {
        visit(e.a);
        visit(e.b);
      } else if (mentions(e)) return undefined;
    }
    if (r.head.value) visit(r.head.value);
    return other ? undefined : acc;
  }

  private invalidArgs(name: string, args: readonly Ty[], t: Term): void {
    this.err(`${name}: invalid argument(s)\n\thave: (${args.map(show).join(', ')})`, t);
  }

  private err(msg: string, t: Term): void {
    this.report(new RegoError('rego_type_error', msg, t.loc));
  }
}

function plainVars(t: Term): string[] {
  switch (t.type) {
    case 'var':
      return [t.name];
    case 'array':
    case 'set':
      return t.items.flatMap(plainVars);
    case 'object':
      return t.items.flatMap(([, v]) => plainVars(v));
    case 'arraycomp':
    case 'call':
    case 'objcomp':
    case 'ref':
    case 'scalar':
    case 'setcomp':
    case 'template':
      return [];
  }
}

function refText(t: Term & { type: 'ref' }): string {
  return t.terms
    .map((x, i) => {
      if (i === 0) return x.type === 'var' ? x.name : '…';
      if (x.type === 'scalar' && typeof x.value === 'string') return `.${x.value}`;
      if (x.type === 'scalar') return `[${typeof x.value === 'number' ? x.value : typeName(x.value)}]`;
      return '[…]';
    })
    .join('');
}

function isOp(op: Term, name: string): boolean {
  if (op.type === 'var') return op.name === name;
  return (
    op.type === 'ref' && op.terms.length === 1 && op.terms[0]!.type === 'var' && op.terms[0].name === name
  );
}
