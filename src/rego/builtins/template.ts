/**
 * A small subset of Go's text/template for `strings.render_template`: text, `{{.a.b}}`, variables (`$`, `$x`,
 * `$x.f`), literals, `if`/`else if`/`else`, `range` (with `$i, $v :=`), `with`, `$x := pipeline`, and the `{{-`/`-}}`
 * trim markers. A missing key renders as `<undefined>` like OPA. Function calls and pipes are not supported: they
 * fail with an eval_builtin_error rather than render something different from OPA.
 */
import type { Value, ObjectValue } from '../value.js';
import { formatNumber, isArray, isNumber, isObject, isSet } from '../value.js';
import { BuiltinError } from './registry.js';

type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; expr: string }
  | { t: 'decl'; name: string; expr: string }
  | { t: 'if'; branches: { cond: string; body: Node[] }[]; otherwise: Node[] }
  | { t: 'with'; expr: string; body: Node[]; otherwise: Node[] }
  | { t: 'range'; vars: string[]; expr: string; body: Node[]; otherwise: Node[] };

const MISSING = Symbol('missing');
type Datum = Value | typeof MISSING;

function fail(msg: string): never {
  throw new BuiltinError(`template: ${msg}`);
}

function tokenize(src: string): { text: string[]; actions: string[] } {
  const text: string[] = [];
  const actions: string[] = [];
  let i = 0;
  let pendingTrim = false;
  for (;;) {
    const j = src.indexOf('{{', i);
    let chunk = j < 0 ? src.slice(i) : src.slice(i, j);
    if (pendingTrim) chunk = chunk.replace(/^\s+/, '');
    if (j < 0) {
      text.push(chunk);
      break;
    }
    let k = j + 2;
    if (src.startsWith('- ', k) || src.startsWith('-\t', k) || src.startsWith('-\n', k)) {
      chunk = chunk.replace(/\s+$/, '');
      k += 1;
    }
    text.push(chunk);
    const end = src.indexOf('}}', k);
    if (end < 0) fail('unclosed action');
    let body = src.slice(k, end);
    pendingTrim = false;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      pendingTrim = true;
    }
    actions.push(body.trim());
    i = end + 2;
  }
  return { text, actions };
}

function parse(src: string): Node[] {
  const { text, actions } = tokenize(src);
  let pos = 0;
  // Returns the nodes up to a terminating keyword (end / else ...) and that keyword.
  const parseList = (): { nodes: Node[]; stop: string | undefined } => {
    const nodes: Node[] = [];
    for (;;) {
      if (text[pos]) nodes.push({ t: 'text', s: text[pos]! });
      if (pos >= actions.length) return { nodes, stop: undefined };
      const a = actions[pos++]!;
      if (a.startsWith('/*')) continue;
      if (a === 'end' || a === 'else' || a.startsWith('else ')) return { nodes, stop: a };
      const kw = /^(if|range|with)\s+(.*)$/s.exec(a);
      if (kw) {
        nodes.push(parseBlock(kw[1]!, kw[2]!.trim()));
        continue;
      }
      const decl = /^(\$\w*)\s*:?=\s*(.*)$/s.exec(a);
      if (decl) {
        nodes.push({ t: 'decl', name: decl[1]!, expr: decl[2]!.trim() });
        continue;
      }
      nodes.push({ t: 'out', expr: a });
    }
  };
  const parseBlock = (kind: string, head: string): Node => {
    const first = parseList();
    if (kind === 'if') {
      const branches = [{ cond: head, body: first.nodes }];
      let stop = first.stop;
      let otherwise: Node[] = [];
      while (stop !== undefined && stop.startsWith('else if ')) {
        const next = parseList();
        branches.push({ cond: stop.slice(8).trim(), body: next.nodes });
        stop = next.stop;
      }
      if (stop === 'else') {
        const next = parseList();
        otherwise = next.nodes;
        stop = next.stop;
      }
      if (stop !== 'end') fail('unexpected EOF');
      return { t: 'if', branches, otherwise };
    }
    let otherwise: Node[] = [];
    let stop = first.stop;
    if (stop === 'else') {
      const next = parseList();
      otherwise = next.nodes;
      stop = next.stop;
    }
    if (stop !== 'end') fail('unexpected EOF');
    if (kind === 'with') return { t: 'with', expr: head, body: first.nodes, otherwise };
    const m = /^((?:\$\w*\s*,\s*)?\$\w*)\s*:?=\s*(.*)$/s.exec(head);
    const vars = m ? m[1]!.split(',').map((v) => v.trim()) : [];
    return { t: 'range', vars, expr: m ? m[2]!.trim() : head, body: first.nodes, otherwise };
  };
  const { nodes, stop } = parseList();
  if (stop !== undefined) fail(`unexpected {{${stop}}}`);
  return nodes;
}

