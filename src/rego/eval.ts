/**
 * Top-down evaluator with backtracking, in continuation-passing style. Each evaluation step calls its continuation
 * once per solution; a continuation returns `true` to stop the search (used by negation, `every`, constant rules).
 * Variables live in frames (arrays indexed by slot); bindings are undone when the continuation returns.
 *
 * Layers, each a file and a class extending the one before: state, limits and errors (eval-state.ts); bodies,
 * expressions, unification and terms (eval-terms.ts); references, documents and rules (eval-documents.ts); calls
 * (eval-calls.ts); and here the entry points.
 */
import { CallEvaluator } from './eval-calls.js';
import { NO_LOC, translate } from './eval-state.js';
import type { Frame } from './eval-state.js';
import type { CExpr, CTerm } from './ir.js';
import type { Value } from './value.js';

export type { EvalLimits, EvalOptions, ProvenanceEntry } from './eval-state.js';

export class Evaluator extends CallEvaluator {
  /** Run a compiled body; `onSolution` is called for each solution with the frame. Errors are thrown. */
  run(body: CExpr[], nslots: number, onSolution: (f: Frame) => boolean | void): void {
    const f: Frame = new Array<Value | undefined>(nslots);
    try {
      this.evalBody(body, 0, f, () => onSolution(f) === true);
    } catch (e) {
      throw translate(e);
    }
  }

  evalTermAll(t: CTerm, nslots: number): Value[] {
    const out: Value[] = [];
    const f: Frame = new Array<Value | undefined>(nslots);
    try {
      this.evalTerm(t, f, (v) => {
        out.push(v);
        return false;
      });
    } catch (e) {
      throw translate(e);
    }
    return out;
  }

  /** Value of the document at a data path (rules evaluated), or undefined. */
  evalDataPath(path: readonly string[]): Value | undefined {
    let out: Value | undefined;
    const terms: CTerm[] = path.map((s) => ({ k: 'const', v: s, loc: NO_LOC, needs: [] }));
    try {
      this.evalData(this.root, this.ctx.base, terms, 0, [], (v) => {
        out = v;
        return true;
      });
    } catch (e) {
      throw translate(e);
    }
    return out;
  }
}
