/**
 * `opa test` as a function: find `test_*` rules, evaluate each, report like OPA's tester package.
 *
 * OPA semantics kept here (v1/tester/runner.go):
 * - a test passes only when its value is `true`; undefined or any other value fails; evaluation errors are errors;
 * - builtin errors are not strict (a failing builtin makes its expression undefined, the test then fails);
 * - `todo_test_*` rules are skipped; the test name is the rule's ground ref up to the `test_` segment
 *   (`p.q.test_r` works);
 * - several rules with the same test name in one package run separately: the 2nd one is `test_x#01`, and so on;
 * - partial-object tests (`test_x[case] if {...}`) report each case; a case whose body started (its key was bound)
 *   but did not produce `true` fails, as OPA finds through its injected `internal.test_case` call — here a probe
 *   rule with the body prefix that binds the case key;
 * - `run` filters on the full name (`data.pkg.test_x`) with an RE2 regular expression;
 * - a test is bounded by `timeoutMs` (default 5 s like `opa test --timeout`).
 * Coverage is rule-level (see coverage.ts): OPA traces each expression, this engine records the rules that
 * produced a value.
 */
import { performance } from 'node:perf_hooks';
import { RE2JS } from 're2js';
import type { Expr, Module, Rule, Term } from './ast.js';
import { coverageReport } from './coverage.js';
import type { CoverageReport, CoveredRules } from './coverage.js';
import { Engine } from './engine.js';
import { RegoError, RegoErrors } from './errors.js';
import type { LoadedPolicy } from './load.js';
import { errorsOf } from './opa-api.js';
import type { OpaErrorJson } from './opa-api.js';
import { parseModule } from './parser.js';
import type { RegoVersion } from './parser.js';
import { ObjectValue } from './value.js';
import type { Value } from './value.js';

export const TEST_PREFIX = 'test_';
export const SKIP_TEST_PREFIX = 'todo_test_';

export interface TestOptions {
  /** RE2 regular expression over the test's full name (`data.pkg.test_x`), like `opa test --run`. */
  run?: string;
  /** Per-test evaluation timeout (default 5000 ms, like `opa test --timeout 5s`). */
  timeoutMs?: number;
  /** Record which rules produced values, for `coverage` in the report. */
  coverage?: boolean;
  /** Parse modules as Rego v0 (`opa test --v0-compatible`). */
  v0Compatible?: boolean;
}

export interface SubResult {
  name: string;
  fail: boolean;
  /** Nested cases (`test_x[a][b]`), sorted by name. */
  subResults: SubResult[];
}

export interface TestResult {
  /** Package path, e.g. `data.authz_test`. */
  package: string;
  /** Rule ref up to the test segment, e.g. `test_allow` or `p.q.test_r`; duplicates get `#01`, `#02`. */
  name: string;
  location: { file: string; row: number; col: number };
  result: 'pass' | 'fail' | 'error' | 'skip';
  durationMs: number;
  error?: OpaErrorJson;
  /** `print()` output of the test, one line per call. */
  output?: string;
  /** Cases of a partial-object test, sorted by name. */
  subResults?: SubResult[];
}

export interface TestReport {
  results: TestResult[];
  coverage?: CoverageReport;
}

/** A module's text; `regoVersion` (a bundle manifest's `rego_version`) wins over the v0Compatible option. */
type Source = { name: string; source: string; regoVersion?: RegoVersion };

