/**
 * Recursive-descent parser for Rego v1 modules and queries.
 *
 * Precedence (loosest first), following OPA's parser:
 *   `:=` `=`  <  `in`  <  relations (== != < <= > >=)  <  `|`  <  `&`  <  `+ -`  <  `* / %`  <  postfix
 * Newlines separate body literals: at nesting depth 0 an operator or postfix on a new line starts a new literal.
 */
import type { Expr, Import, Module, Rule, RuleHead, Term, With } from './ast.js';
import { RegoError, RegoErrors } from './errors.js';
import type { Location } from './errors.js';
import { attachAnnotations } from './annotations.js';
import { skipTemplateExpr, tokenize } from './lexer.js';
import type { Comment, Token } from './lexer.js';
import { parseNumber } from './value.js';

/** Keywords of every Rego version. */
const BASE_KEYWORDS = [
  'package',
  'import',
  'as',
  'default',
  'else',
  'not',
  'with',
  'some',
  'true',
  'false',
  'null',
];
/** Keywords v1 always has; v0 only after `import future.keywords[.kw]` or `import rego.v1`. */
export const FUTURE_KEYWORDS = ['if', 'contains', 'in', 'every'];
const KEYWORDS = new Set([...BASE_KEYWORDS, ...FUTURE_KEYWORDS]);

/** Rego language version a module is parsed as (OPA's `--v0-compatible` selects v0). */
export type RegoVersion = 'v0' | 'v1';

export interface ParseOptions {
  /** `v1` (default) or `v0`; numbers 0/1 are accepted too. */
  regoVersion?: RegoVersion | 0 | 1;
}

export function normalizeRegoVersion(v: ParseOptions['regoVersion']): RegoVersion {
  return v === 'v0' || v === 0 ? 'v0' : 'v1';
}

/** Parser state saved before a speculative parse (comprehension vs collection). */
interface SavedState {
  p: number;
  nest: number;
  depth: number;
  inParens: boolean;
}

const RELATIONS: Record<string, string> = {
  '==': 'equal',
  '!=': 'neq',
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
};
const ARITH: Record<string, string> = { '+': 'plus', '-': 'minus' };
const FACTOR: Record<string, string> = { '*': 'mul', '/': 'div', '%': 'rem' };

export const MAX_PARSE_DEPTH = 500;

export class Parser {
  private toks: Token[];
  private p = 0;
  private nest = 0;
  private depth = 0;
  private inParens = false;
  private readonly lines: string[];
  private readonly comments: Comment[] = [];
  /** v1 violations of otherwise well-formed v0 rules, reported together after the module is read. */
  private readonly v1Errors: RegoError[] = [];
  private readonly termCache = new Map<number, { term: Term; end: number }>();
  /** Active keywords: all of them in v1; in v0 the future keywords once imported. */
  private readonly kw: Set<string>;
  /** v1 rule-head rules apply (`if` before bodies, `contains` for partial sets): v1, or v0 with `rego.v1`. */
  private strictV1: boolean;
  readonly regoVersion: RegoVersion;

  constructor(
    private readonly src: string,
    private readonly file: string,
    opts: ParseOptions = {},
  ) {
    this.lines = src.split('\n');
    this.toks = tokenize(src, file, this.comments);
    this.regoVersion = normalizeRegoVersion(opts.regoVersion);
    this.strictV1 = this.regoVersion === 'v1';
    this.kw = new Set(this.regoVersion === 'v1' ? KEYWORDS : BASE_KEYWORDS);
  }

  private save(): SavedState {
    return { p: this.p, nest: this.nest, depth: this.depth, inParens: this.inParens };
  }
  private restore(s: SavedState): void {
    this.p = s.p;
    this.nest = s.nest;
    this.depth = s.depth;
    this.inParens = s.inParens;
  }
  private isKeyword(text: string): boolean {
    return this.kw.has(text);
  }

