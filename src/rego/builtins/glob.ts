/**
 * glob.match (gobwas/glob syntax: `*`, `**`, `?`, `[a-z]`, `[!a-z]`, `{a,b}`, `\x`, with delimiters that `*` and
 * `?` never cross), glob.quote_meta, and the glob-intersection test behind regex.globs_match. Globs are translated
 * to RE2 and run by re2js, so matching is linear in the input whatever the pattern.
 */
import { RE2JS } from 're2js';
import type { BuiltinContext, BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import { elementError, runes } from './operands.js';

const CACHE_LIMIT = 256;
const SPECIAL = new Set(['*', '?', '\\', '[', ']', '{', '}']);

function reEscape(ch: string): string {
  return /[\\^$.|?*+()[\]{}-]/.test(ch) ? '\\' + ch : ch;
}

function classEscape(ch: string): string {
  return /[\\\]^[-]/.test(ch) ? '\\' + ch : ch;
}

/** Translate a gobwas glob to an anchored RE2 pattern. */
export function globToRegex(glob: string, delimiters: readonly string[]): string {
  const rs = runes(glob);
  const notDelim = delimiters.length === 0 ? '(?s:.)' : '[^' + delimiters.map(classEscape).join('') + ']';
  let i = 0;
  const fail = (msg: string): never => {
    throw new BuiltinError(`unexpected ${msg} in glob ${JSON.stringify(glob)}`);
  };
  // Parses until one of `stops` (at depth of the current alternative group) or the end.
  const seq = (inTerms: boolean): string => {
    let out = '';
    while (i < rs.length) {
      const c = rs[i]!;
      if (inTerms && (c === ',' || c === '}')) return out;
      i++;
      switch (c) {
        case '\\':
          if (i >= rs.length) fail('end of input after escape');
          out += reEscape(rs[i++]!);
          break;
        case '*':
          if (rs[i] === '*') {
            while (rs[i] === '*') i++;
            out += '(?s:.)*';
          } else out += notDelim + '*';
          break;
        case '?':
          out += notDelim;
          break;
        case '[': {
          // gobwas/glob's lexer: `[lo-hi]` (single runes, no escapes) or `[chars]` where chars is text with `\`
          // escapes (`[a\-z]` is the three runes a, -, z; `[\]]` is `]`); `!` first negates
          let neg = false;
          if (rs[i] === '!') {
            neg = true;
            i++;
          }
          let cls = '';
          if (i >= rs.length) fail('end of input in character class');
          if (rs[i + 1] === '-' && i + 2 < rs.length) {
            cls = classEscape(rs[i]!) + '-' + classEscape(rs[i + 2]!);
            i += 3;
          } else {
            while (i < rs.length && rs[i] !== ']') {
              let d = rs[i++]!;
              if (d === '\\') {
                if (i >= rs.length) break;
                d = rs[i++]!;
              }
              cls += classEscape(d);
            }
          }
          if (i >= rs.length) fail('end of input in character class');
          if (rs[i] !== ']') fail('character: expected close range character');
          i++;
          if (cls === '') fail('empty character class');
          out += (neg ? '[^' : '[') + cls + ']';
          break;
        }
        case '{': {
          const alts: string[] = [];
          for (;;) {
            alts.push(seq(true));
            if (i >= rs.length) fail('end of input in alternatives');
            if (rs[i++] === '}') break;
          }
          out += '(?:' + alts.join('|') + ')';
          break;
        }
        default:
          out += reEscape(c);
      }
    }
    return out;
  };
  const body = seq(false);
  return '^' + body + '$';
}

function compileGlob(pattern: string, delims: readonly string[], ctx: BuiltinContext): RE2JS {
  const key = 'glob\u0000' + pattern + '\u0000' + delims.join('');
  const hit = ctx.sharedCache.get(key);
  if (hit instanceof RE2JS) return hit;
  let re: RE2JS;
  try {
    re = RE2JS.compile(globToRegex(pattern, delims));
  } catch (e) {
    if (e instanceof BuiltinError) throw e;
    throw new BuiltinError(e instanceof Error ? e.message : String(e));
  }
  if (ctx.sharedCache.size >= CACHE_LIMIT) {
    const first = ctx.sharedCache.keys().next();
    if (!first.done) ctx.sharedCache.delete(first.value);
  }
  ctx.sharedCache.set(key, re);
  return re;
}

// ---------------------------------------------------------------------------------------------------------------
// regex.globs_match: do two "regex globs" (literals, `.`, `[...]` classes, each optionally followed by `*` or `+`)
// match at least one common string? (the semantics of yashtewari/glob-intersection, which OPA uses)

type Range = readonly [number, number];
interface Token {
  readonly ranges: readonly Range[];
  readonly star: boolean;
}

const ALL: readonly Range[] = [[0, 0x10ffff]];

function invalid(input: string, pos: number, msg: string): BuiltinError {
  return new BuiltinError(`input:${input}, pos:${pos}, ${msg}: the input provided is invalid`);
}

function complement(rs: readonly Range[]): Range[] {
  const sorted = [...rs].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

function tokenizeRegexGlob(s: string): Token[] {
  const rs = runes(s);
  const out: Token[] = [];
  let i = 0;
  while (i < rs.length) {
    const c = rs[i]!;
    let ranges: readonly Range[];
    if (c === '\\') {
      if (i + 1 >= rs.length) throw invalid(s, i + 1, "escape '\\' at end of input");
      const cp = rs[i + 1]!.codePointAt(0)!;
      ranges = [[cp, cp]];
      i += 2;
    } else if (c === '.') {
      ranges = ALL;
      i++;
    } else if (c === '[') {
      const start = i;
      i++;
      let neg = false;
      if (rs[i] === '^') {
        neg = true;
        i++;
      }
      const set: Range[] = [];
      let closed = false;
      while (i < rs.length) {
        let d = rs[i]!;
        if (d === ']') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < rs.length) d = rs[++i]!;
        const lo = d.codePointAt(0)!;
        i++;
        if (rs[i] === '-' && rs[i + 1] !== undefined && rs[i + 1] !== ']') {
          let e = rs[i + 1]!;
          i += 2;
          if (e === '\\' && i < rs.length) e = rs[i++]!;
          set.push([lo, e.codePointAt(0)!]);
        } else set.push([lo, lo]);
      }
      if (!closed) throw invalid(s, start + 1, "set-open '[' with no closing ']'");
      ranges = neg ? complement(set) : set;
    } else if (c === ']') {
      throw invalid(s, i + 1, "set-close ']' with no preceding '['");
    } else if (c === '*' || c === '+') {
      throw invalid(s, i + 1, `modifier '${c}' with no preceding character`);
    } else {
      const cp = c.codePointAt(0)!;
      ranges = [[cp, cp]];
      i++;
    }
    if (rs[i] === '*') {
      out.push({ ranges, star: true });
      i++;
    } else if (rs[i] === '+') {
      out.push({ ranges, star: false }, { ranges, star: true });
      i++;
    } else out.push({ ranges, star: false });
  }
  return out;
}

function rangesMeet(a: readonly Range[], b: readonly Range[]): boolean {
  for (const [alo, ahi] of a) for (const [blo, bhi] of b) if (alo <= bhi && blo <= ahi) return true;
  return false;
}

export function globsIntersect(g1: string, g2: string): boolean {
  const a = tokenizeRegexGlob(g1);
  const b = tokenizeRegexGlob(g2);
  const seen = new Set<number>();
  const width = b.length + 1;
  // Depth-first search over (position in a, position in b); each state is visited once.
  const stack: [number, number][] = [[0, 0]];
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    const key = i * width + j;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    if (ta?.star) stack.push([i + 1, j]);
    if (tb?.star) stack.push([i, j + 1]);
    if (ta && tb && rangesMeet(ta.ranges, tb.ranges)) stack.push([ta.star ? i : i + 1, tb.star ? j : j + 1]);
  }
  return false;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'glob.match',
    args: ['string', ['array', 'null'], 'string'],
    result: 'boolean',
    impl: (a, ctx) => {
      const d = a[1]!;
      let delims: string[] = [];
      if (d !== null) {
        for (const x of d as readonly Value[]) {
          if (typeof x !== 'string') throw elementError(2, d, x, 'string');
          if (runes(x).length !== 1) throw elementError(2, d, x, 'rune');
          delims.push(x);
        }
        if (delims.length === 0) delims = ['.'];
      }
      return compileGlob(a[0] as string, delims, ctx).test(a[2] as string);
    },
  });
  r.register({
    name: 'glob.quote_meta',
    args: ['string'],
    result: 'string',
    impl: (a) =>
      runes(a[0] as string)
        .map((c) => (SPECIAL.has(c) ? '\\' + c : c))
        .join(''),
  });
}
