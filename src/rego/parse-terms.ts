/**
 * Rego terms, by precedence (loosest first, following OPA's parser):
 *   `in`  <  relations (== != < <= > >=)  <  `|`  <  `&`  <  `+ -`  <  `* / %`  <  postfix (`.x`, `[x]`, `(args)`)
 * Collections and comprehensions are told apart like OPA: the first element is read as a single term and re-read
 * after a failed guess, with a term cache keeping nested re-reads linear. Template strings parse their `{...}`
 * parts with a fresh parser. Bodies (comprehensions, `with`) are read by the subclass (parse-body.ts).
 */
import type { Expr, Term, With } from './ast.js';
import { RegoError } from './errors.js';
import type { Location } from './errors.js';
import { skipTemplateExpr } from './lexer.js';
import type { Token } from './lexer.js';
import { TokenReader, tokenName } from './parse-tokens.js';
import { parseNumber } from './value.js';

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

export abstract class TermParser extends TokenReader {
  protected readonly termCache = new Map<number, { term: Term; end: number }>();

  /** Literals separated by newlines or `;`, until `end` (not consumed) or eof. */
  abstract parseBody(end: string | undefined): Expr[];
  protected abstract parseWiths(): With[];
  /** A parser for the source of a template string's `{...}` part. */
  protected abstract templateParser(source: string): TermParser;

  /**
   * A reference made of a var and `.name` / `[term]` selections (package paths, rule heads, imports).
   * `namesOnly`: every segment is a plain name, keywords included (import paths).
   */
  protected parseRefTerm(allowKwHead: boolean, namesOnly = false): Term {
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

  protected parseArgs(): Term[] {
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

  /** `k, v in xs` (allowed at literal level and in parentheses), then `in` chains. */
  protected parseTermInKV(): Term {
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

  protected parseTermRelation(): Term {
    let lhs = this.parseTermOr();
    while (this.tok.kind === 'punct' && RELATIONS[this.tok.text] !== undefined && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermOr();
      lhs = { type: 'call', op: opRef(RELATIONS[op.text]!, op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  protected parseTermOr(): Term {
    let lhs = this.parseTermAnd();
    while (this.isPunct('|') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermAnd();
      lhs = { type: 'call', op: opRef('or', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  protected parseTermAnd(): Term {
    let lhs = this.parseTermArith();
    while (this.isPunct('&') && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermArith();
      lhs = { type: 'call', op: opRef('and', op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  protected parseTermArith(): Term {
    let lhs = this.parseTermFactor();
    while (this.tok.kind === 'punct' && ARITH[this.tok.text] !== undefined && this.cont()) {
      const op = this.next();
      const rhs = this.parseTermFactor();
      lhs = { type: 'call', op: opRef(ARITH[op.text]!, op.loc), args: [lhs, rhs], loc: lhs.loc };
    }
    return lhs;
  }

  protected parseTermFactor(): Term {
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

  protected parsePostfix(base: Term): Term {
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

  protected parsePrimary(): Term {
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
  protected parseArray(): Term {
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
  protected tryCompBody(end: string): Expr[] | undefined {
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
  protected parseTermList(end: string, items: Term[]): Term[] {
    while (!this.isPunct(end)) {
      items.push(this.parseTermIn());
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct(end))
        this.fail(`unexpected ${tokenName(this.tok, this.kw)}: expected "," or "${end}"`);
    }
    this.next();
    return items;
  }

  protected parseCompBodyUntil(end: string): Expr[] {
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
  protected parseBrace(): Term {
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

  protected finishSet(head: Term, loc: Location): Term {
    if (this.isPunct('}')) {
      this.next();
      return { type: 'set', items: [head], loc };
    }
    this.next();
    return { type: 'set', items: this.parseTermList('}', [head]), loc };
  }

  protected parseObject(key: Term, potential: boolean, loc: Location): Term {
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

  protected finishObject(key: Term, value: Term, loc: Location): Term {
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

  protected parseTemplate(t: Token): Term {
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
        const sub = this.templateParser(inner);
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

  protected parseTemplateExpr(loc: Location): Term {
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
}

export function opRef(name: string, loc: Location): Term {
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
