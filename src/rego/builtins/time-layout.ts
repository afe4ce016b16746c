/**
 * Go's time layouts ("2006-01-02T15:04:05Z07:00"): splitting a layout into its elements (time.nextStdChunk),
 * formatting a civil time with one, parsing a timestamp with one (time.Parse), and time.ParseDuration.
 */
import { BuiltinError } from './registry.js';
import type { Civil } from './time-civil.js';
import { INT64_MAX, LONG_DAYS, LONG_MONTHS, NS_PER_S, daysFromCivil, daysIn } from './time-civil.js';

/** Go's named layouts (time.ANSIC, ...), as accepted by OPA. */
export const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
  DateTime: '2006-01-02 15:04:05',
  DateOnly: '2006-01-02',
  TimeOnly: '15:04:05',
};

// ---------------------------------------------------------------------------------------------------------------
// Go layouts

type Chunk = { lit: string } | { std: string; digits?: number };

/** Split a Go layout into literal text and std elements (mirrors time.nextStdChunk). */
function chunks(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  const push = (c: Chunk): void => {
    if (lit) out.push({ lit });
    lit = '';
    out.push(c);
  };
  let i = 0;
  const at = (s: string): boolean => layout.startsWith(s, i);
  while (i < layout.length) {
    const c = layout[i]!;
    let std: string | undefined;
    switch (c) {
      case 'J':
        if (at('January')) std = 'January';
        else if (at('Jan')) std = 'Jan';
        break;
      case 'M':
        if (at('Monday')) std = 'Monday';
        else if (at('Mon')) std = 'Mon';
        else if (at('MST')) std = 'MST';
        break;
      case '0':
        if (at('002')) std = '002';
        else if (/^0[1-6]/.test(layout.slice(i))) std = layout.slice(i, i + 2);
        break;
      case '1':
        std = at('15') ? '15' : '1';
        break;
      case '2':
        std = at('2006') ? '2006' : '2';
        break;
      case '_':
        if (at('_2006')) {
          lit += '_';
          i++;
          continue;
        }
        if (at('__2')) std = '__2';
        else if (at('_2')) std = '_2';
        break;
      case '3':
      case '4':
      case '5':
        std = c;
        break;
      case 'P':
        if (at('PM')) std = 'PM';
        break;
      case 'p':
        if (at('pm')) std = 'pm';
        break;
      case '-':
        for (const s of ['-07:00:00', '-070000', '-07:00', '-0700', '-07']) if (!std && at(s)) std = s;
        break;
      case 'Z':
        for (const s of ['Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07']) if (!std && at(s)) std = s;
        break;
      case '.':
      case ',': {
        const d = layout[i + 1];
        if (d === '0' || d === '9') {
          let j = i + 1;
          while (layout[j] === d) j++;
          if (!/[0-9]/.test(layout[j] ?? '')) {
            push({ std: d === '0' ? '.0' : '.9', digits: j - i - 1 });
            i = j;
            continue;
          }
        }
        break;
      }
      default:
        break;
    }
    if (std !== undefined) {
      push({ std });
      i += std.length;
    } else {
      lit += c;
      i++;
    }
  }
  if (lit) out.push({ lit });
  return out;
}

const pad = (n: number, w: number, ch = '0'): string => String(n).padStart(w, ch);

function formatZone(std: string, offset: number): string {
  if (std.startsWith('Z') && offset === 0) return 'Z';
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const hh = pad(Math.floor(a / 3600), 2);
  const mm = pad(Math.floor((a % 3600) / 60), 2);
  const ss = pad(a % 60, 2);
  const body = std.slice(1);
  switch (body) {
    case '07:00:00':
      return sign + hh + ':' + mm + ':' + ss;
    case '070000':
      return sign + hh + mm + ss;
    case '07:00':
      return sign + hh + ':' + mm;
    case '0700':
      return sign + hh + mm;
    default:
      return sign + hh;
  }
}

const h12 = (c: Civil): number => (c.hour % 12 === 0 ? 12 : c.hour % 12);

