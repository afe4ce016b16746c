/**
 * What every compile stage shares: the error list (OPA stops collecting at 100) and the package a rule or query is
 * compiled in (its rule names and imports, which name resolution consults).
 */
import type { Rule, Term } from './ast.js';
import { RegoError } from './errors.js';
import type { Location, RegoErrorCode } from './errors.js';

/** Prefix of compiler-generated variable names (never reported as query bindings). */
export const GENERATED_PREFIX = '__';

export class Diagnostics {
  errors: RegoError[] = [];

  report(code: RegoErrorCode, msg: string, loc: Location): void {
    if (this.errors.length < 100) this.errors.push(new RegoError(code, msg, loc));
  }

  add(e: RegoError): void {
    this.errors.push(e);
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }
}

/** The package a rule (or query) is compiled in. */
export interface PackageContext {
  pkgPath: string[];
  /** First segments of the rule names declared in the package. */
  globals: Set<string>;
  /** Import alias -> imported reference. */
  imports: Map<string, Term[]>;
  file: string;
  /** The rule being compiled (for `rego.metadata.chain()` / `rego.metadata.rule()`). */
  rule?: Rule;
  /** OPA's v1 checks apply (module parsed as v1, or v0 importing rego.v1): deprecated builtins are refused. */
  v1Checks?: boolean;
}