function field(v: Datum, name: string): Datum {
  if (v === MISSING) return MISSING;
  if (isObject(v)) return v.get(name) ?? MISSING;
  fail(`can't evaluate field ${name}`);
}

function evalExpr(expr: string, dot: Datum, vars: Map<string, Datum>): Datum {
  const e = expr.trim();
  if (e.startsWith('(') && e.endsWith(')')) return evalExpr(e.slice(1, -1), dot, vars);
  if (e === 'true') return true;
  if (e === 'false') return false;
  if (e === 'nil') return null;
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (/^"(?:[^"\\]|\\.)*"$/.test(e)) return JSON.parse(e) as string;
  if (/^`[^`]*`$/.test(e)) return e.slice(1, -1);
  const m = /^(\$\w*|\.)((?:\.\w+)*)$/.exec(e) ?? /^()((?:\.\w+)+)$/.exec(e);
  if (!m) fail(`unsupported expression ${JSON.stringify(e)}`);
  let cur: Datum;
  if (m[1] === '' || m[1] === '.') cur = dot;
  else {
    if (!vars.has(m[1]!)) fail(`undefined variable "${m[1]}"`);
    cur = vars.get(m[1]!)!;
  }
  for (const f of m[2]!.split('.').filter(Boolean)) cur = field(cur, f);
  return cur;
}

function truthy(v: Datum): boolean {
  if (v === MISSING || v === null || v === false) return false;
  if (v === 0 || v === '') return false;
  if (isArray(v)) return v.length > 0;
  if (isObject(v) || isSet(v)) return v.size > 0;
  return true;
}

/** Go's fmt %v of the value Go would hold after ast.JSON. */
function print(v: Datum): string {
  if (v === MISSING) return '<undefined>';
  if (v === null) return '<nil>';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v;
  if (isNumber(v)) return formatNumber(v);
  if (isArray(v)) return '[' + v.map(print).join(' ') + ']';
  if (isSet(v)) return '[' + v.values().map(print).join(' ') + ']';
  return (
    'map[' +
    v
      .entries()
      .map(([k, x]) => `${print(k)}:${print(x)}`)
      .join(' ') +
    ']'
  );
}

function exec(nodes: readonly Node[], dot: Datum, vars: Map<string, Datum>, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'out':
        out.push(print(evalExpr(n.expr, dot, vars)));
        break;
      case 'decl':
        vars.set(n.name, evalExpr(n.expr, dot, vars));
        break;
      case 'if': {
        const b = n.branches.find((br) => truthy(evalExpr(br.cond, dot, vars)));
        exec(b ? b.body : n.otherwise, dot, new Map(vars), out);
        break;
      }
      case 'with': {
        const v = evalExpr(n.expr, dot, vars);
        if (truthy(v)) exec(n.body, v, new Map(vars), out);
        else exec(n.otherwise, dot, new Map(vars), out);
        break;
      }
      case 'range': {
        const d = evalExpr(n.expr, dot, vars);
        const v: Value = d === MISSING ? null : d;
        let items: [Value, Value][] = [];
        if (isArray(v)) items = v.map((x, i) => [i, x]);
        else if (isSet(v)) items = v.values().map((x, i) => [i, x]);
        else if (isObject(v)) items = v.entries().map(([k, x]) => [k, x]);
        else if (v !== null) fail(`range can't iterate over ${print(v)}`);
        if (items.length === 0) {
          exec(n.otherwise, dot, new Map(vars), out);
          break;
        }
        for (const [k, x] of items) {
          const scope = new Map(vars);
          if (n.vars.length === 1) scope.set(n.vars[0]!, x);
          if (n.vars.length === 2) {
            scope.set(n.vars[0]!, k);
            scope.set(n.vars[1]!, x);
          }
          exec(n.body, x, scope, out);
        }
        break;
      }
    }
  }
}

export function renderTemplate(src: string, data: ObjectValue): string {
  const nodes = parse(src);
  const out: string[] = [];
  exec(nodes, data, new Map<string, Datum>([['$', data]]), out);
  return out.join('');
}