  // --- token helpers ---------------------------------------------------------------------------------------------
  private get tok(): Token {
    return this.toks[this.p]!;
  }
  private peek(k = 1): Token {
    return this.toks[Math.min(this.p + k, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.toks[this.p]!;
    if (this.p < this.toks.length - 1) this.p++;
    return t;
  }
  private atEof(): boolean {
    return this.tok.kind === 'eof';
  }
  private is(text: string, t: Token = this.tok): boolean {
    return (t.kind === 'punct' || t.kind === 'ident') && t.text === text;
  }
  private isPunct(text: string, t: Token = this.tok): boolean {
    return t.kind === 'punct' && t.text === text;
  }
  private isKw(text: string, t: Token = this.tok): boolean {
    return t.kind === 'ident' && t.text === text && this.kw.has(text) && !this.dotted(t);
  }
  /** A keyword immediately followed by `.` is a reference head (e.g. `contains.foo`), not a keyword. */
  private dotted(t: Token): boolean {
    const i = this.toks.indexOf(t, this.p);
    const n = i >= 0 ? this.toks[i + 1] : undefined;
    return (
      n !== undefined && n.kind === 'punct' && (n.text === '.' || n.text === '(') && n.loc.offset === t.end
    );
  }
  private v1Error(msg: string, t: Token): void {
    this.v1Errors.push(
      new RegoError('rego_parse_error', msg, t.loc, { line: this.lines[t.loc.row - 1] ?? '' }),
    );
  }
  private fail(msg: string, t: Token = this.tok): never {
    throw new RegoError('rego_parse_error', msg, t.loc, { line: this.lines[t.loc.row - 1] ?? '' });
  }
  private unexpected(t: Token = this.tok): never {
    if (t.kind === 'eof') this.fail('unexpected eof token');
    const what = t.kind === 'ident' ? (this.kw.has(t.text) ? `${t.text} keyword` : 'ident') : t.kind;
    this.fail(`unexpected ${what === 'punct' ? t.text : what} token`, t);
  }
  private expectPunct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected ${text}${this.atEof() ? ', got eof' : ''}`);
    return this.next();
  }
  /**
   * May an infix operator continue the expression at the current token? Always, like OPA: its scanner skips
   * newlines between a term and an operator (`x := 1` newline `+ 2` is one expression). Literals are separated by
   * newlines only where no operator follows; postfix selections (`.`, `[`, `(`) must touch the term instead.
   */
  private cont(): boolean {
    return true;
  }
  /** The current token touches the previous one (no whitespace between). */
  private adjacent(): boolean {
    return this.p > 0 && this.toks[this.p - 1]!.end === this.tok.loc.offset;
  }
  private enter(): void {
    if (++this.depth > MAX_PARSE_DEPTH) this.fail('nesting too deep');
  }

  // --- module ----------------------------------------------------------------------------------------------------
  parseModule(): Module {
    const first = this.tok;
    if (!this.isKw('package')) this.fail('package expected');
    this.next();
    const pkg = this.parseRefTerm(true);
    const packagePath = refToPath(pkg, true);
    if (!packagePath) this.fail('invalid package path', first);
    const imports: Import[] = [];
    const rules: Rule[] = [];
    // statement starts, for attaching METADATA blocks to the statement that follows them
    const stmts: { kind: 'package' | 'import' | 'rule'; loc: Location; rule?: number }[] = [
      { kind: 'package', loc: first.loc },
    ];
    // Like OPA, an import may appear at any statement (it still applies to the whole module).
    while (this.tok.kind !== 'eof') {
      if (this.isKw('import')) {
        const imp = this.parseImport();
        imports.push(imp);
        stmts.push({ kind: 'import', loc: imp.loc });
      } else if (this.isKw('package')) this.fail('unexpected package');
      else
        for (const r of this.parseStatement()) {
          stmts.push({ kind: 'rule', loc: r.loc, rule: rules.length });
          rules.push(r);
        }
    }
    const m: Module = {
      file: this.file,
      source: this.src,
      package: pkg,
      packagePath,
      imports,
      rules,
      loc: first.loc,
      regoVersion: this.regoVersion,
      v1Checks: this.strictV1,
    };
    if (this.v1Errors.length) throw new RegoErrors(this.v1Errors);
    const annotations = attachAnnotations(this.comments, stmts, this.lines);
    if (annotations.length) m.annotations = annotations;
    return m;
  }

  private parseImport(): Import {
    const loc = this.next().loc;
    // `import future.keywords.in` names a keyword: parse the path with keywords as plain names
    const path = this.parseRefTerm(true, true);
    const head = path.type === 'ref' ? path.terms[0]! : path;
    if (head.type !== 'var' || !['data', 'input', 'future', 'rego'].includes(head.name))
      this.fail(
        `unexpected import path, must begin with one of: {data, future, input, rego}, got: ${head.type === 'var' ? head.name : 'term'}`,
        this.toks[this.p - 1],
      );
    let alias: string | undefined;
    if (this.isKw('as') && this.cont()) {
      this.next();
      if (this.tok.kind !== 'ident' || this.kw.has(this.tok.text)) this.unexpected();
      alias = this.next().text;
    }
    const strs = refToPath(path, false);
    if (head.type === 'var' && head.name === 'future') {
      // v0: `import future.keywords` enables every future keyword, `future.keywords.x` one of them
      if (!strs || strs[1] !== 'keywords' || strs.length > 3)
        this.fail(
          'invalid import, must be `future.keywords` or `future.keywords.<keyword>`',
          this.toks[this.p - 1],
        );
      const kws = strs.length === 2 ? FUTURE_KEYWORDS : [strs[2]!];
      for (const k of kws) {
        if (!FUTURE_KEYWORDS.includes(k))
          this.fail(
            `unexpected keyword, must be one of [${FUTURE_KEYWORDS.join(' ')}]`,
            this.toks[this.p - 1],
          );
        this.kw.add(k);
      }
    } else if (head.type === 'var' && head.name === 'rego') {
      if (!strs || strs.length !== 2 || strs[1] !== 'v1')
        this.fail(
          'invalid import `' + (strs ?? []).join('.') + '`, must be `rego.v1`',
          this.toks[this.p - 1],
        );
      for (const k of FUTURE_KEYWORDS) this.kw.add(k);
      this.strictV1 = true;
    }
    return { path, alias, loc };
  }

  /**
   * A reference made of a var and `.name` / `[term]` selections (package paths, rule heads, imports).
   * `namesOnly`: every segment is a plain name, keywords included (import paths).
   */
  private parseRefTerm(allowKwHead: boolean, namesOnly = false): Term {
    const t = this.tok;
    if (t.kind !== 'ident' || (!allowKwHead && this.kw.has(t.text) && !this.dotted(t))) this.unexpected();
    this.next();
    const head: Term = { type: 'var', name: t.text, loc: t.loc };
    const terms: Term[] = [head];
    for (;;) {
      if (this.isPunct('.') && !this.tok.nl) {
        this.next();
        const id = this.tok;
        if (id.kind !== 'ident') this.fail(`unexpected ${tokenName(id, this.kw)}: expected ident`);
        this.next();
        terms.push({ type: 'scalar', value: id.text, loc: id.loc });
      } else if (this.isPunct('[') && !this.tok.nl && !namesOnly) {
        this.next();
        this.nest++;
        terms.push(this.parseTermIn());
        this.nest--;
        this.expectPunct(']');
      } else break;
    }
    return terms.length === 1 ? head : { type: 'ref', terms, loc: t.loc };
  }

  /** A statement after the package: rules (chained bodies give several), or an expression read as a rule. */
  private parseStatement(): Rule[] {
    const start = this.tok;
    if (this.isKw('default')) return [this.parseDefault()];
    const ref = this.parseRefTerm(false);
    const head: RuleHead = {
      ref: refTerms(ref),
      args: undefined,
      key: undefined,
      value: undefined,
      assign: false,
      loc: start.loc,
    };
    if (this.isPunct('(') && this.adjacent()) head.args = this.parseArgs();
    let usesContains = false;
    if (this.isKw('contains')) {
      if (head.args)
        this.fail(
          `unexpected contains keyword: the contains keyword can only be used with multi-value rule definitions`,
        );
      this.next();
      head.key = this.parseTermIn();
      usesContains = true;
    } else if (this.isPunct(':=') || this.isPunct('=')) {
      head.assign = this.next().text === ':=';
      head.value = this.parseTermIn();
    }
    const hasIf = this.isKw('if');
    // v0 `p[x] { ... }` (no `if`, no value): a multi-value (partial set) rule with key x
    const partialSet =
      !hasIf && !usesContains && head.args === undefined && head.ref.length === 2 && head.value === undefined;
    const rule: Rule = { default: false, head, body: [], else: undefined, loc: start.loc, hasBody: false };
    if (hasIf || this.isPunct('{')) {
      // v1 reads the v0 forms and then reports each violation at the rule, like OPA's v1 checks
      if (!hasIf && this.strictV1)
        this.v1Error(`\`if\` keyword is required before ${head.args ? 'function' : 'rule'} body`, start);
      if (partialSet) {
        if (this.strictV1) this.v1Error('`contains` keyword is required for partial set rules', start);
        head.key = head.ref[1];
        head.ref = [head.ref[0]!];
      }
      this.parseRuleBody(rule, true);
    } else if (!usesContains && head.value === undefined) {
      return [this.bareStatement(rule, start)];
    }
    // else chain; OPA returns a rule without a body before looking for `else`, so the `else` starts a statement
    if (!rule.hasBody && this.isKw('else')) this.fail('unexpected else keyword');
    let cur = rule;
    while (this.isKw('else')) {
      const eTok = this.next();
      if (head.key !== undefined) this.fail('else keyword cannot be used on multi-value rules', eTok);
      const eh: RuleHead = { ...head, value: undefined, loc: eTok.loc };
      if (this.isPunct(':=') || this.isPunct('=')) {
        eh.assign = this.next().text === ':=';
        eh.value = this.parseTermIn();
      }
      const er: Rule = { default: false, head: eh, body: [], else: undefined, loc: eTok.loc, hasBody: false };
      this.parseRuleBody(er, false);
      cur.else = er;
      cur = er;
    }
    const rules = [rule];
    // chained bodies: `p if { a } { b }` defines p twice with the same head
    while (rule.hasBody && this.isPunct('{')) {
      if (rule.else) this.fail('unexpected { token: expected else keyword');
      const loc = this.tok.loc;
      const body = this.parseBraceBody();
      rules.push({ default: false, head: { ...head, loc }, body, else: undefined, loc, hasBody: true });
    }
    return rules;
  }

  /**
   * A head with neither value, key nor body (`p`, `p.a`, `p[x]`, `f(x)`): OPA reads it as an expression statement
   * and accepts only what names a rule: `p[x]`/`p.a` is a partial set (v0; v1 requires `contains`), `f(x)` a
   * function returning true.
   */
  private bareStatement(rule: Rule, start: Token): Rule {
    const head = rule.head;
    const fail = (msg: string): never => this.fail(msg, start);
    if (head.args !== undefined) {
      if (head.args.length === 0) fail('rule argument list must take at least one argument');
      return rule;
    }
    if (head.ref.length === 1)
      fail(`${head.ref[0]!.type === 'var' ? 'var' : 'term'} cannot be used for rule name`);
    if (head.ref.length !== 2) fail('refs cannot be used for rule');
    if (this.strictV1) this.v1Error('`contains` keyword is required for partial set rules', start);
    head.key = head.ref[1];
    head.ref = [head.ref[0]!];
    return rule;
  }

  private parseDefault(): Rule {
    const start = this.next();
    const ref = this.parseRefTerm(false);
    let args: Term[] | undefined;
    if (this.isPunct('(') && this.adjacent()) args = this.parseArgs();
    if (!this.isPunct(':=') && !this.isPunct('='))
      this.fail('illegal default rule (must have a value)', start);
    const assign = this.next().text === ':=';
    const value = this.parseTermIn();
    // OPA: a default value is a constant (comprehensions aside); arguments are distinct plain vars
    const bad = nonConstant(value);
    if (bad) this.fail(`illegal default rule (value cannot contain ${bad})`, start);
    const seen = new Set<string>();
    for (const a of args ?? []) {
      if (a.type !== 'var')
        this.fail(`illegal default rule (arguments cannot contain ${termTypeName(a)})`, start);
      if (a.name !== '_' && seen.has(a.name))
        this.fail(`illegal default rule (arguments cannot be repeated ${a.name})`, start);
      seen.add(a.name);
    }
    const head: RuleHead = { ref: refTerms(ref), args, key: undefined, value, assign, loc: start.loc };
    return { default: true, head, body: [], else: undefined, loc: start.loc, hasBody: false };
  }

  private parseRuleBody(rule: Rule, allowBare: boolean): void {
    if (this.isKw('if')) {
      this.next();
      rule.hasBody = true;
      if (this.isPunct('{')) {
        // OPA reads a literal first (`if { x | ... }` is a set comprehension); a set literal (`{ true }`) or a
        // failed read is a body in braces instead
        const save = this.save();
        let lit: Expr | undefined;
        this.nest = 0;
        try {
          lit = this.parseLiteral();
        } catch (e) {
          if (!(e instanceof RegoError)) throw e;
        } finally {
          this.nest = save.nest;
        }
        if (lit !== undefined && !(lit.kind === 'term' && lit.term.type === 'set')) rule.body = [lit];
        else {
          this.restore(save);
          rule.body = this.parseBraceBody();
        }
      } else {
        const saved = this.nest;
        this.nest = 0;
        rule.body = [this.parseLiteral()];
        this.nest = saved;
      }
    } else if (this.isPunct('{')) {
      if (allowBare || !this.strictV1 || rule.head.value === undefined) {
        rule.hasBody = true;
        rule.body = this.parseBraceBody();
        return;
      }
      this.fail('`if` keyword is required before rule body');
    }
  }

  private parseArgs(): Term[] {
    this.expectPunct('(');
    this.nest++;
    const args: Term[] = [];
    while (!this.isPunct(')')) {
      args.push(this.parseTermIn());
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct(')')) this.unexpected();
    }
    this.nest--;
    this.next();
    return args;
  }

