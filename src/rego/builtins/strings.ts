/**
 * String builtins. Go strings are UTF-8 byte strings and most of OPA's string builtins index by rune (code point),
 * so indexes here count code points, never UTF-16 units.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { Value, BigNum, ObjectValue } from '../value.js';
import {
  compare,
  formatNumber,
  isArray,
  isInteger,
  isNumber,
  isSet,
  toBigInt,
  toDec,
  toRegoText,
} from '../value.js';
import { expectInt, operandError, runes, stringItems } from './operands.js';
import type { GoArg } from './sprintf.js';
import { FormatLimitError, goArgFromInteger, goSprintf } from './sprintf.js';
import { renderTemplate } from './template.js';

/** Go's unicode.IsSpace. */
const GO_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

function trimLeftBy(s: string, drop: (cp: number) => boolean): string {
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    if (!drop(cp)) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return s.slice(i);
}

function trimRightBy(s: string, drop: (cp: number) => boolean): string {
  let j = s.length;
  while (j > 0) {
    let cp = s.charCodeAt(j - 1);
    let w = 1;
    if (cp >= 0xdc00 && cp <= 0xdfff && j >= 2) {
      const hi = s.charCodeAt(j - 2);
      if (hi >= 0xd800 && hi <= 0xdbff) {
        cp = s.codePointAt(j - 2)!;
        w = 2;
      }
    }
    if (!drop(cp)) break;
    j -= w;
  }
  return s.slice(0, j);
}

function cutset(c: string): (cp: number) => boolean {
  const set = new Set(runes(c).map((r) => r.codePointAt(0)!));
  return (cp) => set.has(cp);
}

/** Go's strings.Split / SplitN (n < 0: all). An empty separator splits into code points. */
export function goSplit(s: string, sep: string, n = -1): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const rs = runes(s);
    if (n < 0 || n >= rs.length) return rs;
    return [...rs.slice(0, n - 1), rs.slice(n - 1).join('')];
  }
  const out: string[] = [];
  let i = 0;
  while (n < 0 || out.length < n - 1) {
    const j = s.indexOf(sep, i);
    if (j < 0) break;
    out.push(s.slice(i, j));
    i = j + sep.length;
  }
  out.push(s.slice(i));
  return out;
}

/**
 * Go's strings.NewReplacer(pairs...).Replace(s): scanning left to right, at each position the first pair (in
 * argument order) whose old string matches wins; matches never overlap. An empty old string matches between runes.
 */
export function goReplace(s: string, pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 1 && pairs[0]![0] !== '') return s.split(pairs[0]![0]).join(pairs[0]![1]);
  let out = '';
  let i = 0;
  for (;;) {
    let hit: readonly [string, string] | undefined;
    for (const p of pairs) {
      if (s.startsWith(p[0], i)) {
        hit = p;
        break;
      }
    }
    if (hit) {
      out += hit[1];
      if (hit[0] !== '') {
        i += hit[0].length;
        continue;
      }
    }
    if (i >= s.length) break;
    const cp = s.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    out += s.slice(i, i + w);
    i += w;
  }
  return out;
}

function mapRunes(s: string, f: (c: string) => string): string {
  let out = '';
  for (const c of s) {
    const m = f(c);
    // Go maps rune by rune: a special casing that expands (ß -> SS) leaves the rune alone.
    out += Array.from(m).length === 1 ? m : c;
  }
  return out;
}

function indexOfRunes(base: string[], search: string[], from = 0): number {
  outer: for (let i = from; i + search.length <= base.length; i++) {
    for (let j = 0; j < search.length; j++) if (base[i + j] !== search[j]) continue outer;
    return i;
  }
  return -1;
}

/** The strings of a string/array/set operand for any_prefix_match / any_suffix_match. */
function stringOrItems(v: Value, pos: number): string[] {
  if (typeof v === 'string') return [v];
  if (isArray(v) || isSet(v)) return stringItems(v, pos);
  throw typeError(pos, v, ['string', 'set', 'array']);
}

function goArg(v: Value): GoArg {
  if (typeof v === 'string') return { kind: 'string', v };
  if (isNumber(v)) {
    // OPA tries int, then big.Int from the number's text (so only plainly written integers), then float64,
    // then the text itself.
    const text = formatNumber(v);
    if (isInteger(v) && /^-?\d+$/.test(text)) return goArgFromInteger(toBigInt(v)!);
    const f = typeof v === 'number' ? v : toDec(v).toNumber();
    if (Number.isFinite(f)) return { kind: 'float', v: f };
    return { kind: 'string', v: text.replace('e+', 'e') };
  }
  return { kind: 'string', v: toRegoText(v) };
}

