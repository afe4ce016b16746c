/** METADATA annotations and the rego.* builtins (rego.metadata.chain/rule, rego.parse_module). */
import { describe, expect, it } from 'vitest';
import { Engine, RegoErrors } from '../../src/rego/index.js';
import { parseModule } from '../../src/rego/parser.js';

const MOD = `# METADATA
# description: The suite
package t

# METADATA
# title: Doc title
# scope: document
# authors:
# - Jane Doe <jane@example.com>
# - name: Bob
# related_resources:
# - https://example.com
p := "x" if false

# METADATA
# title: Rule title
p := rego.metadata.chain() if true

r := rego.metadata.rule()
`;

describe('METADATA annotations', () => {
  it('attach to the next statement with OPA scopes', () => {
    const m = parseModule('t.rego', MOD);
    expect(m.annotations?.map((a) => [a.scope, a.rule])).toEqual([
      ['package', undefined],
      ['document', 0],
      ['rule', 1],
    ]);
  });

  it('rego.metadata.chain: rule, document, package in that order (OPA JSON form)', () => {
    const e = new Engine();
    e.addModule('t.rego', MOD);
    expect(e.evalRule('data.t.p').value).toEqual([
      { path: ['t', 'p'], annotations: { scope: 'rule', title: 'Rule title' } },
      {
        path: ['t', 'p'],
        annotations: {
          scope: 'document',
          title: 'Doc title',
          authors: [{ name: 'Jane Doe', email: 'jane@example.com' }, { name: 'Bob' }],
          related_resources: [{ ref: 'https://example.com' }],
        },
      },
      { path: ['t'], annotations: { scope: 'package', description: 'The suite' } },
    ]);
  });

  it('rego.metadata.rule: the rule scope only, {} when none', () => {
    const e = new Engine();
    e.addModule('t.rego', MOD);
    expect(e.evalRule('data.t.r').value).toEqual({});
  });

  it('package annotations apply across modules of the package; subpackages apply below', () => {
    const e = new Engine();
    e.addModule('a.rego', '# METADATA\n# scope: subpackages\n# title: root\npackage a');
    e.addModule('b.rego', 'package a.b\np := rego.metadata.chain()');
    expect(e.evalRule('data.a.b.p').value).toEqual([
      { path: ['a', 'b', 'p'] },
      { path: ['a'], annotations: { scope: 'subpackages', title: 'root' } },
    ]);
  });

  it('refuses a scope that does not fit its statement, with the block location', () => {
    try {
      parseModule('t.rego', 'package t\n\n# METADATA\n# scope: package\np := 1');
      expect.fail('no error');
    } catch (e) {
      expect(e).toMatchObject({
        code: 'rego_parse_error',
        msg: "annotation scope 'package' must be applied to package (have rule)",
        location: { row: 3, col: 1 },
      });
    }
  });
});

describe('rego.parse_module', () => {
  it('returns the module AST in OPA JSON form', () => {
    const e = new Engine();
    const rs = e
      .prepare('m := rego.parse_module("x.rego", "package foo.bar\\nimport data.a\\np if { a = true }")')
      .evaluate();
    const m = rs[0]!.bindings.m as { package: { path: { value: string }[] }; rules: unknown[] };
    expect(m.package.path.map((p) => p.value)).toEqual(['data', 'foo', 'bar']);
    expect(m.rules).toHaveLength(1);
  });

  it('fails with the parse error (strict builtin errors)', () => {
    const e = new Engine({ strictBuiltinErrors: true });
    expect(() => e.prepare('m := rego.parse_module("x.rego", "package foo.")').evaluate()).toThrow(
      /rego_parse_error: unexpected eof token: expected ident/,
    );
    expect(RegoErrors).toBeDefined();
  });
});
