/** Public engine API: modules + data -> prepared queries. */
import type { Module, Term } from './ast.js';
import { defaultRegistry } from './builtins/index.js';
import type { BuiltinRegistry } from './builtins/registry.js';
import { CompileErrors, Compiler } from './compile.js';
import type { CompiledModules } from './compile.js';
import { RegoError, RegoErrors } from './errors.js';
import type { Location } from './errors.js';
import { Evaluator } from './eval.js';
import type { EvalLimits, EvalOptions, ProvenanceEntry } from './eval.js';
import type { CExpr } from './ir.js';
import { parseModule, parseQuery, parseTerm } from './parser.js';
import type { RegoVersion } from './parser.js';
import { ObjectValue, fromJS, toJS } from './value.js';
import type { JSONValue, Value } from './value.js';

export interface EngineOptions {
  /** Builtins (default: all families). */
  registry?: BuiltinRegistry;
  /** Abort a query on builtin errors instead of treating them as undefined (opa --strict-builtin-errors). */
  strictBuiltinErrors?: boolean;
  /** Evaluation limits applied to every query (default: 1 s, depth 1000). */
  limits?: EvalLimits;
  /** Receives `print(...)` output. */
  printHook?: (message: string, loc: Location) => void;
  /**
   * Language version modules are parsed as (default `v1`). `v0` is OPA's `--v0-compatible`: `if`, `contains`, `in`
   * and `every` are keywords only after `import future.keywords...` or `import rego.v1`, `p { }` and
   * `deny[msg] { }` heads are accepted.
   */
  regoVersion?: RegoVersion;
}

export interface EvalCallOptions {
  strictBuiltinErrors?: boolean;
  limits?: EvalLimits;
  /** Record the rules that produced values (see RuleEvaluation.provenance). */
  provenance?: boolean;
  /** Fixed clock (ns since epoch) for time.now_ns. */
  nowNs?: bigint;
}

export interface Result {
  expressions: { value: JSONValue; text: string; location: { row: number; col: number } }[];
  bindings: Record<string, JSONValue>;
}
export type ResultSet = Result[];

/** Results with exact Rego values (sets stay sets, big numbers stay exact). */
export interface RawResult {
  expressions: Value[];
  bindings: Map<string, Value>;
}

export interface RuleEvaluation {
  defined: boolean;
  value: JSONValue | undefined;
  raw: Value | undefined;
  /** Rules (file:row:col) whose bodies produced the value, by rule path. Only with `provenance: true`. */
  provenance: ProvenanceEntry[];
}

const DEFAULT_LIMITS: Required<EvalLimits> = { timeoutMs: 1000, maxDepth: 1000 };

export class Engine {
  private readonly modules = new Map<string, Module>();
  private data: Value = new ObjectValue();
  private compiled: { compiler: Compiler; mods: CompiledModules } | undefined;
  readonly registry: BuiltinRegistry;
  private readonly sharedCache = new Map<string, unknown>();

  constructor(readonly options: EngineOptions = {}) {
    this.registry = options.registry ?? defaultRegistry();
  }

  /** Parse and add (or replace) a module. Throws RegoErrors (rego_parse_error) on syntax errors. */
  addModule(name: string, source: string, opts: { regoVersion?: RegoVersion } = {}): void {
    let m: Module;
    try {
      m = parseModule(name, source, { regoVersion: opts.regoVersion ?? this.options.regoVersion });
    } catch (e) {
      if (e instanceof RegoError) throw new RegoErrors([e]);
      throw e;
    }
    this.addParsedModule(m);
  }

  /** Add (or replace) an already parsed module, e.g. one a test runner rewrote (renamed duplicate tests). */
  addParsedModule(module: Module): void {
    this.modules.set(module.file, module);
    this.compiled = undefined;
    this.defaultEvalOptions = undefined;
  }

  removeModule(name: string): void {
    this.modules.delete(name);
    this.compiled = undefined;
  }

  moduleNames(): string[] {
    return [...this.modules.keys()];
  }

  /** Source text of added modules, for printing errors with a caret line. */
  sources(): Map<string, string> {
    return new Map([...this.modules].map(([k, m]) => [k, m.source]));
  }

  /** Set the base document (`data`). Accepts plain JSON-like JS (bigint for exact integers) or a Value. */
  setData(json: unknown): void {
    this.data = json instanceof ObjectValue ? json : fromJS(json);
    if (!(this.data instanceof ObjectValue)) throw new TypeError('data must be an object');
  }

  getData(): Value {
    return this.data;
  }

  /** Compile all modules (done lazily by prepare). Throws RegoErrors. */
  compile(): void {
    if (this.compiled) return;
    const compiler = new Compiler(this.registry);
    try {
      const mods = compiler.compileModules([...this.modules.values()]);
      this.compiled = { compiler, mods };
    } catch (e) {
      if (e instanceof CompileErrors) throw new RegoErrors(e.errors);
      throw e;
    }
  }

  /** Compile a query once; evaluate it many times. */
  prepare(query: string, opts: { package?: string[] } = {}): PreparedQuery {
    this.compile();
    const c = this.compiled!;
    let exprs;
    try {
      exprs = parseQuery(query);
    } catch (e) {
      if (e instanceof RegoError) throw new RegoErrors([e]);
      throw e;
    }
    try {
      const q = c.compiler.compileQuery(exprs, opts.package ?? [], new Map<string, Term[]>());
      return new PreparedQuery(this, c.mods, q.body, q.nslots, q.vars);
    } catch (e) {
      if (e instanceof CompileErrors) throw new RegoErrors(e.errors);
      throw e;
    }
  }

