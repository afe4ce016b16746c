/**
 * Time builtins with Go's semantics: nanosecond int64 timestamps, Go reference-time layouts ("2006-01-02T15:04:05Z07:00")
 * for parsing and formatting, IANA time zones (through Intl), and Go's date normalisation (AddDate).
 * time.now_ns is the evaluation's fixed clock (ctx.nowNs), so it is stable within one query.
 */
import type { ArgType, BuiltinDef, BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { Civil, Zone } from './time-civil.js';
import {
  INT64_MAX,
  INT64_MIN,
  LONG_DAYS,
  UTC_ZONE,
  addDate,
  daysIn,
  loadZone,
  toCivil,
} from './time-civil.js';
import { NAMED_LAYOUTS, formatTime, parseDuration, parseTime } from './time-layout.js';
import type { BigNum, TypeName, Value } from '../value.js';
import { fromBigInt, isArray, isNumber, toBigInt } from '../value.js';

/** A computed timestamp must fit int64 ns. */
function checkRange(ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('time outside of valid range');
  return ns;
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

/** A time operand: ns, or [ns, tz] / [ns, tz, layout] (operand types are checked by timeOperand). */
const TIME: ArgType = ['number', 'array'];

/** A builtin of one time operand that reads its civil fields in its zone (time.date, time.clock, ...). */
function civil(name: string, result: TypeName, read: (c: Civil, layout: string) => Value): BuiltinDef {
  return {
    name,
    args: [TIME],
    result,
    checkTypes: false,
    impl: (a) => {
      const t = timeOperand(a[0]!);
      return read(toCivil(t.ns, t.zone), t.layout);
    },
  };
}

/** Go's difference in calendar fields between two times, both in the first operand's zone, earlier one first. */
function diff(a: Value, b: Value): Value {
  const t1 = timeOperand(a);
  const t2 = timeOperand(b);
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
}

const TIME_BUILTINS: readonly BuiltinDef[] = [
  {
    name: 'time.now_ns',
    args: [],
    result: 'number',
    nondeterministic: true,
    impl: (_a, ctx) => fromBigInt(ctx.nowNs),
  },
  {
    name: 'time.parse_ns',
    args: ['string', 'string'],
    result: 'number',
    impl: (a) =>
      fromBigInt(checkRange(parseTime(NAMED_LAYOUTS[a[0] as string] ?? (a[0] as string), a[1] as string))),
  },
  {
    name: 'time.parse_rfc3339_ns',
    args: ['string'],
    result: 'number',
    impl: (a) => fromBigInt(checkRange(parseTime(NAMED_LAYOUTS.RFC3339!, a[0] as string))),
  },
  {
    name: 'time.parse_duration_ns',
    args: ['string'],
    result: 'number',
    impl: (a) => fromBigInt(parseDuration(a[0] as string)),
  },
  civil('time.date', 'array', (c) => [c.year, c.month, c.day]),
  civil('time.clock', 'array', (c) => [c.hour, c.min, c.sec]),
  civil('time.weekday', 'string', (c) => LONG_DAYS[c.weekday]!),
  civil('time.format', 'string', (c, layout) => formatTime(c, layout)),
  {
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
  },
  {
    name: 'time.diff',
    args: [TIME, TIME],
    result: 'array',
    checkTypes: false,
    impl: (a) => diff(a[0]!, a[1]!),
  },
];

export function register(r: BuiltinRegistry): void {
  for (const def of TIME_BUILTINS) r.register(def);
}