export function register(r: BuiltinRegistry): void {
  const str2 = (name: string, f: (a: string, b: string) => Value): void =>
    r.register({ name, args: ['string', 'string'], impl: (a) => f(a[0] as string, a[1] as string) });

  r.register({
    name: 'concat',
    args: ['string', ['set', 'array']],
    result: 'string',
    impl: (a) => stringItems(a[1]!, 2).join(a[0] as string),
  });
  str2('contains', (s, sub) => s.includes(sub));
  str2('startswith', (s, p) => s.startsWith(p));
  str2('endswith', (s, p) => s.endsWith(p));
  str2('strings.count', (s, sub) => (sub === '' ? runes(s).length + 1 : s.split(sub).length - 1));
  r.register({
    name: 'lower',
    args: ['string'],
    impl: (a) => mapRunes(a[0] as string, (c) => c.toLowerCase()),
  });
  r.register({
    name: 'upper',
    args: ['string'],
    impl: (a) => mapRunes(a[0] as string, (c) => c.toUpperCase()),
  });
  r.register({
    name: 'strings.reverse',
    args: ['string'],
    impl: (a) =>
      runes(a[0] as string)
        .reverse()
        .join(''),
  });

  str2('indexof', (s, search) => {
    if (search === '') throw new BuiltinError('empty search character');
    return indexOfRunes(runes(s), runes(search));
  });
  str2('indexof_n', (s, search) => {
    if (search === '') throw new BuiltinError('empty search character');
    const base = runes(s);
    const sr = runes(search);
    const out: number[] = [];
    for (let i = indexOfRunes(base, sr); i >= 0; i = indexOfRunes(base, sr, i + 1)) out.push(i);
    return out;
  });
  r.register({
    name: 'substring',
    args: ['string', 'number', 'number'],
    impl: (a) => {
      const s = a[0] as string;
      const start = expectInt(a[1]!, 2);
      const len = expectInt(a[2]!, 3);
      if (start < 0) throw new BuiltinError('negative offset');
      const rs = runes(s);
      if (start >= rs.length) return '';
      return (len < 0 ? rs.slice(start) : rs.slice(start, start + len)).join('');
    },
  });

  str2('split', (s, d) => goSplit(s, d));
  r.register({
    name: 'strings.split_n',
    args: ['string', 'string', 'number'],
    impl: (a) => {
      const n = expectInt(a[2]!, 3);
      const s = a[0] as string;
      const d = a[1] as string;
      // OPA: a negative limit keeps the last |n| pieces.
      if (n < 0) {
        const all = goSplit(s, d);
        return all.slice(Math.max(all.length + n, 0));
      }
      return goSplit(s, d, n);
    },
  });
  r.register({
    name: 'replace',
    args: ['string', 'string', 'string'],
    impl: (a) => goReplace(a[0] as string, [[a[1] as string, a[2] as string]]),
  });
  r.register({
    name: 'strings.replace_n',
    args: ['object', 'string'],
    impl: (a) => {
      const o = a[0] as ObjectValue;
      const entries = [...o.entries()].sort((x, y) => compare(x[0], y[0]));
      const pairs: [string, string][] = [];
      for (const [k, v] of entries) {
        if (typeof k !== 'string') throw operandError(1, 'non-string key found in pattern object');
        if (typeof v !== 'string') throw operandError(1, 'non-string value found in pattern object');
        pairs.push([k, v]);
      }
      if (pairs.length === 0) return a[1];
      return goReplace(a[1] as string, pairs);
    },
  });

  str2('trim', (s, c) => {
    const f = cutset(c);
    return trimRightBy(trimLeftBy(s, f), f);
  });
  str2('trim_left', (s, c) => trimLeftBy(s, cutset(c)));
  str2('trim_right', (s, c) => trimRightBy(s, cutset(c)));
  str2('trim_prefix', (s, p) => (s.startsWith(p) ? s.slice(p.length) : s));
  str2('trim_suffix', (s, p) => (p !== '' && s.endsWith(p) ? s.slice(0, s.length - p.length) : s));
  r.register({
    name: 'trim_space',
    args: ['string'],
    impl: (a) => {
      const isSpace = (cp: number): boolean => GO_SPACE.has(cp);
      return trimRightBy(trimLeftBy(a[0] as string, isSpace), isSpace);
    },
  });

  r.register({
    name: 'format_int',
    args: ['number', 'number'],
    impl: (a) => {
      const base = a[1]!;
      const bases: Record<string, number> = { '2': 2, '8': 8, '10': 10, '16': 16 };
      const b = typeof base === 'number' ? bases[String(base)] : undefined;
      if (b === undefined) throw operandError(2, 'must be one of {2, 8, 10, 16}');
      // Truncate toward zero, like big.Float.Int.
      const d = toDec(a[0] as number | BigNum).trunc();
      if (d.abs().gt('1e10000')) throw new BuiltinError('number too large to format');
      return BigInt(d.toFixed(0)).toString(b);
    },
  });

  r.register({
    name: 'sprintf',
    args: ['string', 'array'],
    result: 'string',
    impl: (a) => {
      try {
        return goSprintf(a[0] as string, (a[1] as readonly Value[]).map(goArg));
      } catch (e) {
        if (e instanceof FormatLimitError) throw new BuiltinError(e.message);
        throw e;
      }
    },
  });

  const anyMatch = (name: string, suffix: boolean): void =>
    r.register({
      name,
      args: [
        ['string', 'set', 'array'],
        ['string', 'set', 'array'],
      ],
      checkTypes: false,
      impl: (a) => {
        const strs = stringOrItems(a[0]!, 1);
        const fixes = stringOrItems(a[1]!, 2);
        return strs.some((s) => fixes.some((p) => (suffix ? s.endsWith(p) : s.startsWith(p))));
      },
    });
  anyMatch('strings.any_prefix_match', false);
  anyMatch('strings.any_suffix_match', true);

  // trace(note) is true; OPA records the note only when a tracer is attached, and this engine attaches none.
  r.register({ name: 'trace', args: ['string'], result: 'boolean', impl: () => true });
  r.register({
    name: 'strings.render_template',
    args: ['string', 'object'],
    impl: (a) => renderTemplate(a[0] as string, a[1] as ObjectValue),
  });
}