/** How each layout element prints (fractions and zone offsets aside). */
const FORMATTERS: ReadonlyMap<string, (c: Civil) => string> = new Map<string, (c: Civil) => string>([
  ['January', (c) => LONG_MONTHS[c.month - 1]!],
  ['Jan', (c) => LONG_MONTHS[c.month - 1]!.slice(0, 3)],
  ['Monday', (c) => LONG_DAYS[c.weekday]!],
  ['Mon', (c) => LONG_DAYS[c.weekday]!.slice(0, 3)],
  ['MST', (c) => c.abbr],
  ['01', (c) => pad(c.month, 2)],
  ['1', (c) => String(c.month)],
  ['02', (c) => pad(c.day, 2)],
  ['2', (c) => String(c.day)],
  ['_2', (c) => pad(c.day, 2, ' ')],
  ['002', (c) => pad(c.yday, 3)],
  ['__2', (c) => pad(c.yday, 3, ' ')],
  ['2006', (c) => (c.year < 0 ? '-' + pad(-c.year, 4) : pad(c.year, 4))],
  ['06', (c) => pad(((c.year % 100) + 100) % 100, 2)],
  ['15', (c) => pad(c.hour, 2)],
  ['03', (c) => pad(h12(c), 2)],
  ['3', (c) => String(h12(c))],
  ['04', (c) => pad(c.min, 2)],
  ['4', (c) => String(c.min)],
  ['05', (c) => pad(c.sec, 2)],
  ['5', (c) => String(c.sec)],
  ['PM', (c) => (c.hour >= 12 ? 'PM' : 'AM')],
  ['pm', (c) => (c.hour >= 12 ? 'pm' : 'am')],
]);

export function formatTime(c: Civil, layout: string): string {
  let out = '';
  for (const ch of chunks(layout)) {
    if ('lit' in ch) {
      out += ch.lit;
      continue;
    }
    const format = FORMATTERS.get(ch.std);
    if (format) out += format(c);
    else if (ch.std === '.0' || ch.std === '.9') {
      // `.000` always prints its digits; `.999` drops trailing zeros, and the dot with them
      const frac = pad(c.nsec, 9).slice(0, ch.digits);
      const shown = ch.std === '.9' ? frac.replace(/0+$/, '') : frac;
      if (ch.std === '.0' || shown !== '') out += '.' + shown;
    } else out += formatZone(ch.std, c.offset);
  }
  return out;
}

/** The fields a parsed timestamp is built from. */
interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  min: number;
  sec: number;
  nsec: number;
}

/** Layout elements that are a plain number: the field they set and the digits they accept (min, max). */
const NUMERIC_ELEMENTS: ReadonlyMap<string, readonly [keyof Fields, number, number]> = new Map([
  ['01', ['month', 2, 2]],
  ['1', ['month', 1, 2]],
  ['02', ['day', 2, 2]],
  ['2', ['day', 1, 2]],
  ['2006', ['year', 4, 4]],
  ['15', ['hour', 1, 2]],
  ['03', ['hour', 2, 2]],
  ['3', ['hour', 1, 2]],
  ['04', ['min', 2, 2]],
  ['4', ['min', 1, 2]],
] as const);

/** Digit runs the layout elements accept (min,max). */
const DIGITS: Readonly<Record<string, RegExp>> = {
  '1,2': /^\d{1,2}/,
  '2,2': /^\d{2}/,
  '4,4': /^\d{4}/,
  '1,3': /^\d{1,3}/,
};

