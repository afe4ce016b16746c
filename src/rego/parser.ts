/**
 * Recursive-descent parser for Rego v1 modules and queries.
 *
 * Precedence (loosest first), following OPA's parser:
 *   `:=` `=`  <  `in`  <  relations (== != < <= > >=)  <  `|`  <  `&`  <  `+ -`  <  `* / %`  <  postfix
 * Newlines separate body literals: at nesting depth 0 an operator or postfix on a new line starts a new literal.
 */
import type { Expr, Import, Module, Rule, RuleHead, Term, With } from './ast.js';
import { RegoError } from './errors.js';
import type { Location } from './errors.js';
import { skipTemplateExpr, tokenize } from './lexer.js';
import type { Token } from './lexer.js';
import { parseNumber } from './value.js';

const KEYWORDS = new Set([
  'package',
  'import',
  'as',
  'default',
  'else',
  'not',
  'with',
  'some',
  'if',
  'contains',
  'in',
  'every',
  'true',
  'false',
  'null',
]);

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
  private noOrNest = -1;
  private inParens = false;
  private readonly lines: string[];

  constructor(
    private readonly src: string,
    private readonly file: string,
  ) {
    this.lines = src.split('\n');
    this.toks = tokenize(src, file);
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
    return t.kind === 'ident' && t.text === text && !this.dotted(t);
  }
  /** A keyword immediately followed by `.` is a reference head (e.g. `contains.foo`), not a keyword. */
  private dotted(t: Token): boolean {
    const i = this.toks.indexOf(t, this.p);
    const n = i >= 0 ? this.toks[i + 1] : undefined;
    return (
      n !== undefined && n.kind === 'punct' && (n.text === '.' || n.text === '(') && n.loc.offset === t.end
    );
  }
  private fail(msg: string, t: Token = this.tok): never {
    throw new RegoError('rego_parse_error', msg, t.loc, { line: this.lines[t.loc.row - 1] ?? '' });
  }
  private unexpected(t: Token = this.tok): never {
    if (t.kind === 'eof') this.fail('unexpected eof token');
    const what = t.kind === 'ident' ? (KEYWORDS.has(t.text) ? `${t.text} keyword` : 'ident') : t.kind;
    this.fail(`unexpected ${what === 'punct' ? t.text : what} token`, t);
  }
  private expectPunct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected ${text}${this.atEof() ? ', got eof' : ''}`);
    return this.next();
  }
  /** May an infix/postfix continue at the current token? Not across a newline at body level. */
  private cont(): boolean {
    return !(this.tok.nl && this.nest === 0);
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
    while (this.isKw('import')) imports.push(this.parseImport());
    while (this.tok.kind !== 'eof') {
      if (this.isKw('import')) this.fail('imports must appear before rules');
      if (this.isKw('package')) this.fail('unexpected package keyword');
      rules.push(this.parseRule());
    }
    return { file: this.file, source: this.src, package: pkg, packagePath, imports, rules, loc: first.loc };
  }

  private parseImport(): Import {
    const loc = this.next().loc;
    const path = this.parseRefTerm(true);
    const head = path.type === 'ref' ? path.terms[0]! : path;
    if (head.type !== 'var' || !['data', 'input', 'future', 'rego'].includes(head.name))
      this.fail('invalid import path: must begin with input or data', this.toks[this.p - 1]);
    let alias: string | undefined;
    if (this.isKw('as') && this.cont()) {
      this.next();
      if (this.tok.kind !== 'ident' || KEYWORDS.has(this.tok.text))
        this.fail('import alias must be a variable');
      alias = this.next().text;
    }
    return { path, alias, loc };
  }

  /** A reference made of a var and `.name` / `[term]` selections (package paths, rule heads, imports). */
  private parseRefTerm(allowKwHead: boolean): Term {
    const t = this.tok;
    if (t.kind !== 'ident' || (!allowKwHead && KEYWORDS.has(t.text) && !this.dotted(t))) this.unexpected();
    this.next();
    const head: Term = { type: 'var', name: t.text, loc: t.loc };
    const terms: Term[] = [head];
    for (;;) {
      if (this.isPunct('.') && !this.tok.nl) {
        this.next();
        const id = this.tok;
        if (id.kind !== 'ident') this.unexpected();
        this.next();
        terms.push({ type: 'scalar', value: id.text, loc: id.loc });
      } else if (this.isPunct('[') && !this.tok.nl) {
        this.next();
        this.nest++;
        terms.push(this.parseTermIn());
        this.nest--;
        this.expectPunct(']');
      } else break;
    }
    return terms.length === 1 ? head : { type: 'ref', terms, loc: t.loc };
  }

  private parseRule(): Rule {
    const start = this.tok;
    if (this.isKw('default')) {
      this.next();
      const ref = this.parseRefTerm(false);
      let args: Term[] | undefined;
      if (this.isPunct('(') && this.cont()) args = this.parseArgs();
      if (!this.isPunct(':=') && !this.isPunct('=')) this.fail('default rule must have a value');
      const assign = this.next().text === ':=';
      const value = this.parseTermIn();
      const head: RuleHead = { ref: refTerms(ref), args, key: undefined, value, assign, loc: start.loc };
      return { default: true, head, body: [], else: undefined, loc: start.loc, hasBody: false };
    }
    const ref = this.parseRefTerm(false);
    const head: RuleHead = {
      ref: refTerms(ref),
      args: undefined,
      key: undefined,
      value: undefined,
      assign: false,
      loc: start.loc,
    };
    if (this.isPunct('(') && this.cont()) head.args = this.parseArgs();
    if (this.isKw('contains') && this.cont()) {
      this.next();
      head.key = this.parseTermIn();
    } else if ((this.isPunct(':=') || this.isPunct('=')) && this.cont()) {
      head.assign = this.next().text === ':=';
      head.value = this.parseTermIn();
    }
    const rule: Rule = { default: false, head, body: [], else: undefined, loc: start.loc, hasBody: false };
    this.parseRuleBody(rule, true);
    // else chain
    let cur = rule;
    while (this.isKw('else')) {
      const eTok = this.next();
      if (head.key !== undefined) this.fail('else keyword cannot be used on multi-value rules', eTok);
      const eh: RuleHead = { ...head, value: undefined, loc: eTok.loc };
      if ((this.isPunct(':=') || this.isPunct('=')) && this.cont()) {
        eh.assign = this.next().text === ':=';
        eh.value = this.parseTermIn();
      }
      const er: Rule = { default: false, head: eh, body: [], else: undefined, loc: eTok.loc, hasBody: false };
      this.parseRuleBody(er, false);
      cur.else = er;
      cur = er;
    }
    return rule;
  }

  private parseRuleBody(rule: Rule, allowBare: boolean): void {
    if (this.isKw('if') && this.cont()) {
      this.next();
      rule.hasBody = true;
      if (this.isPunct('{')) {
        // `if {` opens a body; when that fails, `{...}` may start a single literal (e.g. a comprehension)
        const save = this.p;
        try {
          rule.body = this.parseBraceBody();
        } catch (e) {
          if (!(e instanceof RegoError)) throw e;
          this.p = save;
          const saved = this.nest;
          this.nest = 0;
          try {
            rule.body = [this.parseLiteral()];
          } catch {
            throw e;
          } finally {
            this.nest = saved;
          }
        }
      } else {
        const saved = this.nest;
        this.nest = 0;
        rule.body = [this.parseLiteral()];
        this.nest = saved;
      }
    } else if (this.isPunct('{') && this.cont()) {
      if (!allowBare && rule.head.value === undefined) {
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
      const coll = this.parseTermRelation();
      const [a, b] = terms as [Term, Term | undefined];
      const e: Expr = {
        kind: 'somein',
        key: b === undefined ? undefined : a,
        value: b ?? a,
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
      this.next();
      const v = this.parseTermRelation();
      if (!this.isKw('in')) this.unexpected();
      const op = this.next();
      const coll = this.parseTermRelation();
      lhs = { type: 'call', op: opRef('internal.member_3', op.loc), args: [lhs, v, coll], loc: lhs.loc };
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
    while (this.isPunct('|') && this.cont() && this.nest !== this.noOrNest) {
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
    this.enter();
    try {
      const base = this.parsePrimary();
      return this.parsePostfix(base);
    } finally {
      this.depth--;
    }
  }

  private parsePostfix(base: Term): Term {
    let t = base;
    for (;;) {
      if (this.isPunct('.') && this.cont() && this.tok.end === this.peek().loc.offset) {
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
        if (KEYWORDS.has(t.text) && this.dotted(t)) {
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
        if (KEYWORDS.has(t.text) && !this.dotted(t)) this.unexpected();
        this.next();
        return { type: 'var', name: t.text, loc: t.loc };
      }
      case 'punct':
        break;
      case 'eof':
        this.unexpected();
    }
    if (t.text === '-') {
      const n = this.peek();
      if (n.kind === 'number' && n.loc.offset === t.end) {
        this.next();
        this.next();
        const v = parseNumber('-' + n.text);
        if (v === undefined) this.fail('illegal number format', t);
        return { type: 'scalar', value: v, loc: t.loc };
      }
      // unary minus on a term: 0 - term
      this.next();
      const operand = this.parseTerm();
      return {
        type: 'call',
        op: opRef('minus', t.loc),
        args: [{ type: 'scalar', value: 0, loc: t.loc }, operand],
        loc: t.loc,
      };
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

  private parseCompBody(): Expr[] {
    const saved = this.nest;
    this.nest = 0;
    const body = this.parseBody(undefined);
    this.nest = saved;
    return body;
  }

  private parseArray(): Term {
    const open = this.next();
    this.nest++;
    const items: Term[] = [];
    if (!this.isPunct(']')) {
      const first = this.firstElem();
      if (this.isPunct('|')) {
        this.next();
        const body = this.parseCompBodyUntil(']');
        this.nest--;
        return { type: 'arraycomp', term: first, body, loc: open.loc };
      }
      items.push(first);
      while (this.isPunct(',')) {
        this.next();
        if (this.isPunct(']')) break;
        items.push(this.parseTermIn());
      }
    }
    this.nest--;
    this.expectPunct(']');
    return { type: 'array', items, loc: open.loc };
  }

  /** First element of a collection literal: `|` there starts a comprehension body. */
  private firstElem(): Term {
    const saved = this.noOrNest;
    this.noOrNest = this.nest;
    try {
      return this.parseTermIn();
    } finally {
      this.noOrNest = saved;
    }
  }

  private parseCompBodyUntil(end: string): Expr[] {
    const saved = this.nest;
    this.nest = 0;
    const body = this.parseBody(end);
    this.nest = saved;
    if (!this.isPunct(end)) this.unexpected();
    this.next();
    if (body.length === 0) this.fail('found empty body');
    return body;
  }

  private parseBrace(): Term {
    const open = this.next();
    this.nest++;
    if (this.isPunct('}')) {
      this.next();
      this.nest--;
      return { type: 'object', items: [], loc: open.loc };
    }
    const first = this.firstElem();
    if (this.isPunct(':')) {
      this.next();
      const v = this.firstElem();
      if (this.isPunct('|')) {
        this.next();
        const body = this.parseCompBodyUntil('}');
        this.nest--;
        return { type: 'objcomp', key: first, value: v, body, loc: open.loc };
      }
      const items: [Term, Term][] = [[first, v]];
      while (this.isPunct(',')) {
        this.next();
        if (this.isPunct('}')) break;
        const k = this.parseTermIn();
        this.expectPunct(':');
        items.push([k, this.parseTermIn()]);
      }
      this.nest--;
      this.expectPunct('}');
      return { type: 'object', items, loc: open.loc };
    }
    if (this.isPunct('|')) {
      this.next();
      const body = this.parseCompBodyUntil('}');
      this.nest--;
      return { type: 'setcomp', term: first, body, loc: open.loc };
    }
    const items: Term[] = [first];
    while (this.isPunct(',')) {
      this.next();
      if (this.isPunct('}')) break;
      items.push(this.parseTermIn());
    }
    this.nest--;
    this.expectPunct('}');
    return { type: 'set', items, loc: open.loc };
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

export function parseModule(file: string, source: string): Module {
  return new Parser(source, file).parseModule();
}

export function parseQuery(source: string, file = 'query'): Expr[] {
  return new Parser(source, file).parseQuery();
}

export function parseTerm(source: string, file = 'term'): Term {
  return new Parser(source, file).parseSingleTerm();
}
