import { Engine, RegoErrors, RegoError, values } from '../rego/index.js';
import type { PreparedQuery, ProvenanceEntry, Value } from '../rego/index.js';
import { policyErrors } from './errors.js';
import type { RegoBackend, RegoProgram, RegoResult, RegoSource } from './rego-layer.js';

/** The layers' view of src/rego: one Engine per layer, provenance turned into `file:line`. */
export class EngineBackend implements RegoBackend {
  compile(modules: readonly RegoSource[], data: Record<string, unknown>): RegoProgram {
    const engine = new Engine({ limits: { timeoutMs: 250 } });
    const sources = new Map(modules.map((m) => [m.file, m.text]));
    try {
      for (const m of modules) engine.addModule(m.file, m.text, { regoVersion: m.regoVersion });
      engine.setData(data);
      engine.compile();
    } catch (err) {
      throw regoError(err, sources);
    }
    return new EngineProgram(engine, sources);
  }
}

class EngineProgram implements RegoProgram {
  private readonly prepared = new Map<string, PreparedQuery>();
  /** A decision asks several rules about one request: its Rego value is built once (the request is not mutated). */
  private readonly inputs = new WeakMap<object, Value>();

  constructor(
    private readonly engine: Engine,
    private readonly sources: Map<string, string>,
  ) {}

  evaluate(ref: string, input?: unknown): RegoResult | undefined {
    const r = this.run(ref, this.value(input), true);
    if (!r.defined) return undefined;
    const at = where(r.provenance);
    return at === undefined ? { value: r.value } : { value: r.value, at };
  }

  evaluateSet(ref: string, input?: unknown): RegoResult[] {
    // The common case is an empty deny set: a prepared query first, provenance only when something fired.
    const v = this.value(input);
    if (!this.fired(ref, v)) return [];
    const r = this.run(ref, v, true);
    const at = where(r.provenance);
    return (r.value as unknown[]).map((value) => (at === undefined ? { value } : { value, at }));
  }

  private fired(ref: string, input: unknown): boolean {
    let q = this.prepared.get(ref);
    try {
      if (!q) {
        q = this.engine.prepare(`x := ${ref}`);
        this.prepared.set(ref, q);
      }
      const rs = q.evaluate(input);
      const v = rs[0]?.bindings['x'];
      return Array.isArray(v) ? v.length > 0 : v !== undefined;
    } catch (err) {
      throw regoError(err, this.sources);
    }
  }

  private value(input: unknown): unknown {
    if (typeof input !== 'object' || input === null) return input;
    let v = this.inputs.get(input);
    if (v === undefined) {
      v = values.fromJS(input);
      this.inputs.set(input, v);
    }
    return v;
  }

  private run(ref: string, input: unknown, provenance: boolean) {
    try {
      return this.engine.evalRule(ref, input, { provenance });
    } catch (err) {
      throw regoError(err, this.sources);
    }
  }
}

/** `org/egress.rego:12`, or several comma-separated when more than one rule body produced the value. */
function where(entries: readonly ProvenanceEntry[]): string | undefined {
  const seen = [...new Set(entries.map((e) => `${e.file}:${e.row}`))];
  return seen.length > 0 ? seen.join(', ') : undefined;
}

function regoError(err: unknown, sources: Map<string, string>) {
  const first = err instanceof RegoErrors ? err.errors[0] : err instanceof RegoError ? err : undefined;
  if (!first) return err;
  const text = err instanceof RegoErrors ? err.format(sources) : first.format(sources);
  return policyErrors.create('POLICY_REGO_ERROR', text, {
    regoCode: first.code,
    ...(first.location
      ? { file: first.location.file, line: first.location.row, col: first.location.col }
      : {}),
  });
}
