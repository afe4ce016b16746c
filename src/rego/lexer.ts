/**
 * Rego lexer. Produces tokens with locations; records whether a newline preceded a token (bodies use newlines as
 * separators). Strings are decoded here (JSON escapes); raw strings are backquoted. Template strings `$"..."` and
 * `$`...`` are returned as one token whose parts the parser splits.
 */
import { RegoError } from './errors.js';
import type { Location } from './errors.js';

export type TokKind =
  'ident' | 'number' | 'string' | 'rawstring' | 'template' | 'rawtemplate' | 'punct' | 'eof';

export interface Token {
  kind: TokKind;
  /** Identifier, punctuation text, decoded string, or the number's text. */
  text: string;
  /** For templates: the raw body between the quotes. */
  raw?: string;
  loc: Location;
  /** A newline appeared between the previous token and this one. */
  nl: boolean;
  end: number;
}

const PUNCT3: readonly string[] = [];
const PUNCT2 = [':=', '==', '!=', '<=', '>='];
const PUNCT1 = '{}[]().,;:=<>+-*/%&|';

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A `#` comment: its text after the `#`, and where the `#` is. */
export interface Comment {
  text: string;
  loc: Location;
}

/** Tokenize `src`; comments are appended to `comments` when given (METADATA blocks are read from them). */
export function tokenize(src: string, file: string, comments?: Comment[]): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let row = 1;
  let lineStart = 0;
  let nl = false;
  const n = src.length;
  const loc = (off: number): Location => ({ file, row, col: off - lineStart + 1, offset: off });
  const err = (msg: string, off: number): never => {
    const l = loc(off);
    const lineEnd = src.indexOf('\n', lineStart);
    throw new RegoError('rego_parse_error', msg, l, {
      line: src.slice(lineStart, lineEnd < 0 ? undefined : lineEnd),
    });
  };
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 10) {
      i++;
      row++;
      lineStart = i;
      nl = true;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 35) {
      const start = i;
      while (i < n && src.charCodeAt(i) !== 10) i++;
      comments?.push({ text: src.slice(start + 1, i).replace(/\r$/, ''), loc: loc(start) });
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(src.charCodeAt(i))) i++;
      toks.push({ kind: 'ident', text: src.slice(start, i), loc: loc(start), nl, end: i });
      nl = false;
      continue;
    }
    if (isDigit(c)) {
      // number: int frac? exp?
      while (i < n && isDigit(src.charCodeAt(i))) i++;
      if (src[i] === '.' && i + 1 < n && isDigit(src.charCodeAt(i + 1))) {
        i++;
        while (i < n && isDigit(src.charCodeAt(i))) i++;
      }
      if (src[i] === 'e' || src[i] === 'E') {
        let j = i + 1;
        if (src[j] === '+' || src[j] === '-') j++;
        if (j < n && isDigit(src.charCodeAt(j))) {
          i = j;
          while (i < n && isDigit(src.charCodeAt(i))) i++;
        }
      }
      if (i < n && isIdentStart(src.charCodeAt(i))) err('illegal number format', start);
      const text = src.slice(start, i);
      if (text.length > 1 && text[0] === '0' && isDigit(text.charCodeAt(1)))
        err('illegal number format', start);
      toks.push({ kind: 'number', text, loc: loc(start), nl, end: i });
      nl = false;
      continue;
    }
    if (c === 34) {
      i = scanString(src, i, err);
      let text: string;
      try {
        text = JSON.parse(src.slice(start, i)) as string;
      } catch {
        return err('illegal string escape', start);
      }
      toks.push({ kind: 'string', text, loc: loc(start), nl, end: i });
      nl = false;
      continue;
    }
    if (c === 96) {
      const close = src.indexOf('`', i + 1);
      if (close < 0) err('non-terminated raw string', start);
      const text = src.slice(i + 1, close);
      const l = loc(start);
      for (let k = i + 1; k < close; k++) {
        if (src.charCodeAt(k) === 10) {
          row++;
          lineStart = k + 1;
        }
      }
      i = close + 1;
      toks.push({ kind: 'rawstring', text, loc: l, nl, end: i });
      nl = false;
      continue;
    }
    if (c === 36 && (src[i + 1] === '"' || src[i + 1] === '`')) {
      const l = loc(start);
      if (src[i + 1] === '"') {
        i = scanTemplate(src, i + 1, err);
        toks.push({ kind: 'template', text: '', raw: src.slice(start + 2, i - 1), loc: l, nl, end: i });
      } else {
        const end = skipRawTemplate(src, i + 1);
        if (end < 0) err('non-terminated raw template string', start);
        const close = end - 1;
        for (let k = i + 2; k < close; k++) {
          if (src.charCodeAt(k) === 10) {
            row++;
            lineStart = k + 1;
          }
        }
        i = close + 1;
        toks.push({ kind: 'rawtemplate', text: '', raw: src.slice(start + 2, close), loc: l, nl, end: i });
      }
      nl = false;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (PUNCT3.length && PUNCT3.includes(src.slice(i, i + 3))) {
      i += 3;
    } else if (PUNCT2.includes(two)) {
      i += 2;
    } else if (PUNCT1.includes(src[i]!)) {
      i += 1;
    } else {
      err(`illegal token '${String.fromCodePoint(src.codePointAt(i)!)}'`, start);
    }
    toks.push({ kind: 'punct', text: src.slice(start, i), loc: loc(start), nl, end: i });
    nl = false;
  }
  toks.push({ kind: 'eof', text: '', loc: loc(n), nl: true, end: n });
  return toks;
}

