/**
 * Regular-expression builtins with RE2 semantics (linear time, no backreferences), through re2js: the same syntax
 * and error text as Go's regexp package, which OPA uses.
 */
import { RE2JS } from 're2js';
import type { BuiltinContext, BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import { expectInt } from './operands.js';
import { globsIntersect } from './glob.js';

/** Compiled patterns kept per engine; bounded so hostile input cannot grow it without limit. */
const CACHE_LIMIT = 256;

export function compileRegex(pattern: string, ctx: BuiltinContext): RE2JS {
  const key = 're\u0000' + pattern;
  const hit = ctx.sharedCache.get(key);
  if (hit instanceof RE2JS) return hit;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new BuiltinError(e instanceof Error ? e.message : String(e));
  }
  if (ctx.sharedCache.size >= CACHE_LIMIT) {
    for (const k of ctx.sharedCache.keys()) {
      if (k.startsWith('re\u0000')) {
        ctx.sharedCache.delete(k);
        break;
      }
    }
  }
  ctx.sharedCache.set(key, re);
  return re;
}

interface Match {
  readonly start: number;
  readonly end: number;
  /** Group texts; undefined for groups that did not participate. */
  readonly groups: readonly (string | undefined)[];
}

/** Go's FindAll*: at most n matches (n < 0: all); an empty match right after the previous match is skipped. */
function findAll(re: RE2JS, s: string, n: number): Match[] {
  const out: Match[] = [];
  if (n === 0) return out;
  let prevEnd = -1;
  for (const m of re.matchAll(s)) {
    const start = m.index ?? 0;
    const text = m[0] ?? '';
    const end = start + text.length;
    if (text.length === 0 && start === prevEnd) continue;
    out.push({ start, end, groups: [...m] as (string | undefined)[] });
    prevEnd = end;
    if (n > 0 && out.length >= n) break;
  }
  return out;
}

/** Go's Regexp.Expand template: $1, ${1}, $name, ${name}, $$. */
function expand(template: string, m: Match, names: Record<string, number>): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$' || i + 1 >= template.length) {
      out += c;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let len = 0;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close >= 0 && /^\w+$/.test(inner)) {
        name = inner;
        len = close - i + 1;
      }
    } else {
      const mm = /^\w+/.exec(template.slice(i + 1));
      if (mm) {
        name = mm[0];
        len = mm[0].length + 1;
      }
    }
    if (name === undefined) {
      out += c;
      continue;
    }
    const idx = /^\d+$/.test(name) ? Number(name) : names[name];
    if (idx !== undefined && idx < m.groups.length) out += m.groups[idx] ?? '';
    i += len - 1;
  }
  return out;
}

/** Go's Regexp.Split(s, -1). */
function split(re: RE2JS, s: string): string[] {
  if (s === '' && re.pattern() !== '') return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of findAll(re, s, -1)) {
    end = m.start;
    if (m.end !== 0) out.push(s.slice(beg, end));
    beg = m.end;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** Positions of top-level delimiter pairs in a template (gorilla/mux's braceIndices). */
function delimiterIndices(s: string, open: string, close: string): number[] {
  let level = 0;
  let idx = 0;
  const idxs: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === open) {
      if (++level === 1) idx = i;
    } else if (s[i] === close) {
      if (--level === 0) idxs.push(idx, i + 1);
      else if (level < 0) throw new BuiltinError(`unbalanced braces in ${JSON.stringify(s)}`);
    }
  }
  if (level !== 0) throw new BuiltinError(`unbalanced braces in ${JSON.stringify(s)}`);
  return idxs;
}

function templateRegex(template: string, open: string, close: string): string {
  const idxs = delimiterIndices(template, open, close);
  let pattern = '^';
  let end = 0;
  for (let i = 0; i < idxs.length; i += 2) {
    pattern += RE2JS.quote(template.slice(end, idxs[i]));
    end = idxs[i + 1]!;
    pattern += '(' + template.slice(idxs[i]! + 1, end - 1) + ')';
  }
  return pattern + RE2JS.quote(template.slice(end)) + '$';
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'regex.match',
    aliases: ['re_match'],
    args: ['string', 'string'],
    result: 'boolean',
    impl: (a, ctx) => compileRegex(a[0] as string, ctx).test(a[1] as string),
  });
  r.register({
    name: 'regex.is_valid',
    args: ['any'],
    result: 'boolean',
    checkTypes: false,
    impl: (a, ctx) => {
      if (typeof a[0] !== 'string') return false;
      try {
        compileRegex(a[0], ctx);
        return true;
      } catch {
        return false;
      }
    },
  });
  r.register({
    name: 'regex.find_n',
    args: ['string', 'string', 'number'],
    result: 'array',
    impl: (a, ctx) =>
      findAll(compileRegex(a[0] as string, ctx), a[1] as string, expectInt(a[2]!, 3)).map(
        (m) => m.groups[0] ?? '',
      ),
  });
  r.register({
    name: 'regex.find_all_string_submatch_n',
    args: ['string', 'string', 'number'],
    result: 'array',
    impl: (a, ctx) =>
      findAll(compileRegex(a[0] as string, ctx), a[1] as string, expectInt(a[2]!, 3)).map((m) =>
        m.groups.map((g) => g ?? ''),
      ),
  });
  r.register({
    name: 'regex.split',
    args: ['string', 'string'],
    result: 'array',
    impl: (a, ctx) => split(compileRegex(a[0] as string, ctx), a[1] as string),
  });
  r.register({
    name: 'regex.replace',
    args: ['string', 'string', 'string'],
    result: 'string',
    impl: (a, ctx) => {
      const s = a[0] as string;
      const re = compileRegex(a[1] as string, ctx);
      const names = re.namedGroups();
      let out = '';
      let last = 0;
      for (const m of findAll(re, s, -1)) {
        out += s.slice(last, m.start) + expand(a[2] as string, m, names);
        last = m.end;
      }
      return out + s.slice(last);
    },
  });
  r.register({
    name: 'regex.template_match',
    args: ['string', 'string', 'string', 'string'],
    result: 'boolean',
    impl: (a, ctx) => {
      const open = a[2] as string;
      const close = a[3] as string;
      // OPA takes the first byte of each delimiter.
      const re = compileRegex(templateRegex(a[0] as string, open.charAt(0), close.charAt(0)), ctx);
      return re.test(a[1] as string);
    },
  });
  r.register({
    name: 'regex.globs_match',
    args: ['string', 'string'],
    result: 'boolean',
    impl: (a) => globsIntersect(a[0] as string, a[1] as string),
  });
}