/** Parse every module, as v0 when asked. Throws RegoErrors with every parse error. */
export function parseModules(sources: readonly Source[], opts: { v0Compatible?: boolean } = {}): Module[] {
  const errors: RegoError[] = [];
  const out: Module[] = [];
  for (const s of sources) {
    try {
      out.push(parseAs(s, opts.v0Compatible === true));
    } catch (e) {
      if (e instanceof RegoErrors) errors.push(...e.errors);
      else if (e instanceof RegoError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length) throw new RegoErrors(errors);
  return out;
}

function parseAs(s: Source, v0: boolean): Module {
  return parseModule(s.name, s.source, { regoVersion: s.regoVersion ?? (v0 ? 'v0' : 'v1') });
}

interface TestCase {
  module: Module;
  rule: Rule;
  /** Ground ref segments from the rule name through the test segment. */
  ref: string[];
  /** `todo_test_*`: reported as skipped, not run. */
  skip: boolean;
  /** Partial-object test (`test_x[case] if ...`): each case is a sub-result. */
  partial: boolean;
  /** The probe rule's name (cases that started), when one could be built. */
  probe?: string;
}

/**
 * Run `test_*` rules like `opa test`. `policy` is what `loadPaths` returns, or module sources.
 * Throws RegoErrors when the policies do not parse or compile.
 */
export function runTestSuite(policy: LoadedPolicy | readonly Source[], opts: TestOptions = {}): TestReport {
  const loaded: LoadedPolicy = Array.isArray(policy)
    ? { modules: [...(policy as Source[])], data: new ObjectValue() }
    : (policy as LoadedPolicy);
  const filter = opts.run ? compileFilter(opts.run) : undefined;
  const modules = parseModules(loaded.modules, opts);
  const cases = discover(modules);
  const probed = addProbes(modules, cases);

  const printed: string[] = [];
  const build = (mods: Module[]): Engine => {
    const engine = new Engine({ printHook: (msg) => printed.push(msg) });
    for (const m of mods) engine.addParsedModule(m);
    engine.setData(loaded.data);
    engine.compile();
    return engine;
  };
  let engine: Engine;
  try {
    engine = build(probed);
  } catch (e) {
    // A probe the compiler refuses (its body prefix is not safe on its own): run without probes, as OPA would
    // still run the tests; failing cases that never produced a value are then not listed.
    if (!cases.some((c) => c.probe) || !(e instanceof RegoErrors)) throw e;
    for (const c of cases) delete c.probe;
    engine = build(modules);
  }

  const covered: CoveredRules = new Map();
  const results: TestResult[] = [];
  for (const c of cases) {
    const pkg = refText(['data', ...c.module.packagePath]);
    const name = refText(c.ref, true);
    if (filter && !filter.matcher(`${pkg}.${name}`).find()) continue;
    const location = { file: c.rule.loc.file, row: c.rule.loc.row, col: c.rule.loc.col };
    if (c.skip) {
      results.push({ package: pkg, name, location, result: 'skip', durationMs: 0 });
      continue;
    }
    printed.length = 0;
    const t0 = performance.now();
    const r: TestResult = { package: pkg, name, location, result: 'pass', durationMs: 0 };
    try {
      const ev = engine.evaluator(undefined, {
        strictBuiltinErrors: false,
        limits: { timeoutMs: opts.timeoutMs ?? 5000 },
        provenance: opts.coverage === true,
      });
      const value = ev.evalDataPath([...c.module.packagePath, ...c.ref]);
      if (ev.provenance)
        for (const [, entries] of ev.provenance) for (const p of entries) addCovered(covered, p);
      if (value === undefined) r.result = 'fail';
      else if (c.partial) {
        const started = c.probe
          ? engine
              .evaluator(undefined, { limits: { timeoutMs: opts.timeoutMs ?? 5000 } })
              .evalDataPath([...c.module.packagePath, c.probe])
          : undefined;
        const subs = subResults(value, started);
        r.subResults = subs.results;
        if (subs.fail) r.result = 'fail';
      } else if (value !== true) r.result = 'fail';
    } catch (e) {
      r.result = 'error';
      r.error = errorsOf(e)[0]!;
    }
    r.durationMs = performance.now() - t0;
    if (printed.length) r.output = printed.join('\n') + '\n';
    results.push(r);
  }
  const report: TestReport = { results };
  if (opts.coverage) report.coverage = coverageReport(modules, covered);
  return report;
}

/** Results only (see runTestSuite). */
export function runTests(policy: LoadedPolicy | readonly Source[], opts: TestOptions = {}): TestResult[] {
  return runTestSuite(policy, opts).results;
}

function compileFilter(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (e) {
    throw new RegoErrors([
      new RegoError('rego_parse_error', `--run: ${e instanceof Error ? e.message : String(e)}`),
    ]);
  }
}

function addCovered(covered: CoveredRules, p: { file: string; row: number; col: number }): void {
  let rows = covered.get(p.file);
  if (!rows) covered.set(p.file, (rows = new Set()));
  rows.add(`${p.row}:${p.col}`);
}

// --- discovery ------------------------------------------------------------------------------------------------------

/** Ground string segments of a rule head ref, up to the first non-ground term. */
function groundPrefix(ref: readonly Term[]): { segs: string[]; n: number } {
  const segs: string[] = [];
  for (const t of ref) {
    if (t.type === 'var' && segs.length === 0) segs.push(t.name);
    else if (t.type === 'scalar' && typeof t.value === 'string') segs.push(t.value);
    else break;
  }
  return { segs, n: segs.length };
}

/**
 * Test rules in module order, duplicates renamed like OPA's rewriteDuplicateTestNames (the count is kept per package
 * path + ref across all modules).
 */
function discover(modules: readonly Module[]): TestCase[] {
  const count = new Map<string, number>();
  const out: TestCase[] = [];
  for (const module of modules) {
    for (const rule of module.rules) {
      const { segs } = groundPrefix(rule.head.ref);
      const i = segs.findIndex((s) => s.startsWith(TEST_PREFIX) || s.startsWith(SKIP_TEST_PREFIX));
      if (i < 0 || rule.head.args !== undefined) continue;
      const ref = segs.slice(0, i + 1);
      const skip = ref[i]!.startsWith(SKIP_TEST_PREFIX);
      if (!skip) {
        const key = [...module.packagePath, ...ref].join('\u0000');
        const k = count.get(key);
        count.set(key, (k ?? 0) + 1);
        if (k !== undefined) {
          ref[i] = `${ref[i]}#${String(k).padStart(2, '0')}`;
          const head = rule.head.ref;
          head[i] =
            i === 0
              ? { type: 'var', name: ref[i], loc: head[i]!.loc }
              : ({ ...head[i]!, value: ref[i] } as Term);
        }
      }
      const tail = rule.head.ref.slice(i + 1);
      const partial = tail.length > 0 && rule.head.key === undefined && tail.some((t) => t.type !== 'scalar');
      out.push({ module, rule, ref, skip, partial });
    }
  }
  return out;
}

const PROBE_PREFIX = '__aibox_test_cases_';

/**
 * For each partial-object test, a probe rule `__aibox_test_cases_N[k...] := true if { prefix }` where `prefix` is the
 * test body up to the expression where the last case-key variable first appears (OPA injects its test-case call
 * at the same point). Returns new module objects; the originals are left as they are.
 */
function addProbes(modules: readonly Module[], cases: TestCase[]): Module[] {
  const extra = new Map<Module, Rule[]>();
  let n = 0;
  for (const c of cases) {
    if (!c.partial || c.skip) continue;
    const i = c.ref.length - 1;
    const tail = c.rule.head.ref.slice(i + 1);
    const vars = new Set<string>();
    for (const t of tail) walkVars(t, (v) => vars.add(v));
    let upto = 0;
    for (const v of vars) {
      const at = c.rule.body.findIndex((e) => {
        let hit = false;
        walkVars(e, (x) => (hit ||= x === v));
        return hit;
      });
      if (at < 0) {
        upto = -1;
        break;
      }
      upto = Math.max(upto, at + 1);
    }
    if (upto < 0) continue;
    const probe = `${PROBE_PREFIX}${n++}`;
    const loc = c.rule.loc;
    const body: Expr[] = c.rule.body.slice(0, upto);
    const rule: Rule = {
      default: false,
      head: {
        ref: [{ type: 'var', name: probe, loc }, ...tail],
        args: undefined,
        key: undefined,
        value: { type: 'scalar', value: true, loc },
        assign: true,
        loc,
      },
      body: body.length
        ? body
        : [{ kind: 'term', term: { type: 'scalar', value: true, loc }, negated: false, with: [], loc }],
      else: undefined,
      loc,
      hasBody: true,
    };
    c.probe = probe;
    let l = extra.get(c.module);
    if (!l) extra.set(c.module, (l = []));
    l.push(rule);
  }
  if (extra.size === 0) return [...modules];
  return modules.map((m) => (extra.has(m) ? { ...m, rules: [...m.rules, ...extra.get(m)!] } : m));
}

function walkVars(node: unknown, cb: (name: string) => void): void {
  if (Array.isArray(node)) {
    for (const x of node) walkVars(x, cb);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.type === 'scalar') return;
  if (o.type === 'var' && typeof o.name === 'string') {
    cb(o.name);
    return;
  }
  for (const [k, v] of Object.entries(o)) if (k !== 'loc') walkVars(v, cb);
}

// --- sub-results ----------------------------------------------------------------------------------------------------

/** A case key as OPA prints it: strings as they are, anything else as JSON. */
function caseName(k: Value): string {
  return typeof k === 'string'
    ? k
    : JSON.stringify(k, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

interface SubTree {
  fail: boolean;
  children: Map<string, SubTree>;
}

/** OPA's subResults: each value `true` passes; `false`, other values, and cases that started but gave none fail. */
function subResults(value: Value, started: Value | undefined): { fail: boolean; results: SubResult[] } {
  const root: SubTree = { fail: false, children: new Map() };
  const fill = (t: SubTree, v: Value): boolean => {
    let fail = false;
    if (v instanceof ObjectValue)
      for (const [k, x] of v.entries()) {
        const child: SubTree = { fail: false, children: new Map() };
        if (x instanceof ObjectValue) child.fail = fill(child, x);
        else child.fail = x !== true;
        t.children.set(caseName(k), child);
        fail ||= child.fail;
      }
    return fail;
  };
  let fail = value instanceof ObjectValue ? fill(root, value) : false;
  const mark = (t: SubTree, v: Value): boolean => {
    let f = false;
    if (!(v instanceof ObjectValue)) return f;
    for (const [k, x] of v.entries()) {
      const name = caseName(k);
      let child = t.children.get(name);
      if (!child) {
        child = { fail: true, children: new Map() };
        t.children.set(name, child);
        f = true;
        if (x instanceof ObjectValue) mark(child, x);
        continue;
      }
      if (x instanceof ObjectValue && x.size > 0) {
        if (mark(child, x)) child.fail = f = true;
      } else if (child.fail) f = true;
    }
    return f;
  };
  if (started !== undefined && mark(root, started)) fail = true;
  const out = (t: SubTree): SubResult[] =>
    [...t.children.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, c]) => ({ name, fail: c.fail, subResults: out(c) }));
  return { fail, results: out(root) };
}

// --- names ----------------------------------------------------------------------------------------------------------

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A ref as OPA prints it: `data.a.b`, `data.a["b-c"]`; `first` keeps the first segment bare (a rule name). */
function refText(segs: readonly string[], firstBare = false): string {
  return segs
    .map((s, i) =>
      i === 0 && (firstBare || IDENT.test(s))
        ? s
        : IDENT.test(s) || (firstBare && /#\d+$/.test(s) && IDENT.test(s.replace(/#\d+$/, '')))
          ? `.${s}`
          : `[${JSON.stringify(s)}]`,
    )
    .join('');
}

export type { CoverageReport } from './coverage.js';
