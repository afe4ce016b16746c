/**
 * Time builtins with Go's semantics: nanosecond int64 timestamps, Go reference-time layouts ("2006-01-02T15:04:05Z07:00")
 * for parsing and formatting, IANA time zones (through Intl), and Go's date normalisation (AddDate).
 * time.now_ns is the evaluation's fixed clock (ctx.nowNs), so it is stable within one query.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { BigNum, TypeName, Value } from '../value.js';
import { fromBigInt, isArray, isNumber, toBigInt } from '../value.js';

const NS_PER_S = 1_000_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const LONG_MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Go's named layouts (time.ANSIC, ...), as accepted by OPA. */
const NAMED_LAYOUTS: Record<string, string> = {
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
// Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)

function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d];
}

function daysIn(y: number, m: number): number {
  return civilFromDays(daysFromCivil(y, m + 1, 1) - 1)[2];
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

// ---------------------------------------------------------------------------------------------------------------
// Zones

interface Zone {
  readonly name: string;
  /** Offset east of UTC in seconds at the given instant, and the zone's abbreviation. */
  at(epochSec: number): { offset: number; abbr: string };
}

const UTC_ZONE: Zone = { name: 'UTC', at: () => ({ offset: 0, abbr: 'UTC' }) };

function intlZone(name: string): Zone {
  let fmt: Intl.DateTimeFormat;
  let abbrFmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    abbrFmt = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'short' });
  } catch {
    throw new BuiltinError(`unknown time zone ${name}`);
  }
  return {
    name,
    at(epochSec: number) {
      // Intl works on milliseconds within +-8.64e15; clamp to its range (int64 ns timestamps always fit).
      const d = new Date(epochSec * 1000);
      const parts: Record<string, string> = {};
      for (const p of fmt.formatToParts(d)) parts[p.type] = p.value;
      let y = Number(parts.year);
      if (parts.era === 'BC' || parts.era === 'B') y = 1 - y;
      const local =
        daysFromCivil(y, Number(parts.month), Number(parts.day)) * 86400 +
        Number(parts.hour) * 3600 +
        Number(parts.minute) * 60 +
        Number(parts.second);
      const offset = local - Math.floor(epochSec);
      const tzPart = abbrFmt.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
      const abbr = /^GMT[+-]/.test(tzPart) || tzPart === '' ? formatOffsetAbbr(offset) : tzPart;
      return { offset, abbr };
    },
  };
}

/** Go prints zones without an abbreviation as "+0530". */
function formatOffsetAbbr(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const hh = String(Math.floor(a / 3600)).padStart(2, '0');
  const mm = Math.floor((a % 3600) / 60);
  return sign + hh + (mm ? String(mm).padStart(2, '0') : '');
}

function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC') return UTC_ZONE;
  if (name === 'Local') return intlZone(Intl.DateTimeFormat().resolvedOptions().timeZone);
  return intlZone(name);
}

// ---------------------------------------------------------------------------------------------------------------
// A broken-down time

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  min: number;
  sec: number;
  nsec: number;
  /** Offset east of UTC, seconds. */
  offset: number;
  abbr: string;
  weekday: number;
  yday: number;
}

function toCivil(ns: bigint, zone: Zone): Civil {
  const sec = floorDiv(ns, NS_PER_S);
  const nsec = Number(ns - sec * NS_PER_S);
  const { offset, abbr } = zone.at(Number(sec));
  const local = Number(sec) + offset;
  const days = Math.floor(local / 86400);
  let rem = local - days * 86400;
  const [year, month, day] = civilFromDays(days);
  const hour = Math.floor(rem / 3600);
  rem -= hour * 3600;
  const min = Math.floor(rem / 60);
  return {
    year,
    month,
    day,
    hour,
    min,
    sec: rem - min * 60,
    nsec,
    offset,
    abbr,
    weekday: (((days + 4) % 7) + 7) % 7,
    yday: days - daysFromCivil(year, 1, 1) + 1,
  };
}

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

