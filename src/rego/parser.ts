/**
 * Recursive-descent parser for Rego modules (v1, and v0 on request) and queries, following OPA's v1/ast/parser.go.
 * Layers, each a file: the token cursor (parse-tokens.ts), terms by precedence (parse-terms.ts), bodies and
 * literals (parse-body.ts), and here the module: package, imports (which switch v0 keywords on), rule heads in both
 * versions, `else` chains, chained bodies and `default` rules.
 *
 * Precedence (loosest first):
 *   `:=` `=`  <  `in`  <  relations (== != < <= > >=)  <  `|`  <  `&`  <  `+ -`  <  `* / %`  <  postfix
 * Newlines separate body literals: at nesting depth 0 an operator or postfix on a new line starts a new literal.
 */
import type { Expr, Import, Module, Rule, RuleHead, Term } from './ast.js';
import { RegoError, RegoErrors } from './errors.js';
import type { Location } from './errors.js';
import { attachAnnotations } from './annotations.js';
import type { Token } from './lexer.js';
import { BodyParser } from './parse-body.js';

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

export class Parser extends BodyParser {
  /** v1 violations of otherwise well-formed v0 rules, reported together after the module is read. */
  private readonly v1Errors: RegoError[] = [];
  /** v1 rule-head rules apply (`if` before bodies, `contains` for partial sets): v1, or v0 with `rego.v1`. */
  private strictV1: boolean;
  readonly regoVersion: RegoVersion;

  constructor(src: string, file: string, opts: ParseOptions = {}) {
    const regoVersion = normalizeRegoVersion(opts.regoVersion);
    super(src, file, new Set(regoVersion === 'v1' ? KEYWORDS : BASE_KEYWORDS));
    this.regoVersion = regoVersion;
    this.strictV1 = regoVersion === 'v1';
  }

  protected templateParser(source: string): Parser {
    return new Parser(source, this.file);
  }

  private v1Error(msg: string, t: Token): void {
    this.v1Errors.push(
      new RegoError('rego_parse_error', msg, t.loc, { line: this.lines[t.loc.row - 1] ?? '' }),
    );
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
