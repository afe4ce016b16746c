/** Rego AST. Every node carries its source location. */
import type { Location } from './errors.js';
import type { Value } from './value.js';

export type Term =
  | { type: 'scalar'; value: Value; loc: Location }
  | { type: 'var'; name: string; loc: Location }
  | { type: 'ref'; terms: Term[]; loc: Location }
  | { type: 'array'; items: Term[]; loc: Location }
  | { type: 'object'; items: [Term, Term][]; loc: Location }
  | { type: 'set'; items: Term[]; loc: Location }
  | { type: 'call'; op: Term; args: Term[]; loc: Location }
  | { type: 'arraycomp'; term: Term; body: Expr[]; loc: Location; unwrap?: boolean }
  | { type: 'setcomp'; term: Term; body: Expr[]; loc: Location }
  | { type: 'objcomp'; key: Term; value: Term; body: Expr[]; loc: Location }
  | { type: 'template'; parts: (string | Term)[]; loc: Location };

/**
 * The terms directly inside a term, not entering comprehensions (their bodies have scopes of their own): a ref's
 * terms, a collection's items, a call's arguments (not its operator), a template's parts.
 */
export function childTerms(t: Term): Term[] {
  switch (t.type) {
    case 'ref':
      return t.terms;
    case 'array':
    case 'set':
      return t.items;
    case 'object':
      return t.items.flat();
    case 'call':
      return t.args;
    case 'template':
      return t.parts.filter((p): p is Term => typeof p !== 'string');
    case 'scalar':
    case 'var':
    case 'arraycomp':
    case 'setcomp':
    case 'objcomp':
      return [];
  }
}

export interface With {
  target: Term;
  value: Term;
  loc: Location;
}

export type ExprBody =
  | { kind: 'term'; term: Term }
  | { kind: 'unify'; a: Term; b: Term; assign: boolean }
  | { kind: 'some'; vars: Term[] }
  | { kind: 'somein'; key: Term | undefined; value: Term; coll: Term }
  | { kind: 'every'; key: Term | undefined; value: Term; domain: Term; body: Expr[] };

export type Expr = ExprBody & { negated: boolean; with: With[]; loc: Location; text?: string };

export interface RuleHead {
  /** Rule reference: first term is a var (the rule name), the rest are path terms. */
  ref: Term[];
  args: Term[] | undefined;
  /** `contains` key (partial set). */
  key: Term | undefined;
  value: Term | undefined;
  assign: boolean;
  loc: Location;
}

export interface Rule {
  default: boolean;
  head: RuleHead;
  body: Expr[];
  else: Rule | undefined;
  loc: Location;
  /** Rule body was given (`if` or braces), as opposed to a constant rule. */
  hasBody: boolean;
}

export interface Import {
  path: Term;
  alias: string | undefined;
  loc: Location;
}

export interface Module {
  file: string;
  source: string;
  package: Term;
  /** Package path as strings, without the leading `data`. */
  packagePath: string[];
  imports: Import[];
  rules: Rule[];
  loc: Location;
  /** Language version the module was parsed as. */
  regoVersion?: 'v0' | 'v1';
  /** OPA's v1 checks apply: parsed as v1, or v0 with `import rego.v1` (absent: true). */
  v1Checks?: boolean;
  /** `# METADATA` blocks, attached to the package or a rule (see annotations.ts). */
  annotations?: Annotation[];
}

/** A parsed `# METADATA` block (YAML), with OPA's scope rules applied. */
export interface Annotation {
  scope: 'rule' | 'document' | 'package' | 'subpackages';
  /** The fields as written (title, description, authors, ...), normalised like OPA's JSON form. */
  fields: Map<string, unknown>;
  loc: Location;
  /** Index into Module.rules of the rule it documents (rule and document scopes). */
  rule?: number;
}

export function varTerm(name: string, loc: Location): Term {
  return { type: 'var', name, loc };
}
export function scalar(value: Value, loc: Location): Term {
  return { type: 'scalar', value, loc };
}
