/**
 * METADATA annotations, following OPA (ast/annotations.go, parser.go): a comment `# METADATA` starts a block; the
 * comments on the following lines, in column 1, are its YAML. A block documents the first statement after it: by
 * default a rule (`scope: rule`) or the package (`scope: package`); `document` applies to every rule of that path,
 * `subpackages` to the package and all below it. The JSON form is OPA's (authors as {name, email}, related
 * resources as {ref, description}), which `rego.metadata.chain()` / `rego.metadata.rule()` return.
 */
import YAML from 'yaml';
import type { Annotation, Module, Rule } from './ast.js';
import { groundPrefix } from './compile-scope.js';
import { RegoError } from './errors.js';
import type { Location } from './errors.js';
import type { Comment } from './lexer.js';
import { ObjectValue, fromJS } from './value.js';
import type { Value } from './value.js';

export interface Statement {
  kind: 'package' | 'import' | 'rule';
  loc: Location;
  /** Index of the rule in Module.rules. */
  rule?: number;
}

const SCOPES = new Set(['rule', 'document', 'package', 'subpackages']);

/** Parse the METADATA blocks among `comments` and attach each to the statement that follows it. */
export function attachAnnotations(
  comments: readonly Comment[],
  stmts: readonly Statement[],
  lines: readonly string[],
): Annotation[] {
  const blocks: { loc: Location; text: string[] }[] = [];
  let cur: { loc: Location; text: string[] } | undefined;
  let prevRow = -1;
  for (const c of comments) {
    if (cur && c.loc.row === prevRow + 1 && c.loc.col === 1) {
      cur.text.push(c.text.startsWith(' ') ? c.text.slice(1) : c.text);
      prevRow = c.loc.row;
      continue;
    }
    cur = undefined;
    if (c.text.trim().startsWith('METADATA')) {
      cur = { loc: c.loc, text: [] };
      blocks.push(cur);
      prevRow = c.loc.row;
    }
  }
  const fail = (msg: string, loc: Location): never => {
    throw new RegoError('rego_parse_error', msg, loc, { line: lines[loc.row - 1] ?? '' });
  };
  const out: Annotation[] = [];
  for (const b of blocks) {
    let raw: unknown;
    try {
      raw = YAML.parse(b.text.join('\n'));
    } catch (e) {
      fail(`yaml: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, b.loc);
    }
    if (raw === null || raw === undefined) raw = {};
    if (typeof raw !== 'object' || Array.isArray(raw)) fail('yaml: metadata must be a mapping', b.loc);
    const fields = normalize(raw as Record<string, unknown>, (m) => fail(m, b.loc));
    const node = stmts.find((s) => s.loc.row > b.loc.row);
    let scope = fields.get('scope') as string | undefined;
    if (scope === undefined) {
      if (node?.kind === 'rule') scope = 'rule';
      else if (node?.kind === 'package') scope = 'package';
      else scope = 'import';
    }
    if (!SCOPES.has(scope)) fail(`invalid annotation scope '${scope}'`, b.loc);
    const want = scope === 'rule' || scope === 'document' ? 'rule' : 'package';
    if (!node) return fail(`annotation scope '${scope}' must be applied to ${want}`, b.loc);
    if (node.kind !== want)
      fail(
        `annotation scope '${scope}' must be applied to ${want}${node ? ` (have ${node.kind})` : ''}`,
        b.loc,
      );
    fields.set('scope', scope);
    const a: Annotation = { scope: scope as Annotation['scope'], fields, loc: b.loc };
    if (node.rule !== undefined) a.rule = node.rule;
    out.push(a);
  }
  return out;
}

function normalize(raw: Record<string, unknown>, fail: (msg: string) => never): Map<string, unknown> {
  const f = new Map<string, unknown>();
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    switch (k) {
      case 'scope':
      case 'title':
      case 'description':
        if (typeof v !== 'string') fail(`yaml: ${k} must be a string`);
        if (v !== '') f.set(k, v);
        break;
      case 'organizations':
        if (!Array.isArray(v)) fail('yaml: organizations must be a list');
        f.set(k, v.map(String));
        break;
      case 'authors':
        if (!Array.isArray(v)) fail('yaml: authors must be a list');
        f.set(
          k,
          v.map((x) => author(x, fail)),
        );
        break;
      case 'related_resources':
        if (!Array.isArray(v)) fail('yaml: related_resources must be a list');
        f.set(
          k,
          v.map((x) => resource(x, fail)),
        );
        break;
      case 'entrypoint':
        if (v === true) f.set(k, true);
        break;
      default:
        f.set(k, v);
    }
  }
  return f;
}

function author(x: unknown, fail: (msg: string) => never): Record<string, string> {
  if (typeof x === 'string') {
    const parts = x
      .trim()
      .split(/\s+/)
      .filter((p) => p !== '');
    if (parts.length === 0) fail('author is an empty string');
    const last = parts[parts.length - 1]!;
    const o: Record<string, string> = {};
    let n = parts.length;
    if (last.length >= 2 && last.startsWith('<') && last.endsWith('>')) {
      o.email = last.slice(1, -1);
      n--;
    }
    const name = parts.slice(0, n).join(' ');
    if (name) o.name = name;
    return o;
  }
  if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    const m = x as Record<string, unknown>;
    const o: Record<string, string> = {};
    if (typeof m.name === 'string' && m.name) o.name = m.name;
    if (typeof m.email === 'string' && m.email) o.email = m.email;
    if (!o.name && !o.email) fail('author information must have either name or email');
    return o;
  }
  return fail('author information must be a string or a map');
}

function resource(x: unknown, fail: (msg: string) => never): Record<string, string> {
  if (typeof x === 'string') {
    if (!x) fail('ref URL may not be empty string');
    return { ref: x };
  }
  if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    const m = x as Record<string, unknown>;
    if (typeof m.ref !== 'string' || !m.ref) fail("'ref' value required in object");
    const o: Record<string, string> = { ref: m.ref };
    if (typeof m.description === 'string' && m.description) o.description = m.description;
    return o;
  }
  return fail('invalid related-resource definition');
}

/** An annotation's fields as a Rego object (OPA's JSON form). */
export function annotationValue(a: Annotation): Value {
  const o: Record<string, unknown> = {};
  for (const [k, v] of a.fields) o[k] = v;
  return fromJS(o);
}

/** One entry of `rego.metadata.chain()`: the path (without `data`) and, when present, the annotations. */
export function chainEntry(path: readonly string[], a: Annotation | undefined): Value {
  const o = new ObjectValue();
  o.set('path', [...path]);
  if (a) o.set('annotations', annotationValue(a));
  return o;
}

/** OPA's AnnotationSet: the annotations of a set of modules by scope, and `rego.metadata.chain()` for a rule. */
export class AnnotationIndex {
  private readonly rule = new Map<Rule, Annotation>();
  private readonly document = new Map<string, Annotation>();
  private readonly pkg = new Map<string, Annotation>();
  private readonly subpackages = new Map<string, Annotation>();

  constructor(modules: readonly Module[]) {
    for (const m of modules) {
      const pkgKey = m.packagePath.join('.');
      for (const a of m.annotations ?? []) {
        if (a.scope === 'package') {
          if (!this.pkg.has(pkgKey)) this.pkg.set(pkgKey, a);
        } else if (a.scope === 'subpackages') {
          if (!this.subpackages.has(pkgKey)) this.subpackages.set(pkgKey, a);
        } else if (a.rule !== undefined) {
          const r = m.rules[a.rule]!;
          if (a.scope === 'rule') this.rule.set(r, a);
          else {
            const key = [...m.packagePath, ...groundPrefix(r.head.ref)].join('.');
            if (!this.document.has(key)) this.document.set(key, a);
          }
        }
      }
    }
  }

  ruleScope(r: Rule): Annotation | undefined {
    return this.rule.get(r);
  }

  /** The rule's own annotations, its document's, its package's, then the enclosing subpackages' (innermost first). */
  chain(r: Rule, pkgPath: readonly string[]): Value[] {
    const path = [...pkgPath, ...groundPrefix(r.head.ref)];
    const out: Value[] = [chainEntry(path, this.rule.get(r))];
    const doc = this.document.get(path.join('.'));
    if (doc) out.push(chainEntry(path, doc));
    const pkg = this.pkg.get(pkgPath.join('.'));
    if (pkg) out.push(chainEntry(pkgPath, pkg));
    for (let i = pkgPath.length; i >= 0; i--) {
      const sub = this.subpackages.get(pkgPath.slice(0, i).join('.'));
      if (sub) out.push(chainEntry(pkgPath.slice(0, i), sub));
    }
    return out;
  }
}