  /** Evaluate the document at `path` (e.g. `data.aibox.egress.decision`), optionally recording provenance. */
  evalRule(path: string, input?: unknown, opts: EvalCallOptions = {}): RuleEvaluation {
    this.compile();
    const parts = path.split('.');
    if (parts[0] === 'data') parts.shift();
    const ev = this.evaluator(input === undefined ? undefined : toValue(input), opts);
    const raw = ev.evalDataPath(parts);
    const provenance: ProvenanceEntry[] = [];
    if (ev.provenance) {
      const key = parts.join('.');
      for (const [p, entries] of ev.provenance)
        if (p === key || p.startsWith(key + '.')) provenance.push(...entries);
    }
    return { defined: raw !== undefined, value: raw === undefined ? undefined : toJS(raw), raw, provenance };
  }

  /** @internal */
  evaluator(input: Value | undefined, opts: EvalCallOptions): Evaluator {
    this.compile();
    if (
      opts.limits === undefined &&
      opts.provenance === undefined &&
      opts.nowNs === undefined &&
      opts.strictBuiltinErrors === undefined
    ) {
      this.defaultEvalOptions ??= this.makeEvalOptions(opts);
      return new Evaluator(this.compiled!.mods.root, this.data, input, this.defaultEvalOptions);
    }
    return new Evaluator(this.compiled!.mods.root, this.data, input, this.makeEvalOptions(opts));
  }

  private defaultEvalOptions: EvalOptions | undefined;

  private makeEvalOptions(opts: EvalCallOptions): EvalOptions {
    const limits = { ...DEFAULT_LIMITS, ...this.options.limits, ...opts.limits };
    return {
      strictBuiltinErrors: opts.strictBuiltinErrors ?? this.options.strictBuiltinErrors ?? false,
      printHook: this.options.printHook,
      provenance: opts.provenance,
      sharedCache: this.sharedCache,
      nowNs: opts.nowNs,
      timeoutMs: limits.timeoutMs,
      maxDepth: limits.maxDepth,
    };
  }

  /** Parse a Rego term (e.g. opa's `input_term`) into a value. */
  parseValue(text: string): Value {
    this.compile();
    const t = parseTerm(text);
    const ct = this.compiled!.compiler.compileTermStandalone(t);
    const ev = this.evaluator(undefined, {});
    const vals = ev.evalTermAll(ct, 64);
    if (vals.length !== 1) throw new RegoError('rego_parse_error', 'term is not a single value');
    return vals[0]!;
  }
}

function toValue(input: unknown): Value {
  return fromJS(input);
}

export class PreparedQuery {
  constructor(
    private readonly engine: Engine,
    private readonly mods: CompiledModules,
    private readonly body: CExpr[],
    private readonly nslots: number,
    private readonly vars: Map<string, number>,
  ) {
    this.order = body.filter((e) => !e.gen).sort((a, b) => a.idx - b.idx);
    this.nexprs = this.order.length;
  }

  /** Number of reported (source) expressions. */
  private readonly nexprs: number;

  private readonly order: CExpr[];

  /** Evaluate with exact values. */
  evaluateValues(input?: Value, opts: EvalCallOptions = {}): RawResult[] {
    const ev = this.engine.evaluator(input, opts);
    const out: RawResult[] = [];
    const n = this.nexprs;
    ev.run(this.body, this.nslots, (f) => {
      const bindings = new Map<string, Value>();
      for (const [name, slot] of this.vars) {
        const v = f[slot];
        if (v !== undefined) bindings.set(name, v);
      }
      const expressions = new Array<Value>(n);
      for (let i = 0; i < n; i++) expressions[i] = ev.exprValues[i] ?? true;
      out.push({ expressions, bindings });
    });
    return out;
  }

  /** Evaluate and return an OPA-shaped result set (JSON-compatible values). */
  evaluate(input?: unknown, opts: EvalCallOptions = {}): ResultSet {
    const raw = this.evaluateValues(input === undefined ? undefined : toValue(input), opts);
    const order = this.order;
    return raw.map((r) => {
      const bindings: Record<string, JSONValue> = {};
      for (const [k, v] of r.bindings) bindings[k] = toJS(v);
      return {
        expressions: order.map((e) => ({
          value: toJS(r.expressions[e.idx]!),
          text: e.text,
          location: { row: e.loc.row, col: e.loc.col },
        })),
        bindings,
      };
    });
  }

  /** Text and location of each query expression, in source order. */
  expressionInfo(): { text: string; location: { row: number; col: number } }[] {
    return this.order.map((e) => ({ text: e.text, location: { row: e.loc.row, col: e.loc.col } }));
  }

  /** Fast path: is the first expression's value `true` for at least one solution? (e.g. `data.x.allow`) */
  decide(input?: unknown): boolean {
    const ev = this.engine.evaluator(input === undefined ? undefined : toValue(input), {});
    let yes = false;
    ev.run(this.body, this.nslots, () => {
      yes = ev.exprValues[0] === true;
      return true;
    });
    return yes;
  }

  /** The compiled modules this query runs against. @internal */
  get compiled(): CompiledModules {
    return this.mods;
  }
}
