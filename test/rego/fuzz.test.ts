import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/rego/engine.js';
import { RegoError, RegoErrors } from '../../src/rego/errors.js';
import { parseModule, parseQuery } from '../../src/rego/parser.js';

const SEED_MODULE = `package fuzz.example

import rego.v1

default allow := false

allow if {
	some role in data.bindings[input.user]
	role in {"admin", "dev"}
	count([x | x := input.items[_]; x > 1]) >= 2
	every k, v in input.labels { startswith(k, "a"); v != "" }
	not input.blocked
}

reason := msg if {
	msg := sprintf("%v is not allowed", [input.user])
	input.user == "eve"
} else := "x"

f(x) := y if { y := x * 2 + 1 } else := 0
obj[k] := {"v": v, "s": {1, 2}, "a": [1.5e3, -2, \`raw\`]} if some k, v in input.m
t := $"hello {input.user}!"
`;

/** Deterministic PRNG (mulberry32) so failures are reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'pkgaeiofx_ 0123456789\n\t{}[]().,;:=<>!+-*/%&|"`$#\\\'abcinseltryvq';
const TOKENS = [
  'package',
  'import',
  'if',
  'else',
  'contains',
  'some',
  'every',
  'in',
  'not',
  'with',
  'as',
  'default',
  ':=',
  '==',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '|',
  '"s"',
  '`r`',
  '$"t{x}"',
  '1e9',
  '-3',
  'x',
  '.',
  ',',
  ';',
  '\n',
];

function expectParseErrorOrModule(src: string, regoVersion: 'v0' | 'v1' = 'v1'): void {
  try {
    parseModule('fuzz.rego', src, { regoVersion });
  } catch (e) {
    // several v1 violations of v0-shaped rules come together as RegoErrors
    const parseErrors =
      e instanceof RegoErrors &&
      e.errors.every((x) => x.code === 'rego_parse_error' && x.location !== undefined);
    if (!parseErrors && (!(e instanceof RegoError) || e.code !== 'rego_parse_error')) {
      throw new Error(`non-parse error for ${JSON.stringify(src)}: ${String(e)}`);
    }
  }
  try {
    parseQuery(src);
  } catch (e) {
    if (!(e instanceof RegoError) || e.code !== 'rego_parse_error') {
      throw new Error(`non-parse error for query ${JSON.stringify(src)}: ${String(e)}`);
    }
  }
}

describe('rego parser fuzzing', () => {
  it('never crashes on truncations of a valid module: it parses or reports rego_parse_error', () => {
    expect(() => parseModule('seed.rego', SEED_MODULE)).not.toThrow();
    for (let i = 0; i <= SEED_MODULE.length; i++) expectParseErrorOrModule(SEED_MODULE.slice(0, i));
  });

  it('never crashes on random mutations of a valid module', () => {
    const r = rng(1234);
    for (let n = 0; n < 1500; n++) {
      const chars = SEED_MODULE.split('');
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(r() * chars.length);
        const op = r();
        if (op < 0.33) chars.splice(pos, 1);
        else if (op < 0.66) chars.splice(pos, 0, ALPHABET[Math.floor(r() * ALPHABET.length)]!);
        else chars[pos] = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
      }
      expectParseErrorOrModule(chars.join(''));
    }
  });

  it('never crashes in v0 mode either (mutations of a v0 module)', () => {
    const seed =
      'package v0\nimport future.keywords.in\ndeny[msg] {\n  c := input.cs[_]\n  not c.ok\n  msg := sprintf("%v", [c])\n}\nf(x) = y { y := x } else = 0 { true }\ndefault p = false\np { 1 in [1] }\n';
    expect(() => parseModule('seed.rego', seed, { regoVersion: 'v0' })).not.toThrow();
    const r = rng(99);
    for (let n = 0; n < 1500; n++) {
      const chars = seed.split('');
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(r() * chars.length);
        const op = r();
        if (op < 0.33) chars.splice(pos, 1);
        else if (op < 0.66) chars.splice(pos, 0, ALPHABET[Math.floor(r() * ALPHABET.length)]!);
        else chars[pos] = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
      }
      expectParseErrorOrModule(chars.join(''), 'v0');
    }
  });

  it('compiles and evaluates mutated modules with only Rego errors (negation and redeclaration rewrites included)', () => {
    const seed = `package fz
default allow := false
allow if {
  not startswith(lower(input.name), "x")
  not [input.a] = [1]
  count([x | x := input.items[_]; not x > 1]) >= 2
  every k, v in input.labels { not startswith(k, "a"); v != "" }
  not data.fz.q[input.k]
}
q contains x if { some x in input.xs; not contains(x, input.y) }
g($"{input.a}") := 1
s := [v | v := input.m[_]; not v.ok == true]
`;
    const input = {
      name: 'n',
      items: [1, 2, 3],
      labels: { b: 'x' },
      xs: ['a'],
      y: 'z',
      m: { a: { ok: false } },
    };
    const r = rng(7);
    for (let n = 0; n < 800; n++) {
      const chars = seed.split('');
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(r() * chars.length);
        const op = r();
        if (op < 0.33) chars.splice(pos, 1);
        else if (op < 0.66) chars.splice(pos, 0, ALPHABET[Math.floor(r() * ALPHABET.length)]!);
        else chars[pos] = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
      }
      const src = chars.join('');
      try {
        const engine = new Engine({ limits: { timeoutMs: 200 } });
        engine.addModule('fz.rego', src);
        engine.prepare('data.fz').evaluate(input);
      } catch (e) {
        if (!(e instanceof RegoErrors) && !(e instanceof RegoError))
          throw new Error(`non-Rego error for ${JSON.stringify(src)}: ${String(e)}`);
      }
    }
  });

  it('never crashes on random token soup', () => {
    const r = rng(42);
    for (let n = 0; n < 1500; n++) {
      const len = Math.floor(r() * 30);
      const parts = ['package p\n'];
      for (let i = 0; i < len; i++) parts.push(TOKENS[Math.floor(r() * TOKENS.length)]!, ' ');
      expectParseErrorOrModule(parts.join(''));
    }
  });

  it('reports deeply nested input as a parse error instead of overflowing the stack', () => {
    expectParseErrorOrModule('package p\nx := ' + '['.repeat(100_000));
    expectParseErrorOrModule('package p\nx := ' + '('.repeat(5_000) + '1' + ')'.repeat(5_000));
  });
});
