/** units.parse (SI and binary SI quantities, e.g. "500m", "2Ki") and units.parse_bytes ("10KB", "1.5GiB"). */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import { Dec, mkNum } from '../value.js';
import type { Dec as DecT } from '../value.js';

const MAX_EXPONENT_DIGITS = 6;
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Split "10.5e3KiB" into a number part and a unit part, the way OPA does: the number runs over digits, '.', '+',
 * '-' and an 'e'/'E' that is followed by a digit or sign. Returns undefined when the exponent is too long.
 */
function splitNumAndUnit(s: string): [string, string] | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const numeric = isDigit(c) || c === '.' || c === '+' || c === '-';
    if (!numeric && c !== 'e' && c !== 'E') return [s.slice(0, i), s.slice(i)];
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (next === undefined || (!isDigit(next) && next !== '+' && next !== '-'))
        return [s.slice(0, i), s.slice(i)];
      if (next === '+' || next === '-') i++;
      let j = i + 1;
      while (isDigit(s[j])) j++;
      if (j - (i + 1) > MAX_EXPONENT_DIGITS) return undefined;
    }
  }
  return [s, ''];
}

function parseDecimal(num: string): DecT | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) return undefined;
  try {
    return new Dec(num);
  } catch {
    return undefined;
  }
}

const SI: Record<string, bigint> = {
  k: 1000n,
  m: 1000n ** 2n,
  g: 1000n ** 3n,
  t: 1000n ** 4n,
  p: 1000n ** 5n,
  e: 1000n ** 6n,
};
const BINARY: Record<string, bigint> = {
  ki: 1n << 10n,
  mi: 1n << 20n,
  gi: 1n << 30n,
  ti: 1n << 40n,
  pi: 1n << 50n,
  ei: 1n << 60n,
};

function unitsMultiplier(unit: string): DecT | undefined {
  // Only the letters after the first are case-insensitive, so 'm' (milli) and 'M' (mega) stay apart.
  const u = unit.length > 1 ? unit[0]! + unit.slice(1).toLowerCase() : unit;
  if (u === '') return new Dec(1);
  if (u === 'm') return new Dec('0.001');
  if (u === 'M') return new Dec(SI.m!.toString());
  if (u.length === 1 && u !== 'm' && SI[u.toLowerCase()] !== undefined)
    return new Dec(SI[u.toLowerCase()]!.toString());
  if (u.length === 2 && BINARY[u.toLowerCase()] !== undefined)
    return new Dec(BINARY[u.toLowerCase()]!.toString());
  return undefined;
}

function bytesMultiplier(unit: string): bigint | undefined {
  if (unit === '') return 1n;
  const m = /^([kmgtpe])(i?)(b?)$/.exec(unit);
  if (!m) return undefined;
  return m[2] ? BINARY[m[1]! + 'i'] : SI[m[1]!];
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'units.parse',
    args: ['string'],
    result: 'number',
    impl: (a) => {
      const s = (a[0] as string).replaceAll('"', '');
      if (s.includes(' ')) throw new BuiltinError('spaces not allowed in resource strings');
      const parts = splitNumAndUnit(s);
      if (parts === undefined) throw new BuiltinError('exponent too large');
      const [num, unit] = parts;
      if (num === '') throw new BuiltinError('no amount provided');
      const mult = unitsMultiplier(unit);
      if (mult === undefined) throw new BuiltinError(`unit ${unit} not recognized`);
      const n = parseDecimal(num);
      if (n === undefined) throw new BuiltinError('could not parse amount to a number');
      const x = n.times(mult);
      // OPA prints non-integers with 10 fractional digits (big.Rat.FloatString(10), halves away from zero).
      return mkNum(x.isInteger() ? x : x.toDecimalPlaces(10, Dec.ROUND_HALF_UP));
    },
  });
  r.register({
    name: 'units.parse_bytes',
    args: ['string'],
    result: 'number',
    impl: (a) => {
      const s = (a[0] as string).toLowerCase().replaceAll('"', '');
      if (s.includes(' ')) throw new BuiltinError('spaces not allowed in resource strings');
      const parts = splitNumAndUnit(s);
      if (parts === undefined) throw new BuiltinError('exponent too large');
      const [num, unit] = parts;
      if (num === '') throw new BuiltinError('no byte amount provided');
      const mult = bytesMultiplier(unit);
      if (mult === undefined) throw new BuiltinError(`byte unit ${unit} not recognized`);
      const n = parseDecimal(num);
      if (n === undefined) throw new BuiltinError('could not parse byte amount to a number');
      return mkNum(n.times(mult.toString()).trunc());
    },
  });
}