function formatTime(c: Civil, layout: string): string {
  let out = '';
  for (const ch of chunks(layout)) {
    if ('lit' in ch) {
      out += ch.lit;
      continue;
    }
    const h12 = c.hour % 12 === 0 ? 12 : c.hour % 12;
    switch (ch.std) {
      case 'January':
        out += LONG_MONTHS[c.month - 1];
        break;
      case 'Jan':
        out += LONG_MONTHS[c.month - 1]!.slice(0, 3);
        break;
      case 'Monday':
        out += LONG_DAYS[c.weekday];
        break;
      case 'Mon':
        out += LONG_DAYS[c.weekday]!.slice(0, 3);
        break;
      case 'MST':
        out += c.abbr;
        break;
      case '01':
        out += pad(c.month, 2);
        break;
      case '1':
        out += String(c.month);
        break;
      case '02':
        out += pad(c.day, 2);
        break;
      case '2':
        out += String(c.day);
        break;
      case '_2':
        out += pad(c.day, 2, ' ');
        break;
      case '002':
        out += pad(c.yday, 3);
        break;
      case '__2':
        out += pad(c.yday, 3, ' ');
        break;
      case '2006':
        out += c.year < 0 ? '-' + pad(-c.year, 4) : pad(c.year, 4);
        break;
      case '06':
        out += pad(((c.year % 100) + 100) % 100, 2);
        break;
      case '15':
        out += pad(c.hour, 2);
        break;
      case '03':
        out += pad(h12, 2);
        break;
      case '3':
        out += String(h12);
        break;
      case '04':
        out += pad(c.min, 2);
        break;
      case '4':
        out += String(c.min);
        break;
      case '05':
        out += pad(c.sec, 2);
        break;
      case '5':
        out += String(c.sec);
        break;
      case 'PM':
        out += c.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += c.hour >= 12 ? 'pm' : 'am';
        break;
      case '.0':
      case '.9': {
        const digits = ch.digits!;
        let frac = pad(c.nsec, 9).slice(0, digits);
        if (ch.std === '.9') {
          frac = frac.replace(/0+$/, '');
          if (frac !== '') out += '.' + frac;
        } else out += '.' + frac;
        break;
      }
      default:
        out += formatZone(ch.std, c.offset);
    }
  }
  return out;
}

/** Digit runs the layout elements accept (min,max). */
const DIGITS: Readonly<Record<string, RegExp>> = {
  '1,2': /^\d{1,2}/,
  '2,2': /^\d{2}/,
  '4,4': /^\d{4}/,
  '1,3': /^\d{1,3}/,
};

