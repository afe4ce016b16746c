/**
 * Go's `fmt.Sprintf`, as far as Rego's `sprintf` can reach it. OPA passes each array element to Go as an `int`
 * (integers that fit int64), a `*big.Int` (larger integers), a `float64` (other numbers) or a `string` (strings, and
 * every other value as its Rego text), so those four kinds are all this needs. Verbs, flags, width, precision and
 * Go's in-band error notation (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`) follow the fmt package.
 */

export type GoArg =
  | { readonly kind: 'int'; readonly v: bigint }
  | { readonly kind: 'bigint'; readonly v: bigint }
  | { readonly kind: 'float'; readonly v: number }
  | { readonly kind: 'string'; readonly v: string };

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  prec: number | undefined;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function goArgFromInteger(b: bigint): GoArg {
  return b >= INT64_MIN && b <= INT64_MAX ? { kind: 'int', v: b } : { kind: 'bigint', v: b };
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Pad to the width: spaces left (or right with '-'), zeros after the sign when `zeroOk`. */
function pad(s: string, sp: Spec, zeroOk: boolean): string {
  if (sp.width === undefined) return s;
  const n = runeCount(s);
  if (n >= sp.width) return s;
  const fill = sp.width - n;
  if (sp.minus) return s + ' '.repeat(fill);
  if (sp.zero && zeroOk) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function goTypeName(a: GoArg): string {
  switch (a.kind) {
    case 'int':
      return 'int';
    case 'bigint':
      return '*big.Int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
  }
}

function plainValue(a: GoArg): string {
  switch (a.kind) {
    case 'int':
    case 'bigint':
      return a.v.toString();
    case 'float':
      return formatFloat(a.v, 'g', -1);
    case 'string':
      return a.v;
  }
}

function badVerb(verb: string, a: GoArg): string {
  // big.Int prints its own notation for verbs it does not know.
  if (a.kind === 'bigint') return `%!${verb}(big.Int=${a.v.toString()})`;
  return `%!${verb}(${goTypeName(a)}=${plainValue(a)})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Integers

function fmtInteger(v: bigint, base: number, verb: string, sp: Spec): string {
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  let zeroOk = true;
  if (sp.prec !== undefined) {
    zeroOk = false;
    if (sp.prec === 0 && v === 0n) digits = '';
    else if (digits.length < sp.prec) digits = '0'.repeat(sp.prec - digits.length) + digits;
  }
  let prefix = '';
  if (sp.sharp) {
    if (base === 16) prefix = verb === 'X' ? '0X' : '0x';
    else if (base === 8 && !digits.startsWith('0')) prefix = '0';
    else if (base === 2) prefix = '0b';
  }
  if (verb === 'O') prefix = '0o';
  const sign = neg ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  if (sp.zero && zeroOk && !sp.minus && sp.width !== undefined) {
    const body = prefix + digits;
    const fill = sp.width - sign.length - body.length;
    if (fill > 0) return sign + prefix + '0'.repeat(fill) + digits;
  }
  return pad(sign + prefix + digits, sp, false);
}

function fmtIntArg(a: GoArg & { v: bigint }, verb: string, sp: Spec): string {
  switch (verb) {
    case 'd':
    case 'v':
      return fmtInteger(a.v, 10, verb, sp);
    case 's':
      return a.kind === 'bigint' ? fmtInteger(a.v, 10, verb, sp) : badVerb(verb, a);
    case 'b':
      return fmtInteger(a.v, 2, verb, sp);
    case 'o':
    case 'O':
      return fmtInteger(a.v, 8, verb, sp);
    case 'x':
    case 'X':
      return fmtInteger(a.v, 16, verb, sp);
    default:
      break;
  }
  if (a.kind === 'bigint') return badVerb(verb, a);
  const cp = Number(a.v);
  const valid = a.v >= 0n && a.v <= 0x10ffffn && !(cp >= 0xd800 && cp <= 0xdfff);
  switch (verb) {
    case 'c':
      return pad(String.fromCodePoint(valid ? cp : 0xfffd), sp, true);
    case 'q':
      return pad(quoteRune(valid ? cp : 0xfffd), sp, true);
    case 'U': {
      let hex = (a.v < 0n ? -a.v : a.v).toString(16).toUpperCase();
      if (hex.length < 4) hex = '0'.repeat(4 - hex.length) + hex;
      let s = (a.v < 0n ? '-' : '') + 'U+' + hex;
      if (sp.sharp && valid) s += " '" + String.fromCodePoint(cp) + "'";
      return pad(s, sp, false);
    }
    default:
      return badVerb(verb, a);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Floats: Go's strconv.FormatFloat for 'e', 'f', 'g' (shortest when prec < 0).

/** Decimal digits and decimal-point position of |x| (x finite, non-zero), shortest or rounded to `sig` digits. */
function decimalDigits(x: number, sig: number | undefined): { d: string; dp: number } {
  const e = sig === undefined ? Math.abs(x).toExponential() : Math.abs(x).toExponential(Math.max(sig - 1, 0));
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(e)!;
  let d = m[1]! + (m[2] ?? '');
  const dp = Number(m[3]) + 1;
  d = d.replace(/0+$/, '');
  if (d === '') d = '0';
  return { d, dp };
}

function expText(exp: number): string {
  const a = Math.abs(exp);
  return (exp < 0 ? 'e-' : 'e+') + (a < 10 ? '0' + String(a) : String(a));
}

function fmtE(d: string, dp: number, prec: number, upper: boolean): string {
  let s = d[0]!;
  if (prec > 0) s += '.' + (d.slice(1) + '0'.repeat(Math.max(prec - (d.length - 1), 0))).slice(0, prec);
  const exp = d === '0' ? 0 : dp - 1;
  s += expText(exp);
  return upper ? s.toUpperCase() : s;
}

function fmtF(d: string, dp: number, prec: number): string {
  let intPart: string;
  if (dp <= 0) intPart = '0';
  else if (dp >= d.length) intPart = d + '0'.repeat(dp - d.length);
  else intPart = d.slice(0, dp);
  if (prec <= 0) return intPart;
  let frac = '';
  for (let i = 0; i < prec; i++) {
    const j = dp + i;
    frac += j >= 0 && j < d.length ? d[j]! : '0';
  }
  return intPart + '.' + frac;
}

/** Go's strconv.FormatFloat(x, fmt, prec, 64) for fmt in e/E/f/F/g/G (prec -1 = shortest). */
export function formatFloat(x: number, fmt: string, prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const sign = neg ? '-' : '';
  const shortest = prec < 0;
  const lower = fmt.toLowerCase();
  if (x === 0) {
    if (lower === 'e') return sign + fmtE('0', 1, shortest ? 0 : prec, fmt === 'E');
    if (lower === 'f') return sign + fmtF('0', 1, shortest ? 0 : prec);
    return sign + '0';
  }
  if (lower === 'e') {
    const { d, dp } = decimalDigits(x, shortest ? undefined : prec + 1);
    return sign + fmtE(d, dp, shortest ? d.length - 1 : prec, fmt === 'E');
  }
  if (lower === 'f') {
    if (shortest) {
      const { d, dp } = decimalDigits(x, undefined);
      return sign + fmtF(d, dp, Math.max(d.length - dp, 0));
    }
    // Round at `prec` fractional digits: significant digits = dp + prec.
    const { dp: dp0 } = decimalDigits(x, undefined);
    const sig = dp0 + prec;
    if (sig <= 0) {
      // Rounds to zero or to one unit in the last place.
      const r = Math.abs(x) * 10 ** prec >= 0.5 && sig === 0 ? 1 : 0;
      return sign + fmtF(r ? '1' : '0', r ? 1 - prec : 1, prec);
    }
    const { d, dp } = decimalDigits(x, sig);
    return sign + fmtF(d, dp, prec);
  }
  // 'g'
  let p = prec;
  const { d, dp } = decimalDigits(x, shortest ? undefined : p === 0 ? 1 : p);
  if (shortest) p = d.length;
  else if (p === 0) p = 1;
  let eprec = p;
  if (eprec > d.length && d.length >= dp) eprec = d.length;
  if (shortest) eprec = 6;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (p > d.length) p = d.length;
    return sign + fmtE(d, dp, p - 1, fmt === 'G');
  }
  if (p > dp) p = d.length;
  return sign + fmtF(d, dp, Math.max(p - dp, 0));
}

function fmtFloatArg(x: number, verb: string, sp: Spec): string {
  let s: string;
  switch (verb) {
    case 'v':
    case 'g':
    case 'G':
      s = formatFloat(x, verb === 'v' ? 'g' : verb, sp.prec ?? -1);
      break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
      s = formatFloat(x, verb === 'F' ? 'f' : verb, sp.prec ?? 6);
      break;
    default:
      return badVerb(verb, { kind: 'float', v: x });
  }
  if (sp.sharp && (verb === 'g' || verb === 'G' || verb === 'v') && !s.includes('.') && Number.isFinite(x)) {
    const i = s.search(/[eE]/);
    s = i < 0 ? s + '.' : s.slice(0, i) + '.' + s.slice(i);
  }
  if (!s.startsWith('-') && !s.startsWith('+')) {
    if (sp.plus) s = '+' + s;
    else if (sp.space) s = ' ' + s;
  } else if (s.startsWith('+') && !sp.plus) {
    s = s.slice(1); // +Inf without the plus flag
  }
  return pad(s, sp, Number.isFinite(x));
}

// ---------------------------------------------------------------------------------------------------------------
// Strings

function isPrintable(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return false;
  if (cp >= 0x80 && cp < 0xa0) return false;
  return !/[\p{Cc}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(String.fromCodePoint(cp)) || cp === 0x20;
}

function escapeRune(cp: number, quote: string, asciiOnly: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (asciiOnly ? cp < 0x80 && isPrintable(cp) : isPrintable(cp)) return ch;
  switch (cp) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
    default:
      break;
  }
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, '"', asciiOnly);
  return out + '"';
}

function quoteRune(cp: number): string {
  return "'" + escapeRune(cp, "'", false) + "'";
}

function hexBytes(s: string, sp: Spec, upper: boolean): string {
  const bytes = Buffer.from(s, 'utf8');
  let n = bytes.length;
  if (sp.prec !== undefined && sp.prec < n) n = sp.prec;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    let h = bytes[i]!.toString(16).padStart(2, '0');
    if (upper) h = h.toUpperCase();
    parts.push(h);
  }
  const prefix = sp.sharp ? (upper ? '0X' : '0x') : '';
  if (sp.space) return parts.map((p) => prefix + p).join(' ');
  return prefix + parts.join('');
}

function fmtStringArg(s: string, verb: string, sp: Spec): string {
  switch (verb) {
    case 'v':
    case 's': {
      let t = s;
      if (sp.prec !== undefined) t = Array.from(s).slice(0, sp.prec).join('');
      return pad(t, sp, true);
    }
    case 'q':
      if (
        sp.sharp &&
        !s.includes('`') &&
        Array.from(s).every((c) => c === '\t' || isPrintable(c.codePointAt(0)!))
      )
        return pad('`' + s + '`', sp, true);
      return pad(goQuote(s, sp.plus), sp, true);
    case 'x':
    case 'X':
      return pad(hexBytes(s, sp, verb === 'X'), sp, true);
    default:
      return badVerb(verb, { kind: 'string', v: s });
  }
}

