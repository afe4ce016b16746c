/**
 * Random small Rego modules for the differential fuzzer (scripts/rego-fuzz.ts). Every rule name of module `k` starts
 * with `fz<k>_` so that many modules can share one package on the oracle's side. The syntax is the common subset of
 * OPA 0.47 with `future.keywords` (the oracle) and this engine: rules always use `if`, partial sets `contains`,
 * partial objects `p[k] := v`; builtins are those OPA 0.47 has.
 *
 * Expressions are generated for a wanted type most of the time (so most modules compile and compute something),
 * and of any type sometimes (so type errors, undefined results and conversions get exercised too).
 */

export type Rand = () => number;

/** Deterministic PRNG (mulberry32): a seed reproduces a module. */
export function rng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ty = 'num' | 'str' | 'bool' | 'arr' | 'set' | 'obj' | 'any';

export interface GenModule {
  /** Rule definitions (no package line), one module's worth. */
  rules: string;
  /** Names of the rules worth querying (complete, partial set and partial object documents). */
  queries: string[];
}

interface Ctx {
  r: Rand;
  prefix: string;
  /** Rules already defined, by type, that later rules may reference. */
  defined: { name: string; ty: Ty }[];
  /** Functions already defined: name, arity, result type. */
  fns: { name: string; arity: number; ty: Ty; argTys: Ty[] }[];
  /** Local variables in scope with their types. */
  vars: { name: string; ty: Ty }[];
  depth: number;
  nextVar: number;
}

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number): boolean => r() < p;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const STRINGS = [
  '"a"',
  '"b"',
  '""',
  '"ab"',
  '"a.b"',
  '"A"',
  '"x-y"',
  '"10"',
  '"1.5"',
  '"true"',
  '" a "',
  '"é"',
];
const NUMBERS = ['0', '1', '2', '3', '-1', '10', '0.5', '1.5', '-2.5', '100', '1e3', '7'];

function literal(c: Ctx, ty: Ty): string {
  const r = c.r;
  switch (ty) {
    case 'num':
      return pick(r, NUMBERS);
    case 'str':
      return pick(r, STRINGS);
    case 'bool':
      return pick(r, ['true', 'false']);
    case 'arr':
      return `[${Array.from({ length: int(r, 0, 3) }, () => literal(c, pick(r, ['num', 'str', 'num']))).join(', ')}]`;
    case 'set': {
      const n = int(r, 0, 3);
      return n === 0
        ? 'set()'
        : `{${Array.from({ length: n }, () => literal(c, pick(r, ['num', 'str']))).join(', ')}}`;
    }
    case 'obj': {
      const n = int(r, 0, 3);
      const keys = [...new Set(Array.from({ length: n }, () => pick(r, ['"a"', '"b"', '"c"', '"d"'])))];
      return `{${keys.map((k) => `${k}: ${literal(c, pick(r, ['num', 'str', 'bool']))}`).join(', ')}}`;
    }
    case 'any':
      return literal(c, pick(r, ['num', 'str', 'bool', 'arr', 'set', 'obj']));
  }
}

function varOf(c: Ctx, ty: Ty): string | undefined {
  const vs = c.vars.filter((v) => ty === 'any' || v.ty === ty || v.ty === 'any');
  return vs.length ? pick(c.r, vs).name : undefined;
}

function ruleOf(c: Ctx, ty: Ty): string | undefined {
  const rs = c.defined.filter((d) => ty === 'any' || d.ty === ty);
  return rs.length ? pick(c.r, rs).name : undefined;
}

/** An expression of (usually) type `ty`. */
function expr(c: Ctx, ty: Ty): string {
  const r = c.r;
  if (ty !== 'any' && chance(r, 0.03)) ty = 'any'; // sometimes the wrong type on purpose
  if (c.depth > 2 || chance(r, 0.35)) {
    const v = chance(r, 0.6) ? varOf(c, ty) : undefined;
    if (v) return v;
    const d = chance(r, 0.4) ? ruleOf(c, ty) : undefined;
    if (d) return d;
    return literal(c, ty);
  }
  c.depth++;
  try {
    return compound(c, ty);
  } finally {
    c.depth--;
  }
}