/** Go's time.Parse for a layout; returns UTC epoch nanoseconds. */
export function parseTime(layout: string, value: string): bigint {
  const bad = (): never => {
    throw new BuiltinError(
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse`,
    );
  };
  let v = value;
  const f: Fields = { year: 1, month: 1, day: 1, hour: 0, min: 0, sec: 0, nsec: 0 };
  let pm: boolean | undefined;
  let offset: number | undefined;
  const num = (min: number, max: number): number => {
    const m = DIGITS[`${min},${max}`]!.exec(v);
    if (!m) bad();
    v = v.slice(m![0].length);
    return Number(m![0]);
  };
  const name = (list: readonly string[], len?: number): number => {
    for (let i = 0; i < list.length; i++) {
      const n = len ? list[i]!.slice(0, len) : list[i]!;
      if (v.toLowerCase().startsWith(n.toLowerCase())) {
        v = v.slice(n.length);
        return i;
      }
    }
    return bad();
  };
  const cs = chunks(layout);
  for (let k = 0; k < cs.length; k++) {
    const ch = cs[k]!;
    if ('lit' in ch) {
      if (!v.startsWith(ch.lit)) bad();
      v = v.slice(ch.lit.length);
      continue;
    }
    const numeric = NUMERIC_ELEMENTS.get(ch.std);
    if (numeric) {
      f[numeric[0]] = num(numeric[1], numeric[2]);
      continue;
    }
    switch (ch.std) {
      case 'January':
        f.month = name(LONG_MONTHS) + 1;
        break;
      case 'Jan':
        f.month = name(LONG_MONTHS, 3) + 1;
        break;
      case 'Monday':
        name(LONG_DAYS);
        break;
      case 'Mon':
        name(LONG_DAYS, 3);
        break;
      case 'MST': {
        const m = /^(UTC|GMT|[A-Z]{3,5})/.exec(v);
        if (!m) bad();
        v = v.slice(m![0].length);
        if (offset === undefined) offset = 0;
        break;
      }
      case '_2':
        if (v.startsWith(' ')) v = v.slice(1);
        f.day = num(1, 2);
        break;
      case '002':
      case '__2':
        num(1, 3);
        break;
      case '06': {
        const yy = num(2, 2);
        f.year = yy >= 69 ? 1900 + yy : 2000 + yy;
        break;
      }
      case '05':
      case '5': {
        f.sec = num(ch.std === '05' ? 2 : 1, 2);
        // Go accepts a fractional second after the seconds even when the layout has none.
        const next = cs[k + 1];
        const m = /^[.,](\d+)/.exec(v);
        if (m && !(next && 'std' in next && next.std.startsWith('.'))) {
          f.nsec = Number(m[1]!.slice(0, 9).padEnd(9, '0'));
          v = v.slice(m[0].length);
        }
        break;
      }
      case 'PM':
      case 'pm': {
        const m = /^(AM|PM)/i.exec(v);
        if (!m) bad();
        pm = m![0].toUpperCase() === 'PM';
        v = v.slice(2);
        break;
      }
      case '.0':
      case '.9': {
        const m = /^[.,](\d+)/.exec(v);
        if (!m) {
          if (ch.std === '.9') break;
          bad();
        }
        f.nsec = Number(m![1]!.slice(0, 9).padEnd(9, '0'));
        v = v.slice(m![0].length);
        break;
      }
      default: {
        if (ch.std.startsWith('Z') && v.startsWith('Z')) {
          v = v.slice(1);
          offset = 0;
          break;
        }
        const m = /^([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?/.exec(v);
        if (!m) bad();
        v = v.slice(m![0].length);
        const s = (Number(m![2]) * 60 + Number(m![3] ?? 0)) * 60 + Number(m![4] ?? 0);
        offset = m![1] === '-' ? -s : s;
      }
    }
  }
  if (v !== '') bad();
  if (pm !== undefined) {
    if (f.hour > 12) bad();
    if (pm && f.hour < 12) f.hour += 12;
    if (!pm && f.hour === 12) f.hour = 0;
  }
  const { year, month, day, hour, min, sec } = f;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59)
    bad();
  const local = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec);
  const ns = (local - BigInt(offset ?? 0)) * NS_PER_S + BigInt(f.nsec);
  return ns;
}

/** Go's time.ParseDuration. */
export function parseDuration(s: string): bigint {
  const bad = (): never => {
    throw new BuiltinError(`time: invalid duration ${JSON.stringify(s)}`);
  };
  let rest = s;
  let neg = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') bad();
  const units: Record<string, bigint> = {
    ns: 1n,
    us: 1000n,
    µs: 1000n,
    μs: 1000n,
    ms: 1_000_000n,
    s: NS_PER_S,
    m: 60n * NS_PER_S,
    h: 3600n * NS_PER_S,
  };
  let total = 0n;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?([^\d.]+)/.exec(rest);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) bad();
    const unit = units[m![3]!];
    if (unit === undefined)
      throw new BuiltinError(`time: unknown unit ${JSON.stringify(m![3])} in duration ${JSON.stringify(s)}`);
    const whole = BigInt(m![1] || '0') * unit;
    let frac = 0n;
    if (m![2]) frac = (BigInt(m![2]) * unit) / 10n ** BigInt(m![2].length);
    total += whole + frac;
    rest = rest.slice(m![0].length);
  }
  if (total > INT64_MAX + (neg ? 1n : 0n))
    throw new BuiltinError(`time: invalid duration ${JSON.stringify(s)}`);
  return neg ? -total : total;
}
