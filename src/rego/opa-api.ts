/**
 * What `aibox policy eval` and `aibox policy test` need, with `opa eval` / `opa test` semantics and output shapes.
 */
import { performance } from 'node:perf_hooks';
import { Engine } from './engine.js';
import { RegoError, RegoErrors } from './errors.js';
import { loadPaths } from './load.js';
import type { LoadedPolicy } from './load.js';
import { parseModule } from './parser.js';
import { ObjectValue, fromJS, toJS, toJSONText } from './value.js';
import type { JSONValue, Value } from './value.js';

export interface EvalQueryOptions {
  /** `-d` paths: .rego, .json, .yaml files and directories. */
  dataPaths?: readonly string[];
  /** Extra modules given as text. */
  modules?: readonly { name: string; source: string }[];
  /** The input document (already parsed; bigint for exact integers). */
  input?: unknown;
  query: string;
  strictBuiltinErrors?: boolean;
}

export interface OpaErrorJson {
  code: string;
  message: string;
  location?: { file: string; row: number; col: number };
}

export interface EvalQueryOutput {
  result?: {
    expressions: { value: JSONValue; text: string; location: { row: number; col: number } }[];
    bindings?: Record<string, JSONValue>;
  }[];
  errors?: OpaErrorJson[];
}

function errorsOf(e: unknown): OpaErrorJson[] {
  if (e instanceof RegoErrors) return e.errors.map((x) => x.toJSON());
  if (e instanceof RegoError) return [e.toJSON()];
  return [{ code: 'internal_error', message: e instanceof Error ? e.message : String(e) }];
}

function buildEngine(
  loaded: LoadedPolicy,
  extra: readonly { name: string; source: string }[],
  strict: boolean,
): Engine {
  const engine = new Engine({ strictBuiltinErrors: strict });
  const parseErrors: RegoError[] = [];
  for (const m of [...loaded.modules, ...extra]) {
    try {
      engine.addModule(m.name, m.source);
    } catch (e) {
      if (e instanceof RegoErrors) parseErrors.push(...e.errors);
      else throw e;
    }
  }
  if (parseErrors.length) throw new RegoErrors(parseErrors);
  engine.setData(loaded.data);
  return engine;
}

interface RawEval {
  rows: {
    expressions: { value: Value; text: string; location: { row: number; col: number } }[];
    bindings: Map<string, Value>;
  }[];
}

function evalRaw(opts: EvalQueryOptions): RawEval {
  const loaded = opts.dataPaths?.length
    ? loadPaths(opts.dataPaths)
    : { modules: [], data: new ObjectValue() };
  const engine = buildEngine(loaded, opts.modules ?? [], opts.strictBuiltinErrors ?? false);
  const q = engine.prepare(opts.query);
  const input = opts.input === undefined ? undefined : fromJS(opts.input);
  const info = q.expressionInfo();
  const raw = q.evaluateValues(input);
  return {
    rows: raw.map((r) => ({
      expressions: info.map((e, j) => ({
        value: r.expressions[j] ?? true,
        text: e.text,
        location: e.location,
      })),
      bindings: r.bindings,
    })),
  };
}

/** Evaluate like `opa eval --format json`: `{"result":[...]}`, `{}` when undefined, `{"errors":[...]}` on error. */
export function evalQuery(opts: EvalQueryOptions): EvalQueryOutput {
  try {
    const { rows } = evalRaw(opts);
    if (rows.length === 0) return {};
    return {
      result: rows.map((r) => {
        const row: NonNullable<EvalQueryOutput['result']>[number] = {
          expressions: r.expressions.map((e) => ({
            value: toJS(e.value),
            text: e.text,
            location: e.location,
          })),
        };
        if (r.bindings.size) row.bindings = Object.fromEntries([...r.bindings].map(([k, v]) => [k, toJS(v)]));
        return row;
      }),
    };
  } catch (e) {
    return { errors: errorsOf(e) };
  }
}

/** Same as evalQuery, as JSON text with exact numbers (big integers and long decimals keep every digit). */
export function evalQueryJSON(opts: EvalQueryOptions, indent = 2): string {
  try {
    const { rows } = evalRaw(opts);
    if (rows.length === 0) return '{}';
    const res = new ObjectValue();
    res.set(
      'result',
      rows.map((r) => {
        const o = new ObjectValue();
        o.set(
          'expressions',
          r.expressions.map((e) =>
            ObjectValue.fromRecord({
              value: e.value,
              text: e.text,
              location: ObjectValue.fromRecord({ row: e.location.row, col: e.location.col }),
            }),
          ),
        );
        if (r.bindings.size) o.set('bindings', ObjectValue.fromEntries([...r.bindings]));
        return o;
      }),
    );
    return toJSONText(res, indent);
  } catch (e) {
    return JSON.stringify({ errors: errorsOf(e) }, null, indent);
  }
}

export interface TestResult {
  /** Package path, e.g. `data.authz_test`. */
  package: string;
  name: string;
  location: { file: string; row: number; col: number };
  result: 'pass' | 'fail' | 'error';
  durationMs: number;
  error?: OpaErrorJson;
}

/**
 * Run `test_*` rules like `opa test`: a test passes when its value is defined and not false. Rules named `todo_test_*`
 * are ignored. `modules` may be loaded from disk with `loadPaths`.
 */
export function runTests(policy: LoadedPolicy | readonly { name: string; source: string }[]): TestResult[] {
  const loaded: LoadedPolicy = Array.isArray(policy)
    ? { modules: [...(policy as { name: string; source: string }[])], data: new ObjectValue() }
    : (policy as LoadedPolicy);
  const engine = buildEngine(loaded, [], false);
  engine.compile();
  const out: TestResult[] = [];
  const seen = new Set<string>();
  for (const m of loaded.modules) {
    const mod = parseModule(m.name, m.source);
    for (const r of mod.rules) {
      const h = r.head.ref[0];
      if (
        !h ||
        h.type !== 'var' ||
        !h.name.startsWith('test_') ||
        r.head.args !== undefined ||
        r.head.ref.length > 1
      )
        continue;
      const path = ['data', ...mod.packagePath, h.name].join('.');
      if (seen.has(path)) continue;
      seen.add(path);
      const t0 = performance.now();
      const base = {
        package: ['data', ...mod.packagePath].join('.'),
        name: h.name,
        location: { file: m.name, row: r.loc.row, col: r.loc.col },
      };
      try {
        const res = engine.evalRule(path, undefined, { strictBuiltinErrors: true });
        const ok = res.defined && res.raw !== false;
        out.push({ ...base, result: ok ? 'pass' : 'fail', durationMs: performance.now() - t0 });
      } catch (e) {
        out.push({ ...base, result: 'error', durationMs: performance.now() - t0, error: errorsOf(e)[0]! });
      }
    }
  }
  return out;
}
