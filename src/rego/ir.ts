/** Compiled (intermediate) representation evaluated by `eval.ts`. Produced by `compile.ts`. */
import type { BuiltinDef } from './builtins/registry.js';
import type { Location } from './errors.js';
import type { Value } from './value.js';

interface Base {
  loc: Location;
  /** Slots that must be bound to evaluate this term to a value (vars in ref paths excluded: they enumerate). */
  needs: number[];
}

export type CTerm =
  | (Base & { k: 'const'; v: Value })
  | (Base & { k: 'var'; slot: number; name: string })
  | (Base & { k: 'input' })
  | (Base & { k: 'data' })
  | (Base & {
      k: 'ref';
      head: CTerm;
      path: CTerm[];
      /** data refs: the rule-tree node reached by the constant prefix path[0..i) (resolved at compile time). */
      start?: { node: RuleNode; i: number; basePath: string[] };
    })
  | (Base & { k: 'array'; items: CTerm[] })
  | (Base & { k: 'object'; items: [CTerm, CTerm][] })
  | (Base & { k: 'set'; items: CTerm[] })
  | (Base & { k: 'call'; fn: FnRef; args: CTerm[] })
  | (Base & { k: 'arraycomp'; term: CTerm; body: CExpr[]; unwrap?: boolean })
  | (Base & { k: 'setcomp'; term: CTerm; body: CExpr[] })
  | (Base & { k: 'objcomp'; key: CTerm; value: CTerm; body: CExpr[] })
  | (Base & { k: 'template'; parts: (string | CTerm)[] });

export type FnRef =
  | { kind: 'builtin'; name: string; def: BuiltinDef; native?: 'equal' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' }
  | { kind: 'user'; name: string; node: RuleNode }
  | { kind: 'print'; name: 'print' }
  | { kind: 'walk'; name: 'walk' };

export interface CWith {
  target: { kind: 'input'; path: string[] } | { kind: 'data'; path: string[] } | { kind: 'fn'; key: string };
  value: CTerm;
  /** For function targets: the replacement when the value names a function. */
  fn?: FnRef;
  loc: Location;
}

interface ExprBase {
  neg: boolean;
  withs: CWith[] | undefined;
  loc: Location;
  /** Index of the expression in its (original, pre-reordering) body. */
  idx: number;
  text: string;
  /** Top-level expression of a query (its value is reported). */
  q?: boolean;
}

export type CExpr =
  | (ExprBase & { k: 'term'; t: CTerm })
  | (ExprBase & { k: 'unify'; a: CTerm; b: CTerm })
  | (ExprBase & { k: 'somein'; key: CTerm | undefined; val: CTerm; coll: CTerm })
  | (ExprBase & { k: 'every'; key: CTerm | undefined; val: CTerm; domain: CTerm; body: CExpr[] })
  | (ExprBase & { k: 'nop' });

export type RuleKind = 'complete' | 'multi' | 'dyn' | 'func';

export interface CRule {
  kind: RuleKind;
  node: RuleNode;
  /** dyn rules: key terms below the node path. */
  keyPath: CTerm[];
  /** multi rules: the `contains` term. */
  key: CTerm | undefined;
  value: CTerm;
  /** Value when it does not depend on the body. */
  constValue: Value | undefined;
  args: CTerm[] | undefined;
  body: CExpr[];
  nslots: number;
  else: CRule | undefined;
  isDefault: boolean;
  loc: Location;
}

export class RuleNode {
  readonly children = new Map<string, RuleNode>();
  complete: CRule[] = [];
  multi: CRule[] = [];
  dyn: CRule[] = [];
  funcs: CRule[] = [];
  defaultRule: CRule | undefined;
  /** Value of a node defined by one constant rule with no body (`roles := [...]`): no evaluation needed. */
  constant: Value | undefined;
  /** Number of function arguments (if funcs). */
  arity = -1;
  constructor(
    readonly path: readonly string[],
    readonly parent: RuleNode | undefined,
  ) {}

  child(name: string): RuleNode {
    let c = this.children.get(name);
    if (!c) {
      c = new RuleNode([...this.path, name], this);
      this.children.set(name, c);
    }
    return c;
  }

  get hasRules(): boolean {
    return (
      this.complete.length > 0 ||
      this.multi.length > 0 ||
      this.dyn.length > 0 ||
      this.funcs.length > 0 ||
      this.defaultRule !== undefined
    );
  }

  /** True when this node or any descendant has rules. */
  get hasRulesBelow(): boolean {
    if (this.hasRules) return true;
    for (const c of this.children.values()) if (c.hasRulesBelow) return true;
    return false;
  }
}
