/** Rego v0 mode (`--v0-compatible`, `new Engine({ regoVersion: 'v0' })`): OPA's v0 syntax and keyword imports. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, RegoErrors, evalQuery, loadPaths } from '../../src/rego/index.js';
import { parseModule } from '../../src/rego/parser.js';
import type { JSONValue } from '../../src/rego/value.js';

function v0(src: string, query: string, input?: unknown): JSONValue[] {
  const e = new Engine({ regoVersion: 'v0' });
  e.addModule('t.rego', src);
  return e
    .prepare(query)
    .evaluate(input)
    .map((r) => r.expressions[0]!.value);
}

function v0Error(src: string): string {
  try {
    new Engine({ regoVersion: 'v0' }).addModule('t.rego', src);
  } catch (e) {
    if (e instanceof RegoErrors)
      return e.errors.map((x) => `${x.location?.row}:${x.code}: ${x.msg}`).join('\n');
    throw e;
  }
  return '';
}

describe('Rego v0 mode', () => {
  it('accepts v0 rule heads: p { }, deny[msg] { }, p = x { }, f(x) = y { }, else = x { }, default p = v', () => {
    const src = `package t
violation[{"msg": msg}] {
  c := input.containers[_]
  not startswith(c.image, "good/")
  msg := sprintf("bad image %v", [c.image])
}
deny[msg] { input.x == 1; msg = "one" }
allow = true { count(deny) == 0 } else = false { true }
default size = 0
size = count(input.containers)
double(x) = y { y := x * 2 }
has(s) { contains(s, "x") }
p { has("axb") }
q[k] = v { k := "a"; v := double(2) }
s["lit"] { true }
`;
    expect(v0(src, 'data.t', { containers: [{ image: 'bad/a' }, { image: 'good/b' }], x: 1 })).toEqual([
      {
        violation: [{ msg: 'bad image bad/a' }],
        deny: ['one'],
        allow: false,
        size: 2,
        p: true,
        q: { a: 4 },
        s: ['lit'],
      },
    ]);
  });

  it('treats if, contains, in and every as identifiers until imported', () => {
    expect(v0('package t\nin := 1\nevery := 2\nif_x := in + every', 'data.t.if_x')).toEqual([3]);
  });

  it('enables keywords per import: future.keywords.x, future.keywords, rego.v1', () => {
    expect(
      v0('package t\nimport future.keywords.in\nq { 1 in [1] }\np[x] { some x in [1, 2] }', 'data.t'),
    ).toEqual([{ q: true, p: [1, 2] }]);
    expect(
      v0(
        'package t\nimport future.keywords\np contains x if { some x in [1] }\nq if { every x in [1] { x > 0 } }',
        'data.t',
      ),
    ).toEqual([{ p: [1], q: true }]);
    expect(v0('package t\nimport rego.v1\np contains 1\nq if true', 'data.t')).toEqual([{ p: [1], q: true }]);
  });

  it('applies v1 rules once rego.v1 is imported', () => {
    expect(v0Error('package t\nimport rego.v1\np { true }')).toBe(
      '3:rego_parse_error: `if` keyword is required before rule body',
    );
  });

  it('reads a bare p[x] statement as a partial set', () => {
    expect(v0('package t\nu[1]\nu[2]', 'data.t.u')).toEqual([[1, 2]]);
  });

  it('v1 reports each v0 form at its rule, like OPA', () => {
    try {
      new Engine().addModule('t.rego', 'package t\n\np[x] {\n  x := 1\n}\nf(x) = y { y := x }');
      expect.fail('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(RegoErrors);
      expect((e as RegoErrors).errors.map((x) => `${x.location?.row}:${x.location?.col}: ${x.msg}`)).toEqual([
        '3:1: `if` keyword is required before rule body',
        '3:1: `contains` keyword is required for partial set rules',
        '6:1: `if` keyword is required before function body',
      ]);
    }
  });

  it('is not the default: v1 refuses the same module', () => {
    expect(() => new Engine().addModule('t.rego', 'package t\ndeny[msg] { msg := "x" }')).toThrow(
      /`if` keyword is required before rule body/,
    );
    expect(parseModule('t.rego', 'package t\nin := 1', { regoVersion: 0 }).rules).toHaveLength(1);
    expect(parseModule('t.rego', 'package t\np { true }', { regoVersion: 'v0' }).regoVersion).toBe('v0');
  });

  it('refuses unknown future keywords', () => {
    expect(v0Error('package t\nimport future.keywords.nope')).toMatch(
      /^2:rego_parse_error: unexpected keyword/,
    );
  });

  it('follows a bundle .manifest rego_version when loading a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rego-v0-'));
    try {
      writeFileSync(join(dir, '.manifest'), JSON.stringify({ rego_version: 0 }));
      writeFileSync(join(dir, 'a.rego'), 'package a\ndeny[msg] { msg := "x" }\n');
      expect(loadPaths([dir]).modules.map((m) => m.regoVersion)).toEqual(['v0']);
      expect(
        evalQuery({ dataPaths: [dir], query: 'data.a.deny' }).result?.[0]?.expressions[0]?.value,
      ).toEqual(['x']);
      writeFileSync(join(dir, '.manifest'), JSON.stringify({ rego_version: 2 }));
      expect(() => loadPaths([dir])).toThrow(/rego_version must be 0 or 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