function compound(c: Ctx, ty: Ty): string {
  const r = c.r;
  const e = (t: Ty) => expr(c, t);
  switch (ty) {
    case 'num':
      return pick(r, [
        () => `${e('num')} ${pick(r, ['+', '-', '*'])} ${e('num')}`,
        () => `${e('num')} / ${e('num')}`,
        () => `${e('num')} % ${e('num')}`,
        () => `count(${e(pick(r, ['arr', 'set', 'obj', 'str']))})`,
        () => `sum(${collOf(c, 'num')})`,
        () => `max(${collOf(c, pick(r, ['num', 'num', 'str']))})`,
        () => `min(${collOf(c, 'num')})`,
        () => `abs(${e('num')})`,
        () => `round(${e('num')})`,
        () => `ceil(${e('num')})`,
        () => `floor(${e('num')})`,
        () => `to_number(${e(pick(r, ['str', 'num', 'bool']))})`,
        () => `indexof(${e('str')}, ${e('str')})`,
        () => `product(${collOf(c, 'num')})`,
        () =>
          `-${pick(
            r,
            NUMBERS.filter((n) => !n.startsWith('-')),
          )}`,
        () => (c.fns.some((f) => f.ty === 'num') ? call(c, 'num') : e('num')),
        () => `object.get(${e('obj')}, ${e('str')}, ${e('num')})`,
        () => `${e('arr')}[${int(r, 0, 2)}]`,
      ])();
    case 'str':
      return pick(r, [
        () => `concat(${e('str')}, ${collOf(c, 'str')})`,
        () => `upper(${e('str')})`,
        () => `lower(${e('str')})`,
        () => `trim(${e('str')}, ${e('str')})`,
        () => `trim_space(${e('str')})`,
        () => `substring(${e('str')}, ${int(r, -1, 3)}, ${int(r, -1, 3)})`,
        () => `replace(${e('str')}, ${e('str')}, ${e('str')})`,
        () => `sprintf("%v-%v", [${e('any')}, ${e('any')}])`,
        () => `sprintf("%d", [${e('num')}])`,
        () => `format_int(${e('num')}, ${pick(r, ['2', '10', '16'])})`,
        () => `json.marshal(${e('any')})`,
        () => `type_name(${e('any')})`,
        () => `strings.reverse(${e('str')})`,
        () => `trim_prefix(${e('str')}, ${e('str')})`,
        () => `${e('arr')}[${int(r, 0, 2)}]`,
        () => `object.get(${e('obj')}, ${e('str')}, "dflt")`,
        () => (c.fns.some((f) => f.ty === 'str') ? call(c, 'str') : e('str')),
      ])();
    case 'bool':
      return pick(r, [
        () => `${e('num')} ${pick(r, ['<', '<=', '>', '>=', '==', '!='])} ${e('num')}`,
        () => `${e('any')} ${pick(r, ['==', '!=', '<', '>'])} ${e('any')}`,
        () => `startswith(${e('str')}, ${e('str')})`,
        () => `endswith(${e('str')}, ${e('str')})`,
        () => `contains(${e('str')}, ${e('str')})`,
        () => `regex.match(${pick(r, ['"^a"', '"b\\\\z"', '"[0-9]+"', '"a|b"', '"^\\\\z"'])}, ${e('str')})`,
        () =>
          `glob.match(${pick(r, ['"a*"', '"*.b"', '"a?"', '"[ab]*"', '"*"'])}, [${pick(r, ['"."', ''])}], ${e('str')})`,
        () => `is_number(${e('any')})`,
        () => `is_string(${e('any')})`,
        () => `is_array(${e('any')})`,
        () => `is_set(${e('any')})`,
        () => `${e('num')} in ${collOf(c, 'num')}`,
        () => `${e('str')} in ${collOf(c, 'str')}`,
        () => `all([${e('bool')}, ${e('bool')}])`,
        () => `any([${e('bool')}])`,
        () => `semver.is_valid(${e('str')})`,
      ])();
    case 'arr':
      return pick(r, [
        () => `[${e('any')}, ${e('any')}]`,
        () => `array.concat(${e('arr')}, ${e('arr')})`,
        () => `array.slice(${e('arr')}, ${int(r, -1, 2)}, ${int(r, 0, 3)})`,
        () => `array.reverse(${e('arr')})`,
        () => `sort(${collOf(c, pick(r, ['num', 'str']))})`,
        () => `split(${e('str')}, ${pick(r, ['"."', '""', '"a"', '"-"'])})`,
        () => `numbers.range(${int(r, -2, 3)}, ${int(r, -2, 4)})`,
        () => comprehension(c, 'arr'),
      ])();
    case 'set':
      return pick(r, [
        () => `${e('set')} ${pick(r, ['|', '&', '-'])} ${e('set')}`,
        () => `union({${e('set')}, ${e('set')}})`,
        () => `intersection({${e('set')}, ${e('set')}})`,
        () => comprehension(c, 'set'),
        () => `{x | some x in ${collOf(c, pick(r, ['num', 'str']))}}`,
        () => ruleOf(c, 'set') ?? literal(c, 'set'),
      ])();
    case 'obj':
      return pick(r, [
        () => `{${e('str')}: ${e('any')}}`,
        () => `object.union(${e('obj')}, ${e('obj')})`,
        () => `object.remove(${e('obj')}, ${e(pick(r, ['arr', 'set']))})`,
        () => `object.filter(${e('obj')}, ${e(pick(r, ['arr', 'set']))})`,
        () => `json.unmarshal(${pick(r, ['"{\\"a\\": 1}"', '"{}"', '"[1]"', '"1"', '"{bad"'])})`,
        () => comprehension(c, 'obj'),
      ])();
    case 'any':
      return expr(c, pick(r, ['num', 'str', 'bool', 'arr', 'set', 'obj']));
  }
}