/** Go's time.Parse for a layout; returns UTC epoch nanoseconds. */
function parseTime(layout: string, value: string): bigint {
  const bad = (): never => {
    throw new BuiltinError(
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse`,
    );
  };
  let v = value;
  let year = 1;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
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
    switch (ch.std) {
      case 'January':
        month = name(LONG_MONTHS) + 1;
        break;
      case 'Jan':
        month = name(LONG_MONTHS, 3) + 1;
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
      case '01':
        month = num(2, 2);
        break;
      case '1':
        month = num(1, 2);
        break;
      case '02':
        day = num(2, 2);
        break;
      case '2':
        day = num(1, 2);
        break;
      case '_2':
        if (v.startsWith(' ')) v = v.slice(1);
        day = num(1, 2);
        break;
      case '002':
      case '__2':
        num(1, 3);
        break;
      case '2006':
        year = num(4, 4);
        break;
      case '06': {
        const yy = num(2, 2);
        year = yy >= 69 ? 1900 + yy : 2000 + yy;
        break;
      }
      case '15':
        hour = num(1, 2);
        break;
      case '03':
        hour = num(2, 2);
        break;
      case '3':
        hour = num(1, 2);
        break;
      case '04':
        min = num(2, 2);
        break;
      case '4':
        min = num(1, 2);
        break;
      case '05':
      case '5': {
        sec = num(ch.std === '05' ? 2 : 1, 2);
        // Go accepts a fractional second after the seconds even when the layout has none.
        const next = cs[k + 1];
        const m = /^[.,](\d+)/.exec(v);
        if (m && !(next && 'std' in next && next.std.startsWith('.'))) {
          nsec = Number(m[1]!.slice(0, 9).padEnd(9, '0'));
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
        nsec = Number(m![1]!.slice(0, 9).padEnd(9, '0'));
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
    if (hour > 12) bad();
    if (pm && hour < 12) hour += 12;
    if (!pm && hour === 12) hour = 0;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59)
    bad();
  const local = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec);
  const ns = (local - BigInt(offset ?? 0)) * NS_PER_S + BigInt(nsec);
  return ns;
}

function checkRange(ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('time outside of valid range');
  return ns;
}

/** Go's time.ParseDuration. */
function parseDuration(s: string): bigint {
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

/** The (ns, zone, layout) of a time operand: a number of ns, or [ns, tz] / [ns, tz, layout]. */
function timeOperand(v: Value): { ns: bigint; zone: Zone; layout: string } {
  let nv: Value = v;
  let zone = UTC_ZONE;
  let layout = NAMED_LAYOUTS.RFC3339Nano!;
  const expected = 'either number (ns) or [number (ns), string (tz)]' as TypeName;
  if (isArray(v)) {
    if (v.length === 0) throw typeError(1, v, expected);
    nv = v[0]!;
    if (v.length > 1) {
      const tz = v[1]!;
      if (typeof tz !== 'string') throw typeError(1, tz, 'string');
      zone = loadZone(tz);
    }
    if (v.length > 2) {
      const l = v[2]!;
      if (typeof l !== 'string') throw typeError(1, l, 'string');
      layout = NAMED_LAYOUTS[l] ?? l;
    }
  } else if (!isNumber(v)) throw typeError(1, v, expected);
  if (!isNumber(nv)) throw typeError(1, nv, 'number');
  const ns = toBigInt(nv);
  if (ns === undefined || ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('timestamp too big');
  return { ns, zone, layout };
}

/** Go's Time.AddDate: add to the civil fields, then normalise (Jan 31 + 1 month = Mar 3). */
function addDate(ns: bigint, years: number, months: number, days: number): bigint {
  const c = toCivil(ns, UTC_ZONE);
  let m0 = c.month - 1 + months;
  const y = c.year + years + Math.floor(m0 / 12);
  m0 = ((m0 % 12) + 12) % 12;
  const dayNum = daysFromCivil(y, m0 + 1, 1) + c.day - 1 + days;
  const secs = BigInt(dayNum) * 86400n + BigInt(c.hour * 3600 + c.min * 60 + c.sec);
  return secs * NS_PER_S + BigInt(c.nsec);
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'time.now_ns',
    args: [],
    result: 'number',
    nondeterministic: true,
    impl: (_a, ctx) => fromBigInt(ctx.nowNs),
  });
  r.register({
    name: 'time.parse_ns',
    args: ['string', 'string'],
    result: 'number',
    impl: (a) =>
      fromBigInt(checkRange(parseTime(NAMED_LAYOUTS[a[0] as string] ?? (a[0] as string), a[1] as string))),
  });
  r.register({
    name: 'time.parse_rfc3339_ns',
    args: ['string'],
    result: 'number',
    impl: (a) => fromBigInt(checkRange(parseTime(NAMED_LAYOUTS.RFC3339!, a[0] as string))),
  });
  r.register({
    name: 'time.parse_duration_ns',
    args: ['string'],
    result: 'number',
    impl: (a) => fromBigInt(parseDuration(a[0] as string)),
  });
  r.register({
    name: 'time.date',
    args: [['number', 'array']],
    result: 'array',
    checkTypes: false,
    impl: (a) => {
      const t = timeOperand(a[0]!);
      const c = toCivil(t.ns, t.zone);
      return [c.year, c.month, c.day];
    },
  });
  r.register({
    name: 'time.clock',
    args: [['number', 'array']],
    result: 'array',
    checkTypes: false,
    impl: (a) => {
      const t = timeOperand(a[0]!);
      const c = toCivil(t.ns, t.zone);
      return [c.hour, c.min, c.sec];
    },
  });
  r.register({
    name: 'time.weekday',
    args: [['number', 'array']],
    result: 'string',
    checkTypes: false,
    impl: (a) => {
      const t = timeOperand(a[0]!);
      return LONG_DAYS[toCivil(t.ns, t.zone).weekday]!;
    },
  });
  r.register({
    name: 'time.format',
    args: [['number', 'array']],
    result: 'string',
    checkTypes: false,
    impl: (a) => {
      const t = timeOperand(a[0]!);
      return formatTime(toCivil(t.ns, t.zone), t.layout);
    },
  });
  r.register({
    name: 'time.add_date',
    args: ['number', 'number', 'number', 'number'],
    result: 'number',
    impl: (a) => {
      const ns = toBigInt(a[0] as number | BigNum);
      if (ns === undefined || ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('timestamp too big');
      const ints = [a[1], a[2], a[3]].map((x, i) => {
        const b = toBigInt(x as number | BigNum);
        if (b === undefined) throw typeError(i + 2, x!, 'number');
        return Number(b);
      });
      return fromBigInt(checkRange(addDate(ns, ints[0]!, ints[1]!, ints[2]!)));
    },
  });
  r.register({
    name: 'time.diff',
    args: [
      ['number', 'array'],
      ['number', 'array'],
    ],
    result: 'array',
    checkTypes: false,
    impl: (a) => {
      const t1 = timeOperand(a[0]!);
      const t2 = timeOperand(a[1]!);
      // Both in the first operand's zone, earlier one first.
      let [n1, n2] = [t1.ns, t2.ns];
      if (n1 > n2) [n1, n2] = [n2, n1];
      const c1 = toCivil(n1, t1.zone);
      const c2 = toCivil(n2, t1.zone);
      let year = c2.year - c1.year;
      let month = c2.month - c1.month;
      let day = c2.day - c1.day;
      let hour = c2.hour - c1.hour;
      let min = c2.min - c1.min;
      let sec = c2.sec - c1.sec;
      if (sec < 0) {
        sec += 60;
        min--;
      }
      if (min < 0) {
        min += 60;
        hour--;
      }
      if (hour < 0) {
        hour += 24;
        day--;
      }
      if (day < 0) {
        day += daysIn(c1.year, c1.month);
        month--;
      }
      if (month < 0) {
        month += 12;
        year--;
      }
      return [year, month, day, hour, min, sec];
    },
  });
}
