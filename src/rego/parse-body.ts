/**
 * Rego bodies: literals separated by newlines or `;` (`some`, `every`, `not`, unifications and assignments, `with`
 * modifiers), as rule bodies, comprehension bodies and queries.
 */
import type { Expr, Term, With } from './ast.js';
import type { Location } from './errors.js';
import { TermParser, opRef } from './parse-terms.js';

export abstract class BodyParser extends TermParser {
  protected parseBraceBody(): Expr[] {
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

  protected parseWiths(): With[] {
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

  protected parseSome(): Expr {
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

  protected parseEvery(): Expr {
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

  protected parseExpr(loc: Location): Expr {
    const lhs = this.parseTermInKV();
    if ((this.isPunct(':=') || this.isPunct('=')) && this.cont()) {
      const assign = this.next().text === ':=';
      const rhs = this.parseTermIn();
      return { kind: 'unify', a: lhs, b: rhs, assign, negated: false, with: [], loc };
    }
    return { kind: 'term', term: lhs, negated: false, with: [], loc };
  }
}
