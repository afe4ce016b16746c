import { describe, expect, it } from 'vitest';
import { FIXED_NOW_NS, evalError, evalJS, evalRego, text } from './helpers.js';

describe('time builtins', () => {
  it('returns the evaluation clock from time.now_ns', () => {
    expect(text(evalRego('time.now_ns()'))).toBe(FIXED_NOW_NS.toString());
  });

  it('formats Go layouts in IANA zones, including named layouts', () => {
    const ns = '1670006453141828752';
    expect(evalJS(`time.format([${ns}, "America/New_York", "Monday 02 Jan 2006 3:04PM MST .000"])`)).toBe(
      'Friday 02 Dec 2022 1:40PM EST .141',
    );
    expect(evalJS(`time.format([${ns}, "UTC", "RFC850"])`)).toBe('Friday, 02-Dec-22 18:40:53 UTC');
  });

  it('parses fractional seconds and offsets, and refuses unknown zones', () => {
    expect(text(evalRego('time.parse_rfc3339_ns("2024-02-29T12:00:00.5+01:00")'))).toBe(
      '1709204400500000000',
    );
    expect(evalError('time.date([0, "Mars/Olympus_Mons"])')).toMatch(/unknown time zone/);
  });

  it('normalises add_date like Go (Jan 31 + 1 month = Mar 2 in a leap year)', () => {
    const jan31 = 'time.parse_ns("2006-01-02", "2024-01-31")';
    expect(evalJS(`time.date(time.add_date(${jan31}, 0, 1, 0))`)).toEqual([2024, 3, 2]);
  });

  it('parses Go durations', () => {
    expect(evalJS('time.parse_duration_ns("1h2m3.5s")')).toBe(3723500000000);
    expect(evalError('time.parse_duration_ns("3 days")')).toMatch(/invalid duration|unknown unit/);
  });
});

describe('encoding builtins', () => {
  it("decodes invalid UTF-8 byte by byte to U+FFFD, as Go's []rune does", () => {
    expect(evalJS('count(base64.decode("/+8A"))')).toBe(3);
  });

  it('escapes HTML characters in json.marshal like encoding/json', () => {
    expect(evalJS('json.marshal({"a": "<b>&"})')).toBe('{"a":"\\u003cb\\u003e\\u0026"}');
  });

  it('keeps big numbers exact through json.unmarshal and json.marshal', () => {
    expect(evalJS('json.marshal(json.unmarshal("[123456789012345678901234567890]"))')).toBe(
      '[123456789012345678901234567890]',
    );
  });

  it('round-trips url query objects with repeated keys', () => {
    expect(evalJS('urlquery.decode_object(urlquery.encode_object({"a": ["1 2", "3"], "b": "x&y"}))')).toEqual(
      {
        a: ['1 2', '3'],
        b: ['x&y'],
      },
    );
  });
});