/** A collection whose elements all have type `elem` (so the bound variable has a known type, as OPA infers). */
function collOf(c: Ctx, elem: 'num' | 'str'): string {
  const r = c.r;
  if (elem === 'num')
    return pick(r, [
      () => `numbers.range(${int(r, -2, 2)}, ${int(r, -1, 4)})`,
      () => `[${Array.from({ length: int(r, 0, 3) }, () => literal(c, 'num')).join(', ')}]`,
      () => `{${Array.from({ length: int(r, 1, 3) }, () => literal(c, 'num')).join(', ')}}`,
    ])();
  return pick(r, [
    () => `split(${expr(c, 'str')}, ${pick(r, ['"."', '""', '"a"'])})`,
    () => `[${Array.from({ length: int(r, 0, 3) }, () => literal(c, 'str')).join(', ')}]`,
    () => `{${Array.from({ length: int(r, 1, 3) }, () => literal(c, 'str')).join(', ')}}`,
  ])();
}

/** An object of unknown type to the checker (so a missing key is undefined at run time, not a type error). */
function opaqueObj(c: Ctx): string {
  return pick(c.r, [
    'json.unmarshal("{\\"a\\": \\"ab\\", \\"b\\": 1}")',
    'json.unmarshal("{}")',
    'object.union({}, json.unmarshal("{\\"a\\": \\"x\\"}"))',
  ]);
}

function fresh(c: Ctx): string {
  return `v${c.nextVar++}`;
}

function comprehension(c: Ctx, kind: 'arr' | 'set' | 'obj'): string {
  const r = c.r;
  const elem = pick(r, ['num', 'str'] as const);
  const coll = collOf(c, elem);
  const x = fresh(c);
  const saved = c.vars;
  c.vars = [...c.vars, { name: x, ty: elem }];
  const cond = chance(r, 0.6) ? `; ${expr(c, 'bool')}` : '';
  let out: string;
  if (kind === 'obj') {
    const k = fresh(c);
    c.vars = [...c.vars, { name: k, ty: 'num' }];
    out = `{${k}: ${x} | some ${k}, ${x} in ${chance(r, 0.5) ? coll : `[${literal(c, elem)}, ${literal(c, elem)}]`}${cond}}`;
  } else {
    const head = chance(r, 0.5) ? x : expr(c, pick(r, ['num', 'str']));
    out =
      kind === 'arr' ? `[${head} | some ${x} in ${coll}${cond}]` : `{${head} | some ${x} in ${coll}${cond}}`;
  }
  c.vars = saved;
  return out;
}

function call(c: Ctx, ty: Ty): string {
  const fs = c.fns.filter((f) => f.ty === ty);
  const f = pick(c.r, fs);
  return `${f.name}(${f.argTys.map((t) => expr(c, t)).join(', ')})`;
}

/** A rule body: 1-4 statements; binds variables as it goes. */
function body(c: Ctx): string[] {
  const r = c.r;
  const out: string[] = [];
  const n = int(r, 1, 4);
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.3) {
      const ty = pick(r, ['num', 'str', 'arr', 'set', 'obj', 'bool'] as const);
      const x = fresh(c);
      out.push(`${x} := ${expr(c, ty)}`);
      c.vars.push({ name: x, ty });
    } else if (kind < 0.45) {
      const x = fresh(c);
      const elem = pick(r, ['num', 'str'] as const);
      out.push(`some ${x} in ${collOf(c, elem)}`);
      c.vars.push({ name: x, ty: elem });
    } else if (kind < 0.55) {
      out.push(`not ${expr(c, 'bool')}`);
    } else if (kind < 0.62) {
      // `not` around a call on a possibly undefined argument (issue 12 item 1's shape)
      out.push(
        `not ${pick(r, ['startswith', 'endswith', 'contains'])}(${opaqueObj(c)}.${pick(r, ['a', 'b', 'z'])}, ${expr(c, 'str')})`,
      );
    } else if (kind < 0.68) {
      const x = fresh(c);
      const elem = pick(r, ['num', 'str'] as const);
      const saved = c.vars;
      c.vars = [...c.vars, { name: x, ty: elem }];
      let cond = expr(c, 'bool');
      // OPA 0.47 refuses an `every` whose variable the body does not use
      if (!new RegExp(`\\b${x}\\b`).test(cond)) cond = `${x} == ${x}; ${cond}`;
      c.vars = saved;
      out.push(`every ${x} in ${collOf(c, elem)} { ${cond} }`);
    } else if (kind < 0.74) {
      const x = fresh(c);
      out.push(`${x} := ${opaqueObj(c)}[${pick(r, ['"a"', '"b"', '"z"'])}]`);
      c.vars.push({ name: x, ty: 'any' });
    } else out.push(expr(c, 'bool'));
  }
  return out;
}