  private parseBraceBody(): Expr[] {
    const open = this.expectPunct('{');
    const saved = this.nest;
    this.nest = 0;
    const body = this.parseBody('}');
    this.nest = saved;
    if (!this.isPunct('}')) this.unexpected();
    this.next();
    if (body.length === 0) this.fail('found empty body', open);
    return body;
  }

  /** Literals separated by newlines or `;`, until `end` (not consumed) or eof. */
  parseBody(end: string | undefined): Expr[] {
    const body: Expr[] = [];
    for (;;) {
      while (this.isPunct(';')) this.next();
      if (this.atEof() || (end !== undefined && this.isPunct(end))) break;
      const lit = this.parseLiteral();
      body.push(lit);
      if (this.isPunct(';')) continue;
      if (this.atEof() || (end !== undefined && this.isPunct(end))) break;
      if (!this.tok.nl) this.unexpected();
    }
    return body;
  }

  parseLiteral(): Expr {
    this.enter();
    try {
      const start = this.tok;
      if (this.isKw('some')) return this.parseSome();
      if (this.isKw('every')) return this.parseEvery();
      let negated = false;
      if (this.isKw('not')) {
        this.next();
        negated = true;
      }
      const e = this.parseExpr(start.loc);
      e.negated = negated;
      e.with = this.parseWiths();
      e.text = this.textFrom(start);
      return e;
    } finally {
      this.depth--;
    }
  }

