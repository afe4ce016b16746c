/**
 * Builtins about Rego itself: `rego.metadata.chain()`, `rego.metadata.rule()` (inside a rule the compiler replaces
 * them with constants from the METADATA annotations, like OPA's RewriteRegoMetadataCalls; elsewhere they are empty),
 * and `rego.parse_module(filename, source)`, which returns the module's AST in OPA's JSON form.
 */
import type { Expr, Import, Module, Rule, Term, With } from '../ast.js';
import { RegoError, RegoErrors } from '../errors.js';
import { parseModule } from '../parser.js';
import { ObjectValue, fromJS } from '../value.js';
import { BuiltinError } from './registry.js';
import type { BuiltinRegistry } from './registry.js';

export function register(r: BuiltinRegistry): void {
  r.register({ name: 'rego.metadata.chain', args: [], result: 'array', impl: () => [] });
  r.register({ name: 'rego.metadata.rule', args: [], result: 'object', impl: () => new ObjectValue() });
  r.register({
    name: 'rego.parse_module',
    args: ['string', 'string'],
    result: 'object',
    impl: (a) => {
      let m: Module;
      try {
        m = parseModule(a[0] as string, a[1] as string);
      } catch (e) {
        const err = e instanceof RegoErrors ? e.errors[0] : e;
        if (err instanceof RegoError) throw new BuiltinError(`${err.code}: ${err.msg}`);
        throw e;
      }
      return fromJS(moduleJSON(m));
    },
  });
}

type J = unknown;

/** OPA's JSON form of a module (ast.Module marshalled without locations). */
export function moduleJSON(m: Module): J {
  const out: Record<string, J> = {
    package: {
      path: [{ type: 'var', value: 'data' }, ...m.packagePath.map((s) => ({ type: 'string', value: s }))],
    },
  };
  if (m.imports.length) out.imports = m.imports.map(importJSON);
  if (m.rules.length) out.rules = m.rules.map(ruleJSON);
  if (m.annotations?.length) out.annotations = m.annotations.map((a) => Object.fromEntries(a.fields));
  return out;
}

function importJSON(i: Import): J {
  const o: Record<string, J> = { path: refJSON(i.path) };
  if (i.alias) o.alias = i.alias;
  return o;
}

function refJSON(t: Term): J {
  return t.type === 'ref' ? termJSON(t) : { type: 'ref', value: [termJSON(t)] };
}

function ruleJSON(r: Rule): J {
  const head: Record<string, J> = {};
  const ref = r.head.ref;
  if (ref.length === 1 && ref[0]!.type === 'var') head.name = ref[0].name;
  head.ref = ref.map((t, i) => (i === 0 ? termJSON(t) : termJSON(t)));
  if (r.head.args) head.args = r.head.args.map(termJSON);
  if (r.head.key) head.key = termJSON(r.head.key);
  head.value = termJSON(r.head.value ?? { type: 'scalar', value: true, loc: r.head.loc });
  if (r.head.assign) head.assign = true;
  const o: Record<string, J> = { head };
  if (r.default) o.default = true;
  o.body = r.body.length ? r.body.map(exprJSON) : [{ index: 0, terms: { type: 'boolean', value: true } }];
  if (r.else) o.else = ruleJSON(r.else);
  return o;
}

function opTerm(name: string): J {
  const parts = name.split('.');
  return {
    type: 'ref',
    value: parts.map((p, i) => (i === 0 ? { type: 'var', value: p } : { type: 'string', value: p })),
  };
}

function exprJSON(e: Expr, index: number): J {
  const o: Record<string, J> = { index };
  switch (e.kind) {
    case 'term':
      o.terms =
        e.term.type === 'call' ? [termJSON(e.term.op), ...e.term.args.map(termJSON)] : termJSON(e.term);
      break;
    case 'unify':
      o.terms = [opTerm(e.assign ? 'assign' : 'eq'), termJSON(e.a), termJSON(e.b)];
      break;
    case 'some':
      o.terms = { symbols: e.vars.map(termJSON) };
      break;
    case 'somein':
      o.terms = {
        symbols: [
          {
            type: 'call',
            value: e.key
              ? [opTerm('internal.member_3'), termJSON(e.key), termJSON(e.value), termJSON(e.coll)]
              : [opTerm('internal.member_2'), termJSON(e.value), termJSON(e.coll)],
          },
        ],
      };
      break;
    case 'every': {
      const ev: Record<string, J> = { value: termJSON(e.value), domain: termJSON(e.domain) };
      if (e.key) ev.key = termJSON(e.key);
      ev.body = e.body.map(exprJSON);
      o.terms = ev;
      break;
    }
  }
  if (e.negated) o.negated = true;
  if (e.with.length)
    o.with = e.with.map((w: With) => ({ target: refJSON(w.target), value: termJSON(w.value) }));
  return o;
}

function termJSON(t: Term): J {
  switch (t.type) {
    case 'scalar': {
      const v = t.value;
      if (v === null) return { type: 'null' };
      if (typeof v === 'string') return { type: 'string', value: v };
      if (typeof v === 'boolean') return { type: 'boolean', value: v };
      return { type: 'number', value: v };
    }
    case 'var':
      return { type: 'var', value: t.name };
    case 'ref':
      return { type: 'ref', value: t.terms.map(termJSON) };
    case 'array':
      return { type: 'array', value: t.items.map(termJSON) };
    case 'set':
      return { type: 'set', value: t.items.map(termJSON) };
    case 'object':
      return { type: 'object', value: t.items.map(([k, v]) => [termJSON(k), termJSON(v)]) };
    case 'call':
      return { type: 'call', value: [termJSON(t.op), ...t.args.map(termJSON)] };
    case 'arraycomp':
      return { type: 'arraycomprehension', value: { term: termJSON(t.term), body: t.body.map(exprJSON) } };
    case 'setcomp':
      return { type: 'setcomprehension', value: { term: termJSON(t.term), body: t.body.map(exprJSON) } };
    case 'objcomp':
      return {
        type: 'objectcomprehension',
        value: { key: termJSON(t.key), value: termJSON(t.value), body: t.body.map(exprJSON) },
      };
    case 'template':
      return {
        type: 'templatestring',
        value: t.parts.map((p) => (typeof p === 'string' ? { type: 'string', value: p } : termJSON(p))),
      };
  }
}