function scanString(src: string, i: number, err: (m: string, o: number) => never): number {
  const start = i;
  i++;
  while (i < src.length) {
    const ch = src.charCodeAt(i);
    if (ch === 34) return i + 1;
    if (ch === 92) {
      i += 2;
      continue;
    }
    if (ch === 10) err('non-terminated string', start);
    i++;
  }
  return err('non-terminated string', start);
}

/**
 * Skip a template expression: `i` is just after its `{`; returns the index just after the matching `}`, or -1.
 * Strings, raw strings and nested templates inside the expression are skipped whole.
 */
export function skipTemplateExpr(src: string, i: number): number {
  let depth = 1;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '$' && (src[i + 1] === '"' || src[i + 1] === '`')) {
      const j = src[i + 1] === '"' ? skipQuotedTemplate(src, i + 1) : skipRawTemplate(src, i + 1);
      if (j < 0) return -1;
      i = j;
      continue;
    }
    if (ch === '"') {
      i++;
      while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
      if (i >= src.length) return -1;
      i++;
      continue;
    }
    if (ch === '`') {
      const close = src.indexOf('`', i + 1);
      if (close < 0) return -1;
      i = close + 1;
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/** `i` at the opening quote of `$"..."`; returns the index after the closing quote or -1. */
function skipQuotedTemplate(src: string, i: number): number {
  i++;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '"') return i + 1;
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '\n') return -1;
    if (ch === '{') {
      i = skipTemplateExpr(src, i + 1);
      if (i < 0) return -1;
      continue;
    }
    i++;
  }
  return -1;
}

/** `i` at the opening backquote of `$`...``; returns the index after the closing backquote or -1. */
function skipRawTemplate(src: string, i: number): number {
  i++;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '`') return i + 1;
    if (ch === '\\' && src[i + 1] === '{') {
      i += 2;
      continue;
    }
    if (ch === '{') {
      i = skipTemplateExpr(src, i + 1);
      if (i < 0) return -1;
      continue;
    }
    i++;
  }
  return -1;
}

/** Scan a `"..."` template body starting at the quote. */
function scanTemplate(src: string, i: number, err: (m: string, o: number) => never): number {
  const j = skipQuotedTemplate(src, i);
  return j < 0 ? err('non-terminated template string', i) : j;
}