  private textFrom(start: Token): string {
    const end = this.toks[this.p - 1]!;
    return this.src.slice(start.loc.offset, end.end);
  }

  private parseWiths(): With[] {
    const ws: With[] = [];
    while (this.isKw('with')) {
      const loc = this.next().loc;
      const target = this.parseRefTerm(false);
      if (!this.isKw('as')) this.fail('expected as keyword');
      this.next();
      const value = this.parseTermIn();
      ws.push({ target, value, loc });
    }
    return ws;
  }

  private parseSome(): Expr {
    const start = this.next();
    const first = this.parseTermRelation();
    const terms = [first];
    while (this.isPunct(',') && this.cont()) {
      this.next();
      terms.push(this.parseTermRelation());
    }
    if (this.isKw('in') && this.cont()) {
      this.next();
      if (terms.length > 2) this.fail('unexpected , token');
      let coll = this.parseTermRelation();
      const [a, b] = terms as [Term, Term | undefined];
      let key = b === undefined ? undefined : a;
      let value = b ?? a;
      // OPA reads `some x in xs in ys` left-associatively: the declared term is the call `x in xs`
      while (this.isKw('in') && this.cont()) {
        const op = this.next();
        const args = key === undefined ? [value, coll] : [key, value, coll];
        value = { type: 'call', op: opRef(`internal.member_${args.length}`, op.loc), args, loc: value.loc };
        key = undefined;
        coll = this.parseTermRelation();
      }
      const e: Expr = {
        kind: 'somein',
        key,
        value,
        coll,
        negated: false,
        with: [],
        loc: start.loc,
      };
      e.with = this.parseWiths();
      e.text = this.textFrom(start);
      return e;
    }
    for (const t of terms) if (t.type !== 'var') this.fail('expected var', start);
    return {
      kind: 'some',
      vars: terms,
      negated: false,
      with: [],
      loc: start.loc,
      text: this.textFrom(start),
    };
  }

