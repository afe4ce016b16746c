/**
 * Civil time for the time builtins, with Go's semantics: int64 nanosecond timestamps broken down into calendar
 * fields (proleptic Gregorian) in a time zone (UTC, or an IANA zone through Intl), and Go's AddDate normalisation.
 */
import { BuiltinError } from './registry.js';

export const NS_PER_S = 1_000_000_000n;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const LONG_MONTHS = [
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

// ---------------------------------------------------------------------------------------------------------------
// Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)

export function daysFromCivil(y: number, m: number, d: number): number {
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

export function daysIn(y: number, m: number): number {
  return civilFromDays(daysFromCivil(y, m + 1, 1) - 1)[2];
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

// ---------------------------------------------------------------------------------------------------------------
// Zones

export interface Zone {
  readonly name: string;
  /** Offset east of UTC in seconds at the given instant, and the zone's abbreviation. */
  at(epochSec: number): { offset: number; abbr: string };
}

export const UTC_ZONE: Zone = { name: 'UTC', at: () => ({ offset: 0, abbr: 'UTC' }) };

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

export function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC') return UTC_ZONE;
  if (name === 'Local') return intlZone(Intl.DateTimeFormat().resolvedOptions().timeZone);
  return intlZone(name);
}

// ---------------------------------------------------------------------------------------------------------------
// A broken-down time

export interface Civil {
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

export function toCivil(ns: bigint, zone: Zone): Civil {
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

/** Go's Time.AddDate: add to the civil fields, then normalise (Jan 31 + 1 month = Mar 3). */
export function addDate(ns: bigint, years: number, months: number, days: number): bigint {
  const c = toCivil(ns, UTC_ZONE);
  let m0 = c.month - 1 + months;
  const y = c.year + years + Math.floor(m0 / 12);
  m0 = ((m0 % 12) + 12) % 12;
  const dayNum = daysFromCivil(y, m0 + 1, 1) + c.day - 1 + days;
  const secs = BigInt(dayNum) * 86400n + BigInt(c.hour * 3600 + c.min * 60 + c.sec);
  return secs * NS_PER_S + BigInt(c.nsec);
}
