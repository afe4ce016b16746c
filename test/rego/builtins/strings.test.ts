import { describe, expect, it } from 'vitest';
import { evalError, evalJS } from './helpers.js';

describe('strings builtins', () => {
  it('formats sprintf verbs, flags, widths and precisions like Go', () => {
    expect(
      evalJS(
        'sprintf("%5.2f|%-4s|%x|%q|%+d|%08.3f|%o|%b|%X", [3.14159, "ab", "hi", "a\\"b", 5, -3.5, 8, 5, 255])',
      ),
    ).toBe(' 3.14|ab  |6869|"a\\"b"|+5|-003.500|10|101|FF');
  });

  it('prints floats with %v as Go does (exponent from 1e21 up and below 1e-4)', () => {
    expect(evalJS('sprintf("%v %v %v %v", [1234567.5, 0.0001, 0.00001, 2.5])')).toBe(
      '1.2345675e+06 0.0001 1e-05 2.5',
    );
  });

  it("reports verb mismatches, missing and extra arguments in Go's in-band notation", () => {
    expect(evalJS('sprintf("%d", ["x"])')).toBe('%!d(string=x)');
    expect(evalJS('sprintf("%d %d", [1])')).toBe('1 %!d(MISSING)');
    expect(evalJS('sprintf("%d", [1, "a"])')).toBe('1%!(EXTRA string=a)');
    expect(evalJS('sprintf("%s", [1])')).toBe('%!s(int=1)');
  });

  it('refuses a width that would allocate without bound', () => {
    expect(evalError('sprintf("%99999999d", [1])')).toMatch(/width or precision 99999999 exceeds/);
  });

  it('counts code points, not UTF-16 units, in indexof, substring and count', () => {
    expect(evalJS('indexof("😀a😀b", "b")')).toBe(3);
    expect(evalJS('substring("😀a😀b", 1, 2)')).toBe('a😀');
    expect(evalJS('count("😀😀")')).toBe(2);
    expect(evalJS('strings.reverse("a😀b")')).toBe('b😀a');
  });

  it("trims Go's unicode spaces but not a byte-order mark", () => {
    expect(evalJS('trim_space("\\u00a0\\u3000 x \\u2029")')).toBe('x');
    expect(evalJS('trim_space("\\ufeffx")')).toBe('\ufeffx');
  });

  it('replaces with the first matching pattern in key order, without overlapping', () => {
    expect(evalJS('strings.replace_n({"a": "1", "ab": "2"}, "abab")')).toBe('1b1b');
    expect(evalJS('replace("abc", "", "-")')).toBe('-a-b-c-');
  });

  it('keeps the last |n| pieces for a negative split_n limit', () => {
    expect(evalJS('strings.split_n("a.b.c.d", ".", -2)')).toEqual(['c', 'd']);
  });

  it('renders a Go text/template subset with range and if', () => {
    expect(
      evalJS(
        'strings.render_template("{{range $i, $v := .xs}}{{if $i}}, {{end}}{{$v}}{{end}}!", {"xs": ["a", "b"]})',
      ),
    ).toBe('a, b!');
  });
});