function formatArg(a: GoArg, verb: string, sp: Spec): string {
  switch (a.kind) {
    case 'int':
    case 'bigint':
      return fmtIntArg(a, verb, sp);
    case 'float':
      return fmtFloatArg(a.v, verb, sp);
    case 'string':
      return fmtStringArg(a.v, verb, sp);
  }
}

/** Go's fmt.Sprintf. */
/** Widths and precisions above this are refused: one format verb must not allocate unbounded memory. */
export const MAX_WIDTH = 1_000_000;

export class FormatLimitError extends Error {}

function limited(n: number): number {
  if (n > MAX_WIDTH) throw new FormatLimitError(`width or precision ${n} exceeds ${MAX_WIDTH}`);
  return n;
}

export function goSprintf(format: string, args: readonly GoArg[]): string {
  let out = '';
  let argi = 0;
  let reordered = false;
  const n = format.length;
  let i = 0;
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const sp: Spec = {
      minus: false,
      plus: false,
      sharp: false,
      space: false,
      zero: false,
      width: undefined,
      prec: undefined,
    };
    flags: for (; i < n; i++) {
      switch (format[i] ?? '') {
        case '-':
          sp.minus = true;
          sp.zero = false;
          break;
        case '+':
          sp.plus = true;
          break;
        case '#':
          sp.sharp = true;
          break;
        case ' ':
          sp.space = true;
          break;
        case '0':
          sp.zero = !sp.minus;
          break;
        default:
          break flags;
      }
    }
    // Explicit argument index [n].
    const argIndex = (): void => {
      const m = /^\[(\d+)\]/.exec(format.slice(i));
      if (m) {
        argi = Number(m[1]) - 1;
        reordered = true;
        i += m[0].length;
      }
    };
    argIndex();
    let badWidth = false;
    if (format[i] === '*') {
      i++;
      const a = args[argi++];
      if (a && a.kind === 'int') {
        let w = Number(a.v);
        if (w < 0) {
          sp.minus = true;
          sp.zero = false;
          w = -w;
        }
        sp.width = limited(w);
      } else badWidth = true;
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        sp.width = limited(Number(m[0]));
        i += m[0].length;
      }
    }
    let badPrec = false;
    if (format[i] === '.') {
      i++;
      argIndex();
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        if (a && a.kind === 'int' && a.v >= 0n) sp.prec = limited(Number(a.v));
        else badPrec = true;
      } else {
        const m = /^\d+/.exec(format.slice(i));
        sp.prec = m ? limited(Number(m[0])) : 0;
        if (m) i += m[0].length;
      }
    }
    argIndex();
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (badWidth) out += '%!(BADWIDTH)';
    if (badPrec) out += '%!(BADPREC)';
    if (verb === '%') {
      out += '%';
      continue;
    }
    const a = args[argi];
    if (a === undefined) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    argi++;
    out += formatArg(a, verb, sp);
  }
  if (!reordered && argi < args.length) {
    out +=
      '%!(EXTRA ' +
      args
        .slice(argi)
        .map((a) => `${goTypeName(a)}=${plainValue(a)}`)
        .join(', ') +
      ')';
  }
  return out;
}
