/**
 * Compile stage: variable scoping on the AST. A Scope maps names to frame slots; declared names (`some`, `:=`,
 * arguments) shadow outer ones, other names bind in the outermost scope where they appear. Also the AST helpers the
 * compiler shares (ground prefixes, constant reference paths, OPA's requiresEval).
 */
import type { Expr, Term } from './ast.js';

export class Alloc {
  n = 0;
}

export class Scope {
  readonly slots = new Map<string, number>();
  readonly start: number;
  /** Declarations (`some`, `:=`) made so far while compiling this scope's body: what nested scopes can see. */
  readonly visible = new Set<string>();
  constructor(
    readonly parent: Scope | undefined,
    readonly alloc: Alloc,
    readonly declared: Set<string>,
    readonly appear: Set<string>,
  ) {
    this.start = alloc.n;
  }
  slotOf(name: string): number {
    let s = this.slots.get(name);
    if (s === undefined) {
      s = this.alloc.n++;
      this.slots.set(name, s);
    }
    return s;
  }
  fresh(): number {
    return this.alloc.n++;
  }
}

export function preallocate(scope: Scope): void {
  for (const n of scope.declared) if (n !== '_') scope.slotOf(n);
  for (const n of scope.appear) if (n !== '_' && !scope.declared.has(n)) scope.slotOf(n);
}

export function isLocal(scope: Scope, name: string): boolean {
  for (let s: Scope | undefined = scope; s; s = s.parent) if (s.declared.has(name)) return true;
  return false;
}

/** declaredOnly: find a scope that declares the name. Otherwise: the outermost scope where it appears. */
export function lookupLocal(scope: Scope, name: string, declaredOnly: boolean): number | undefined {
  if (declaredOnly) {
    if (scope.declared.has(name)) return scope.slotOf(name);
    for (let s: Scope | undefined = scope.parent; s; s = s.parent)
      if (s.visible.has(name)) return s.slotOf(name);
    return undefined;
  }
  const chain: Scope[] = [];
  for (let s: Scope | undefined = scope; s; s = s.parent) chain.unshift(s);
  for (const s of chain) if (s.appear.has(name)) return s.slotOf(name);
  return undefined;
}

export function slotName(scope: Scope, slot: number): string | undefined {
  // search this scope and ancestors (names of nested scopes are not reachable; fine for messages)
  for (let s: Scope | undefined = scope; s; s = s.parent)
    for (const [n, v] of s.slots) if (v === slot) return n;
  return undefined;
}

/** Vars (names) in a term, not descending into comprehensions. */
export function collectVars(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      out.add(t.name);
      break;
    case 'ref':
      for (const x of t.terms) collectVars(x, out);
      break;
    case 'array':
    case 'set':
      for (const x of t.items) collectVars(x, out);
      break;
    case 'object':
      for (const [a, b] of t.items) {
        collectVars(a, out);
        collectVars(b, out);
      }
      break;
    case 'call':
      for (const x of t.args) collectVars(x, out);
      break;
    case 'template':
      for (const p of t.parts) if (typeof p !== 'string') collectVars(p, out);
      break;
    case 'scalar':
    case 'arraycomp':
    case 'setcomp':
    case 'objcomp':
      break;
  }
}

export function collectBodyVars(body: readonly Expr[], declared: Set<string>, appear: Set<string>): void {
  for (const e of body) {
    for (const w of e.with) collectVars(w.value, appear);
    switch (e.kind) {
      case 'some':
        for (const v of e.vars) collectVars(v, declared);
        break;
      case 'somein':
        if (e.key) collectVars(e.key, declared);
        collectVars(e.value, declared);
        collectVars(e.coll, appear);
        break;
      case 'unify':
        if (e.assign) collectVars(e.a, declared);
        else collectVars(e.a, appear);
        collectVars(e.b, appear);
        break;
      case 'term':
        collectVars(e.term, appear);
        break;
      case 'every':
        collectVars(e.domain, appear);
        break;
    }
  }
  declared.delete('_');
  appear.delete('_');
}

/** The leading constant segments of a rule head reference (OPA's GroundPrefix). */
export function groundPrefix(ref: readonly Term[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const t = ref[i]!;
    if (i === 0 && t.type === 'var') out.push(t.name);
    else if (i > 0 && t.type === 'scalar' && typeof t.value === 'string') out.push(t.value);
    else break;
  }
  return out;
}

/** OPA's requiresEval: the term contains a reference, call, comprehension or template. */
export function requiresEval(t: Term): boolean {
  switch (t.type) {
    case 'ref':
    case 'call':
    case 'arraycomp':
    case 'setcomp':
    case 'objcomp':
    case 'template':
      return true;
    case 'array':
    case 'set':
      return t.items.some(requiresEval);
    case 'object':
      return t.items.some(([k, v]) => requiresEval(k) || requiresEval(v));
    case 'scalar':
    case 'var':
      return false;
  }
}

export function refToStrings(terms: readonly Term[]): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < terms.length; i++) {
    const t = terms[i]!;
    if (i === 0) {
      if (t.type !== 'var') return undefined;
      out.push(t.name);
    } else if (t.type === 'scalar' && typeof t.value === 'string') out.push(t.value);
    else return undefined;
  }
  return out;
}
