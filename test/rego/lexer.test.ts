import { describe, expect, it } from 'vitest';
import { tokenize } from '../../src/rego/lexer.js';
import { RegoError } from '../../src/rego/errors.js';

describe('rego lexer', () => {
  it('tokenizes identifiers, numbers, strings and operators with 1-based locations', () => {
    const toks = tokenize('p := 1.5e3\nq == "a\\nb"', 'f.rego');
    expect(toks.map((t) => [t.kind, t.text])).toEqual([
      ['ident', 'p'],
      ['punct', ':='],
      ['number', '1.5e3'],
      ['ident', 'q'],
      ['punct', '=='],
      ['string', 'a\nb'],
      ['eof', ''],
    ]);
    expect(toks[3]!.loc).toMatchObject({ file: 'f.rego', row: 2, col: 1 });
    expect(toks[3]!.nl).toBe(true);
    expect(toks[1]!.nl).toBe(false);
  });

  it('keeps raw strings verbatim and skips comments', () => {
    const toks = tokenize('x := `a\\d+` # comment\n', 'f');
    expect(toks[2]).toMatchObject({ kind: 'rawstring', text: 'a\\d+' });
    expect(toks).toHaveLength(4);
  });

  it('reads template strings as one token', () => {
    const toks = tokenize('$"a {x} b"', 'f');
    expect(toks[0]).toMatchObject({ kind: 'template', raw: 'a {x} b' });
  });

  it('rejects unterminated strings and illegal characters with rego_parse_error', () => {
    for (const src of ['x := "abc', 'x := `abc', 'x := 1 ^ 2', 'x := 01']) {
      let err: unknown;
      try {
        tokenize(src, 'f');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RegoError);
      expect((err as RegoError).code).toBe('rego_parse_error');
    }
  });
});
