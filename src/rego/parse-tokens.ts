/**
 * The token cursor under the Rego parser: position, nesting (a newline ends a literal only at depth 0), the active
 * keywords, speculative reads (save/restore) and OPA's parse error messages.
 */
import { RegoError } from './errors.js';
import { tokenize } from './lexer.js';
import type { Comment, Token } from './lexer.js';

export const MAX_PARSE_DEPTH = 500;

/** Parser state saved before a speculative parse (comprehension vs collection). */
interface SavedState {
  p: number;
  nest: number;
  depth: number;
  inParens: boolean;
}

export class TokenReader {
  protected toks: Token[];
  protected p = 0;
  /** Brackets open around the current token (0: newlines separate literals). */
  protected nest = 0;
  protected depth = 0;
  protected inParens = false;
  protected readonly lines: string[];
  protected readonly comments: Comment[] = [];

  constructor(
    protected readonly src: string,
    protected readonly file: string,
    /** Active keywords: all of them in v1; in v0 the future keywords once imported. */
    protected readonly kw: Set<string>,
  ) {
    this.lines = src.split('\n');
    this.toks = tokenize(src, file, this.comments);
  }

  protected save(): SavedState {
    return { p: this.p, nest: this.nest, depth: this.depth, inParens: this.inParens };
  }
  protected restore(s: SavedState): void {
    this.p = s.p;
    this.nest = s.nest;
    this.depth = s.depth;
    this.inParens = s.inParens;
  }

  protected get tok(): Token {
    return this.toks[this.p]!;
  }
  protected peek(k = 1): Token {
    return this.toks[Math.min(this.p + k, this.toks.length - 1)]!;
  }
  protected next(): Token {
    const t = this.toks[this.p]!;
    if (this.p < this.toks.length - 1) this.p++;
    return t;
  }
  protected atEof(): boolean {
    return this.tok.kind === 'eof';
  }
  protected isPunct(text: string, t: Token = this.tok): boolean {
    return t.kind === 'punct' && t.text === text;
  }
  protected isKw(text: string, t: Token = this.tok): boolean {
    return t.kind === 'ident' && t.text === text && this.kw.has(text) && !this.dotted(t);
  }
  /** A keyword immediately followed by `.` is a reference head (e.g. `contains.foo`), not a keyword. */
  protected dotted(t: Token): boolean {
    const i = this.toks.indexOf(t, this.p);
    const n = i >= 0 ? this.toks[i + 1] : undefined;
    return (
      n !== undefined && n.kind === 'punct' && (n.text === '.' || n.text === '(') && n.loc.offset === t.end
    );
  }
  protected fail(msg: string, t: Token = this.tok): never {
    throw new RegoError('rego_parse_error', msg, t.loc, { line: this.lines[t.loc.row - 1] ?? '' });
  }
  protected unexpected(t: Token = this.tok): never {
    if (t.kind === 'eof') this.fail('unexpected eof token');
    const what = t.kind === 'ident' ? (this.kw.has(t.text) ? `${t.text} keyword` : 'ident') : t.kind;
    this.fail(`unexpected ${what === 'punct' ? t.text : what} token`, t);
  }
  protected expectPunct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected ${text}${this.atEof() ? ', got eof' : ''}`);
    return this.next();
  }
  /**
   * May an infix operator continue the expression at the current token? Always, like OPA: its scanner skips
   * newlines between a term and an operator (`x := 1` newline `+ 2` is one expression). Literals are separated by
   * newlines only where no operator follows; postfix selections (`.`, `[`, `(`) must touch the term instead.
   */
  protected cont(): boolean {
    return true;
  }
  /** The current token touches the previous one (no whitespace between). */
  protected adjacent(): boolean {
    return this.p > 0 && this.toks[this.p - 1]!.end === this.tok.loc.offset;
  }
  protected enter(): void {
    if (++this.depth > MAX_PARSE_DEPTH) this.fail('nesting too deep');
  }

  /** The source text from `start` to the last token read. */
  protected textFrom(start: Token): string {
    const end = this.toks[this.p - 1]!;
    return this.src.slice(start.loc.offset, end.end);
  }
}

export function tokenName(t: Token, kw: ReadonlySet<string>): string {
  if (t.kind === 'eof') return 'eof token';
  if (t.kind === 'ident') return kw.has(t.text) ? `${t.text} keyword` : 'ident token';
  if (t.kind === 'punct') return `${t.text} token`;
  return `${t.kind} token`;
}
