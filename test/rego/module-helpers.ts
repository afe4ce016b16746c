/** Helpers for tests that load a whole module `t.rego` (package t) and query it, or collect its compile errors. */
import { Engine, RegoErrors } from '../../src/rego/index.js';
import type { JSONValue } from '../../src/rego/value.js';

export function evalIn(src: string, query: string, input?: unknown): JSONValue[] {
  const e = new Engine();
  e.addModule('t.rego', src);
  return e
    .prepare(query)
    .evaluate(input)
    .map((r) => r.expressions[0]!.value);
}

/** The errors a module raises, as `row:col code: message`. */
export function errorsOf(src: string, query = 'data.t'): string[] {
  const e = new Engine();
  try {
    e.addModule('t.rego', src);
    e.prepare(query);
  } catch (err) {
    if (!(err instanceof RegoErrors)) throw err;
    return err.errors.map((x) => `${x.location?.row}:${x.location?.col} ${x.code}: ${x.msg}`);
  }
  return [];
}