  private parseEvery(): Expr {
    const start = this.next();
    const a = this.parseTermRelation();
    let key: Term | undefined;
    let value = a;
    if (this.isPunct(',')) {
      this.next();
      key = a;
      value = this.parseTermRelation();
    }
    if (!this.isKw('in')) this.fail('expected in keyword');
    this.next();
    const domain = this.parseTermRelation();
    if (key && key.type !== 'var') this.fail('unexpected term, expected var', start);
    if (value.type !== 'var') this.fail('unexpected term, expected var', start);
    const body = this.parseBraceBody();
    const e: Expr = { kind: 'every', key, value, domain, body, negated: false, with: [], loc: start.loc };
    e.with = this.parseWiths();
    e.text = this.textFrom(start);
    return e;
  }

  private parseExpr(loc: Location): Expr {
    const lhs = this.parseTermInKV();
    if ((this.isPunct(':=') || this.isPunct('=')) && this.cont()) {
      const assign = this.next().text === ':=';
      const rhs = this.parseTermIn();
      return { kind: 'unify', a: lhs, b: rhs, assign, negated: false, with: [], loc };
    }
    return { kind: 'term', term: lhs, negated: false, with: [], loc };
  }

  // --- terms -----------------------------------------------------------------------------------------------------
  /** `k, v in xs` (allowed at literal level and in parentheses), then `in` chains. */
  private parseTermInKV(): Term {
    let lhs = this.parseTermRelation();
    if (this.isPunct(',') && (this.nest === 0 || this.inParens)) {
      // `k, v in xs`; anything else after the comma is not ours (OPA backs up to the comma)
      const s = this.save();
      this.next();
      let v: Term | undefined;
      try {
        v = this.parseTermRelation();
      } catch (e) {
        if (!(e instanceof RegoError)) throw e;
      }
      if (v !== undefined && this.isKw('in')) {
        const op = this.next();
        const coll = this.parseTermRelation();
        lhs = { type: 'call', op: opRef('internal.member_3', op.loc), args: [lhs, v, coll], loc: lhs.loc };
      } else this.restore(s);
    }
    while (this.isKw('in') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermRelation();
      lhs = { type: 'call', op: opRef('internal.member_2', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  parseTermIn(): Term {
    let lhs = this.parseTermRelation();
    while (this.isKw('in') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermRelation();
      lhs = { type: 'call', op: opRef('internal.member_2', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  private parseTermRelation(): Term {
    let lhs = this.parseTermOr();
    while (this.tok.kind === 'punct' && RELATIONS[this.tok.text] !== undefined && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermOr();
      lhs = { type: 'call', op: opRef(RELATIONS[op.text]!, op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  private parseTermOr(): Term {
    let lhs = this.parseTermAnd();
    while (this.isPunct('|') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermAnd();
      lhs = { type: 'call', op: opRef('or', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  private parseTermAnd(): Term {
    let lhs = this.parseTermArith();
    while (this.isPunct('&') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermArith();
      lhs = { type: 'call', op: opRef('and', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  private parseTermArith(): Term {
    let lhs = this.parseTermFactor();
    while (this.tok.kind === 'punct' && ARITH[this.tok.text] !== undefined && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermFactor();
      lhs = { type: 'call', op: opRef(ARITH[op.text]!, op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  private parseTermFactor(): Term {
    let lhs = this.parseTerm();
    while (this.tok.kind === 'punct' && FACTOR[this.tok.text] !== undefined && this.cont()) {
      const op = this.next();
      const rhs = this.parseTerm();
      lhs = { type: 'call', op: opRef(FACTOR[op.text]!, op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  parseTerm(): Term {
    // Collections re-read their first element after a failed guess; like OPA's parsedTermCache, remember each
    // term by its start so nested re-reads stay linear instead of doubling per level.
    const start = this.p;
    const hit = this.termCache.get(start);
    if (hit) {
      this.p = hit.end;
      return hit.term;
    }
    this.enter();
    try {
      const base = this.parsePrimary();
      const term = this.parsePostfix(base);
      this.termCache.set(start, { term, end: this.p });
      return term;
    } finally {
      this.depth--;
    }
  }

  private parsePostfix(base: Term): Term {
    let t = base;
    for (;;) {
      if (this.isPunct('.') && this.adjacent() && this.tok.end === this.peek().loc.offset) {
        if (!isRefHead(t)) this.unexpected();
        this.next();
        const id = this.tok;
        if (id.kind !== 'ident') this.unexpected();
        this.next();
        t = appendRef(t, { type: 'scalar', value: id.text, loc: id.loc });
      } else if (this.isPunct('[') && this.cont() && this.toks[this.p - 1]!.end === this.tok.loc.offset) {
        if (!isRefHead(t)) break;
        this.next();
        this.nest++;
        const k = this.parseTermIn();
        this.nest--;
        this.expectPunct(']');
        t = appendRef(t, k);
      } else if (this.isPunct('(') && this.cont() && this.toks[this.p - 1]!.end === this.tok.loc.offset) {
        if (t.type !== 'var' && t.type !== 'ref') this.unexpected();
        if (t.type === 'ref' && t.terms[0]!.type !== 'var') this.unexpected();
        const args = this.parseArgs();
        if (t.type === 'var' && t.name === 'set' && args.length === 0) {
          t = { type: 'set', items: [], loc: t.loc };
        } else {
          const op: Term = t.type === 'var' ? { type: 'ref', terms: [t], loc: t.loc } : t;
          t = { type: 'call', op, args, loc: t.loc };
        }
      } else break;
    }
    return t;
  }

  private parsePrimary(): Term {
    const t = this.tok;
    switch (t.kind) {
      case 'number': {
        this.next();
        const v = parseNumber(t.text);
        if (v === undefined) this.fail('illegal number format', t);
        return { type: 'scalar', value: v, loc: t.loc };
      }
      case 'string':
      case 'rawstring':
        this.next();
        return { type: 'scalar', value: t.text, loc: t.loc };
      case 'template':
      case 'rawtemplate':
        this.next();
        return this.parseTemplate(t);
      case 'ident': {
        if (this.kw.has(t.text) && this.dotted(t)) {
          this.next();
          return { type: 'var', name: t.text, loc: t.loc };
        }
        if (t.text === 'true' || t.text === 'false') {
          this.next();
          return { type: 'scalar', value: t.text === 'true', loc: t.loc };
        }
        if (t.text === 'null') {
          this.next();
          return { type: 'scalar', value: null, loc: t.loc };
        }
        if (this.kw.has(t.text) && !this.dotted(t)) this.unexpected();
        this.next();
        return { type: 'var', name: t.text, loc: t.loc };
      }
      case 'punct':
        break;
      case 'eof':
        this.unexpected();
    }
    if (t.text === '-') {
      // OPA: a leading `-` only signs a number literal (`- a`, `--1` are refused)
      const n = this.peek();
      this.next();
      if (n.kind !== 'number') this.fail(`unexpected ${tokenName(n, this.kw)}: expected number`, n);
      this.next();
      const v = parseNumber('-' + n.text);
      if (v === undefined) this.fail('illegal number format', t);
      return { type: 'scalar', value: v, loc: t.loc };
    }
    if (t.text === '(') {
      this.next();
      this.nest++;
      const saved = this.inParens;
      this.inParens = true;
      const inner = this.parseTermInKV();
      this.inParens = saved;
      this.nest--;
      this.expectPunct(')');
      return inner;
    }
    if (t.text === '[') return this.parseArray();
    if (t.text === '{') return this.parseBrace();
    return this.unexpected();
  }

  /**
   * `[` ... `]`: like OPA, the first element is read as a single term; a `|` after it tries a comprehension, and
   * when that body does not parse (and stopped at a `,`) or no `|` follows, the whole is re-read as an array of
   * full expressions (`[x | y, 5]` and `[q & {1} | {true}]` are arrays).
   */
  private parseArray(): Term {
    const open = this.next();
    this.nest++;
    try {
      if (this.isPunct(']')) {
        this.next();
        return { type: 'array', items: [], loc: open.loc };
      }
      let potential = true;
      if (this.isPunct(',')) {
        potential = false;
        this.next();
      }
      const s = this.save();
      const head = this.parseTerm();
      if (this.isPunct(']')) {
        this.next();
        return { type: 'array', items: [head], loc: open.loc };
      }
      if (this.isPunct(',')) {
        this.next();
        return { type: 'array', items: this.parseTermList(']', [head]), loc: open.loc };
      }
      if (this.isPunct('|') && potential) {
        const body = this.tryCompBody(']');
        if (body) return { type: 'arraycomp', term: head, body, loc: open.loc };
      }
      this.restore(s);
      return { type: 'array', items: this.parseTermList(']', []), loc: open.loc };
    } finally {
      this.nest--;
    }
  }

  /**
   * At `|`: parse a comprehension body up to `end` (consumed). On a parse error that stopped at a `,`, returns
   * undefined (the caller re-reads a collection); any other error is thrown.
   */
  private tryCompBody(end: string): Expr[] | undefined {
    const s = this.save();
    this.next();
    try {
      return this.parseCompBodyUntil(end);
    } catch (e) {
      if (!(e instanceof RegoError) || !this.isPunct(',')) throw e;
      this.restore(s);
      return undefined;
    }
  }

  /** Comma-separated full expressions up to `end` (consumed); a trailing comma is allowed. */
  private parseTermList(end: string, items: Term[]): Term[] {
    while (!this.isPunct(end)) {
      items.push(this.parseTermIn());
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct(end))
        this.fail(`unexpected ${tokenName(this.tok, this.kw)}: expected "," or "${end}"`);
    }
    this.next();
    return items;
  }

  private parseCompBodyUntil(end: string): Expr[] {
    const saved = this.nest;
    this.nest = 0;
    const body = this.parseBody(end);
    this.nest = saved;
    if (!this.isPunct(end)) this.unexpected();
    if (body.length === 0) this.fail('found empty body');
    this.next();
    return body;
  }

  /** `{` ... `}`: object, set, or their comprehensions, disambiguated like OPA (see parseArray). */
  private parseBrace(): Term {
    const open = this.next();
    this.nest++;
    try {
      if (this.isPunct('}')) {
        this.next();
        return { type: 'object', items: [], loc: open.loc };
      }
      let potential = true;
      if (this.isPunct(',')) {
        potential = false;
        this.next();
      }
      const s = this.save();
      let head = this.parseTerm();
      if (this.isPunct('|') && potential) {
        const body = this.tryCompBody('}');
        if (body) return { type: 'setcomp', term: head, body, loc: open.loc };
        this.restore(s);
        return { type: 'set', items: this.parseTermList('}', []), loc: open.loc };
      }
      if (this.isPunct('}') || this.isPunct(',')) return this.finishSet(head, open.loc);
      if (this.isPunct(':')) return this.parseObject(head, potential, open.loc);
      this.restore(s);
      head = this.parseTermIn();
      if (this.isPunct('}') || this.isPunct(',')) return this.finishSet(head, open.loc);
      if (this.isPunct(':')) return this.parseObject(head, potential, open.loc);
      return this.fail(`unexpected ${tokenName(this.tok, this.kw)}: non-terminated set`);
    } finally {
      this.nest--;
    }
  }

  private finishSet(head: Term, loc: Location): Term {
    if (this.isPunct('}')) {
      this.next();
      return { type: 'set', items: [head], loc };
    }
    this.next();
    return { type: 'set', items: this.parseTermList('}', [head]), loc };
  }

  private parseObject(key: Term, potential: boolean, loc: Location): Term {
    this.expectPunct(':');
    const s = this.save();
    const v = this.parseTerm();
    if (potential && (this.isPunct('}') || this.isPunct(',') || this.isPunct('|'))) {
      if (this.isPunct('|')) {
        const body = this.tryCompBody('}');
        if (body) return { type: 'objcomp', key, value: v, body, loc };
      } else return this.finishObject(key, v, loc);
    }
    this.restore(s);
    const value = this.parseTermIn();
    if (this.isPunct('}') || this.isPunct(',')) return this.finishObject(key, value, loc);
    return this.fail(`unexpected ${tokenName(this.tok, this.kw)}: non-terminated object`);
  }

  private finishObject(key: Term, value: Term, loc: Location): Term {
    const items: [Term, Term][] = [[key, value]];
    if (this.isPunct(',')) {
      this.next();
      while (!this.isPunct('}')) {
        const k = this.parseTermIn();
        this.expectPunct(':');
        items.push([k, this.parseTermIn()]);
        if (this.isPunct(',')) this.next();
        else if (!this.isPunct('}'))
          this.fail(`unexpected ${tokenName(this.tok, this.kw)}: expected "," or "}"`);
      }
    }
    this.expectPunct('}');
    return { type: 'object', items, loc };
  }

  private parseTemplate(t: Token): Term {
    const raw = t.raw ?? '';
    const rawMode = t.kind === 'rawtemplate';
    const parts: (string | Term)[] = [];
    let lit = '';
    let i = 0;
    while (i < raw.length) {
      const c = raw[i]!;
      if (rawMode && c === '\\' && raw[i + 1] === '{') {
        lit += '{';
        i += 2;
        continue;
      }
      if (!rawMode && c === '\\') {
        if (raw[i + 1] === '{') {
          lit += '{';
          i += 2;
          continue;
        }
        // JSON escape
        let j = i + 2;
        if (raw[i + 1] === 'u') j = i + 6;
        try {
          lit += JSON.parse('"' + raw.slice(i, j) + '"') as string;
        } catch {
          this.fail('illegal string escape', t);
        }
        i = j;
        continue;
      }
      if (c === '{') {
        const j = skipTemplateExpr(raw, i + 1);
        if (j < 0) this.fail('non-terminated template expression', t);
        const inner = raw.slice(i + 1, j - 1);
        if (lit) parts.push(lit);
        lit = '';
        const sub = new Parser(inner, this.file);
        const e = sub.parseTemplateExpr(t.loc);
        parts.push(e);
        i = j;
        continue;
      }
      lit += c;
      i++;
    }
    if (lit) parts.push(lit);
    return { type: 'template', parts, loc: t.loc };
  }

  private parseTemplateExpr(loc: Location): Term {
    if (this.atEof()) throw new RegoError('rego_parse_error', 'empty template expression', loc);
    this.nest = 1;
    const term = this.parseTermIn();
    const withs = this.parseWiths();
    if (!this.atEof()) this.unexpected();
    if (withs.length === 0) return term;
    // `{x with input as y}`: evaluated as a one-expression comprehension whose values are spliced in
    const v: Term = { type: 'var', name: '__tpl', loc };
    return {
      type: 'arraycomp',
      term: v,
      body: [{ kind: 'unify', a: v, b: term, assign: true, negated: false, with: withs, loc }],
      loc,
      unwrap: true,
    };
  }

  /** A query: literals separated by `;` or newlines. */
  parseQuery(): Expr[] {
    const body = this.parseBody(undefined);
    if (this.tok.kind !== 'eof') this.unexpected();
    if (body.length === 0) this.fail('empty query');
    return body;
  }

  /** A single term (e.g. `input_term`). */
  parseSingleTerm(): Term {
    this.nest = 1;
    const t = this.parseTermIn();
    if (this.tok.kind !== 'eof') this.unexpected();
    return t;
  }
}

function tokenName(t: Token, kw: ReadonlySet<string>): string {
  if (t.kind === 'eof') return 'eof token';
  if (t.kind === 'ident') return kw.has(t.text) ? `${t.text} keyword` : 'ident token';
  if (t.kind === 'punct') return `${t.text} token`;
  return `${t.kind} token`;
}

/** OPA's name of a term type (`ref`, `var`, `call`, ...). */
function termTypeName(t: Term): string {
  switch (t.type) {
    case 'scalar':
      return t.value === null
        ? 'null'
        : typeof t.value === 'string'
          ? 'string'
          : typeof t.value === 'boolean'
            ? 'boolean'
            : 'number';
    case 'arraycomp':
      return 'arraycomprehension';
    case 'setcomp':
      return 'setcomprehension';
    case 'objcomp':
      return 'objectcomprehension';
    case 'template':
      return 'templatestring';
    case 'array':
    case 'call':
    case 'object':
    case 'ref':
    case 'set':
    case 'var':
      return t.type;
  }
}

/** The first ref, var or call in a term outside comprehensions (what a default value cannot contain). */
function nonConstant(t: Term): string | undefined {
  switch (t.type) {
    case 'ref':
    case 'var':
    case 'call':
    case 'template':
      return t.type === 'template' ? 'call' : t.type;
    case 'array':
    case 'set':
      for (const x of t.items) {
        const b = nonConstant(x);
        if (b) return b;
      }
      return undefined;
    case 'object':
      for (const [k, v] of t.items) {
        const b = nonConstant(k) ?? nonConstant(v);
        if (b) return b;
      }
      return undefined;
    case 'arraycomp':
    case 'objcomp':
    case 'scalar':
    case 'setcomp':
      return undefined;
  }
}

function opRef(name: string, loc: Location): Term {
  return { type: 'ref', terms: [{ type: 'var', name, loc }], loc };
}

function isRefHead(t: Term): boolean {
  return (
    t.type === 'var' ||
    t.type === 'ref' ||
    t.type === 'array' ||
    t.type === 'object' ||
    t.type === 'set' ||
    t.type === 'call' ||
    t.type === 'arraycomp' ||
    t.type === 'setcomp' ||
    t.type === 'objcomp'
  );
}

function appendRef(t: Term, k: Term): Term {
  if (t.type === 'ref') return { type: 'ref', terms: [...t.terms, k], loc: t.loc };
  return { type: 'ref', terms: [t, k], loc: t.loc };
}

function refTerms(t: Term): Term[] {
  return t.type === 'ref' ? t.terms : [t];
}

/** `a.b["c"]` -> ['a','b','c'] (skipping a leading `data` when asked); undefined if not all constant strings. */
export function refToPath(t: Term, dropData: boolean): string[] | undefined {
  const terms = refTerms(t);
  const out: string[] = [];
  for (let i = 0; i < terms.length; i++) {
    const x = terms[i]!;
    if (i === 0) {
      if (x.type !== 'var') return undefined;
      if (!(dropData && x.name === 'data')) out.push(x.name);
      continue;
    }
    if (x.type !== 'scalar' || typeof x.value !== 'string') return undefined;
    out.push(x.value);
  }
  return out;
}

export function parseModule(file: string, source: string, opts: ParseOptions = {}): Module {
  return new Parser(source, file, opts).parseModule();
}

export function parseQuery(source: string, file = 'query'): Expr[] {
  return new Parser(source, file).parseQuery();
}

export function parseTerm(source: string, file = 'term'): Term {
  return new Parser(source, file).parseSingleTerm();
}
