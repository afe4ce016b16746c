/**
 * `opa eval` as a function: load policy and data, evaluate a query, answer in opa eval's JSON shape (exact numbers
 * with evalQueryJSON). `aibox policy eval` prints these; `opa test`'s counterpart is tester.ts.
 */
import { Engine } from './engine.js';
import { RegoError, RegoErrors } from './errors.js';
import { loadPaths } from './load.js';
import type { LoadedPolicy } from './load.js';
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
  /** Parse modules as Rego v0 (`opa eval --v0-compatible`). */
  v0Compatible?: boolean;
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

export function errorsOf(e: unknown): OpaErrorJson[] {
  if (e instanceof RegoErrors) return e.errors.map((x) => x.toJSON());
  if (e instanceof RegoError) return [e.toJSON()];
  return [{ code: 'internal_error', message: e instanceof Error ? e.message : String(e) }];
}

function buildEngine(
  loaded: LoadedPolicy,
  extra: readonly { name: string; source: string; regoVersion?: 'v0' | 'v1' }[],
  strict: boolean,
  v0 = false,
): Engine {
  const engine = new Engine({ strictBuiltinErrors: strict, regoVersion: v0 ? 'v0' : 'v1' });
  const parseErrors: RegoError[] = [];
  for (const m of [...loaded.modules, ...extra]) {
    try {
      engine.addModule(m.name, m.source, m.regoVersion ? { regoVersion: m.regoVersion } : {});
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
  const engine = buildEngine(
    loaded,
    opts.modules ?? [],
    opts.strictBuiltinErrors ?? false,
    opts.v0Compatible === true,
  );
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