function ruleText(head: string, stmts: string[]): string {
  return stmts.length ? `${head} if {\n\t${stmts.join('\n\t')}\n}` : head;
}

/** One module: 2-6 rules, each referencing earlier ones sometimes. */
export function genModule(r: Rand, k: number): GenModule {
  const c: Ctx = { r, prefix: `fz${k}_`, defined: [], fns: [], vars: [], depth: 0, nextVar: 0 };
  const rules: string[] = [];
  const queries: string[] = [];
  const n = int(r, 2, 6);
  for (let i = 0; i < n; i++) {
    c.vars = [];
    const name = `${c.prefix}${String.fromCharCode(97 + i)}`;
    const kind = r();
    if (kind < 0.4) {
      const ty = pick(r, ['num', 'str', 'bool', 'arr', 'set', 'obj'] as const);
      const stmts = chance(r, 0.7) ? body(c) : [];
      const value = expr(c, ty);
      if (chance(r, 0.25)) rules.push(`default ${name} := ${literal(c, ty)}`);
      let text = ruleText(`${name} := ${value}`, stmts);
      // `else` needs a body on the rule before it (OPA refuses `p := 1 else := 2 if {...}`): rarely test that
      if ((stmts.length > 0 && chance(r, 0.15)) || chance(r, 0.01)) {
        c.vars = [];
        const stmts2 = body(c);
        text += ` else := ${expr(c, ty)} if {\n\t${stmts2.join('\n\t')}\n}`;
      }
      rules.push(text);
      if (chance(r, 0.15)) {
        // a second definition: either the same value (fine) or a conflict (eval_conflict_error)
        c.vars = [];
        rules.push(ruleText(`${name} := ${chance(r, 0.5) ? value : expr(c, ty)}`, body(c)));
      }
      c.defined.push({ name, ty });
      queries.push(name);
    } else if (kind < 0.6) {
      const stmts = body(c);
      rules.push(ruleText(`${name} contains ${expr(c, pick(r, ['num', 'str', 'any']))}`, stmts));
      if (chance(r, 0.3)) {
        c.vars = [];
        rules.push(ruleText(`${name} contains ${expr(c, 'any')}`, body(c)));
      }
      c.defined.push({ name, ty: 'set' });
      queries.push(name);
    } else if (kind < 0.75) {
      const stmts = body(c);
      const key = c.vars.length && chance(r, 0.7) ? pick(r, c.vars).name : expr(c, 'str');
      rules.push(ruleText(`${name}[${key}] := ${expr(c, pick(r, ['num', 'str', 'bool']))}`, stmts));
      c.defined.push({ name, ty: 'obj' });
      queries.push(name);
    } else if (kind < 0.9) {
      const arity = int(r, 1, 2);
      const args = Array.from({ length: arity }, (_, j) => `a${j}`);
      const argTys = args.map(() => pick(r, ['num', 'str'] as const));
      const params = (): { name: string; ty: Ty }[] => args.map((a, j) => ({ name: a, ty: argTys[j]! }));
      c.vars = params();
      const ty = pick(r, ['num', 'str', 'bool'] as const);
      const stmts = chance(r, 0.6) ? body(c) : [];
      rules.push(ruleText(`${name}(${args.join(', ')}) := ${expr(c, ty)}`, stmts));
      if (chance(r, 0.3)) {
        c.vars = params();
        rules.push(ruleText(`${name}(${args.join(', ')}) := ${expr(c, ty)}`, body(c)));
      }
      c.fns.push({ name, arity, ty, argTys });
      // query the function through a rule that calls it
      c.vars = [];
      const q = `${name}_q`;
      rules.push(`${q} := ${name}(${argTys.map((t) => literal(c, t)).join(', ')})`);
      queries.push(q);
    } else {
      const stmts = body(c);
      rules.push(ruleText(`${name}`, stmts.length ? stmts : ['true']));
      c.defined.push({ name, ty: 'bool' });
      queries.push(name);
    }
  }
  return { rules: rules.join('\n'), queries };
}
