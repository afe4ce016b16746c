/**
 * Compile stage: the rule tree. Every package and rule (ref heads included) gets its node under `data` before any
 * body is compiled, since name resolution looks nodes up; then the tree-wide checks run on it (conflicting rule
 * kinds, one default per rule, function arities) and rules that are plain constants are marked as such. Also the
 * package context of a module: its rule names and imports (OPA's NoDuplicateImports, NoRootDocumentOverrides).
 */
import type { Expr, Module, Rule, Term } from './ast.js';
import type { Diagnostics, PackageContext } from './compile-context.js';
import { refToStrings } from './compile-scope.js';
import type { CRule, RuleNode } from './ir.js';

/** Package path key -> first segments of rule names declared in it; creates each package's node under `root`. */
export function declarePackages(modules: readonly Module[], root: RuleNode): Map<string, Set<string>> {
  const pkgGlobals = new Map<string, Set<string>>();
  for (const m of modules) {
    const key = m.packagePath.join('.');
    let g = pkgGlobals.get(key);
    if (!g) pkgGlobals.set(key, (g = new Set()));
    for (const r of m.rules) {
      const h = r.head.ref[0];
      if (h && h.type === 'var') g.add(h.name);
    }
  }
  for (const m of modules) {
    let n = root;
    for (const seg of m.packagePath) n = n.child(seg);
  }
  return pkgGlobals;
}

export function packageContext(
  m: Module,
  pkgGlobals: ReadonlyMap<string, Set<string>>,
  diag: Diagnostics,
): PackageContext {
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
      diag.report('rego_compile_error', `import must not shadow import ${prev}`, imp.loc);
    if (prev === undefined) seen.set(alias, path);
    if (!(terms.length === 1 && (alias === 'input' || alias === 'data'))) imports.set(alias, terms);
  }
  if (strict) checkRootOverrides(m, diag);
  return {
    pkgPath: m.packagePath,
    globals: pkgGlobals.get(m.packagePath.join('.')) ?? new Set(),
    imports,
    file: m.file,
    v1Checks: strict,
  };
}

/** v1 (OPA's NoRootDocumentOverrides): rules and `:=` variables must not be named `input` or `data`. */
function checkRootOverrides(m: Module, diag: Diagnostics): void {
  const visit = (body: readonly Expr[]): void => {
    for (const e of body) {
      if (
        e.kind === 'unify' &&
        e.assign &&
        e.a.type === 'var' &&
        (e.a.name === 'input' || e.a.name === 'data')
      )
        diag.report(
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
      diag.report('rego_compile_error', `rules must not shadow ${h.name} (use a different rule name)`, r.loc);
    for (let cur: Rule | undefined = r; cur; cur = cur.else) visit(cur.body);
  }
}

/** A rule's node: its package path plus the constant prefix of its head; the rest of the head is its key path. */
export interface PlacedRule {
  r: Rule;
  ctx: PackageContext;
  node: RuleNode;
  keyPath: Term[];
}

export function placeRule(
  root: RuleNode,
  r: Rule,
  ctx: PackageContext,
  diag: Diagnostics,
): PlacedRule | undefined {
  const ref = r.head.ref;
  const head = ref[0]!;
  if (head.type !== 'var') {
    diag.report('rego_parse_error', 'invalid rule head', r.loc);
    return undefined;
  }
  let node = root;
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
    diag.report('rego_parse_error', 'function rule heads must be constant refs', r.loc);
    return undefined;
  }
  if (r.default && keyPath.length) {
    diag.report('rego_compile_error', 'default rules must have a constant reference', r.loc);
    return undefined;
  }
  return { r, ctx, node, keyPath };
}

/** Sets each function node's arity; functions of one name must agree on it. */
export function setFunctionArities(placed: readonly PlacedRule[], diag: Diagnostics): void {
  for (const p of placed) {
    if (p.r.head.args !== undefined) {
      const n = p.r.head.args.length;
      if (p.node.arity >= 0 && p.node.arity !== n)
        diag.report('rego_type_error', `conflicting rules data.${p.node.path.join('.')} found`, p.r.loc);
      p.node.arity = n;
    }
  }
}

/** Files a compiled rule under its node by kind (at most one default per node). */
export function attachRule(p: PlacedRule, cr: CRule, diag: Diagnostics): void {
  const node = p.node;
  if (cr.isDefault) {
    if (node.defaultRule)
      diag.report('rego_type_error', `multiple default rules data.${node.path.join('.')} found`, p.r.loc);
    node.defaultRule = cr;
  } else if (cr.kind === 'complete') node.complete.push(cr);
  else if (cr.kind === 'multi') node.multi.push(cr);
  else if (cr.kind === 'dyn') node.dyn.push(cr);
  else node.funcs.push(cr);
}

/** A node holds one kind of rule (complete, partial, function), and only complete rules may have rules below. */
export function checkConflicts(n: RuleNode, diag: Diagnostics): void {
  const kinds =
    (n.complete.length || (n.defaultRule && !n.funcs.length) ? 1 : 0) +
    (n.multi.length ? 1 : 0) +
    (n.funcs.length ? 1 : 0);
  if (kinds > 1) {
    const r = n.complete[0] ?? n.multi[0] ?? n.funcs[0] ?? n.defaultRule;
    diag.report('rego_type_error', `conflicting rules data.${n.path.join('.')} found`, r!.loc);
  }
  if ((n.complete.length || n.multi.length || n.funcs.length) && n.children.size) {
    for (const c of n.children.values()) {
      if (c.hasRulesBelow && (n.multi.length || n.funcs.length)) {
        diag.report(
          'rego_type_error',
          `rule data.${c.path.join('.')} conflicts with data.${n.path.join('.')}`,
          n.complete[0]?.loc ?? n.multi[0]?.loc ?? n.funcs[0]!.loc,
        );
        break;
      }
    }
  }
  for (const c of n.children.values()) checkConflicts(c, diag);
}

/** A node whose only rule is a body-less complete rule with a constant value evaluates to that constant. */
export function markConstants(n: RuleNode): void {
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
}

export function lookupNode(root: RuleNode, path: readonly string[]): RuleNode | undefined {
  let n: RuleNode | undefined = root;
  for (const s of path) {
    n = n.children.get(s);
    if (!n) return undefined;
  }
  return n;
}
