/**
 * Calls: `with` mocks of functions, builtins (comparisons run inline; builtin errors are undefined unless strict),
 * user functions (every definition must agree on the result), `print` and `walk`.
 */
import type { BuiltinDef } from './builtins/registry.js';
import { BuiltinError, checkArgs } from './builtins/registry.js';
import { RegoError } from './errors.js';
import type { Location } from './errors.js';
import type { CRule, CTerm, FnRef } from './ir.js';
import type { RuleNode } from './ir.js';
import { DocumentEvaluator } from './eval-documents.js';
import { walkValue } from './eval-values.js';
import { Halt } from './eval-state.js';
import type { Frame, VK } from './eval-state.js';
import { compare, equal, toRegoText } from './value.js';
import type { Value } from './value.js';

/** What a call produced when it is undefined (walk aside, calls produce at most one value). */
const UNDEF = Symbol('undefined');

/** The values of a call that produces several (walk). */
class MultiValues {
  constructor(readonly values: Value[]) {}
}

export abstract class CallEvaluator extends DocumentEvaluator {
  // --- calls -------------------------------------------------------------------------------------------------------

  protected evalCall(t: CTerm & { k: 'call' }, f: Frame, vk: VK): boolean {
    const fn = t.fn;
    const ov = this.ctx.fnOverrides?.get(fn.name);
    if (ov !== undefined) {
      if ('value' in ov) return this.evalList(t.args, f, () => vk(ov.value));
      // the mock runs with mocks disabled (a mock may call the original function)
      const mock = ov.fn;
      return this.evalList(t.args, f, (args) => {
        const outer = this.ctx;
        this.ctx = { ...outer, fnOverrides: undefined, cache: new Map() };
        let r: Value | typeof UNDEF | MultiValues;
        try {
          r = this.callFn(mock, args, t.loc);
        } finally {
          this.ctx = outer;
        }
        if (r === UNDEF) return false;
        if (r instanceof MultiValues) return r.values.some((v) => vk(v));
        return vk(r);
      });
    }
    switch (fn.kind) {
      case 'print':
        return this.evalPrint(t, f, vk);
      case 'walk':
        return this.evalList(t.args, f, (args) => walkValue(args[0]!, [], vk));
      case 'builtin': {
        const def = fn.def;
        const native = fn.native;
        if (native !== undefined) {
          const [a0, b0] = t.args as [CTerm, CTerm];
          const swap = a0.k === 'var' && b0.k !== 'var';
          const a = swap ? b0 : a0;
          const b = swap ? a0 : b0;
          return this.evalTerm(a, f, (x0) =>
            this.evalTerm(b, f, (y0) => {
              const x = swap ? y0 : x0;
              const y = swap ? x0 : y0;
              let r: boolean;
              switch (native) {
                case 'equal':
                  r = equal(x, y);
                  break;
                case 'neq':
                  r = !equal(x, y);
                  break;
                case 'lt':
                  r = compare(x, y) < 0;
                  break;
                case 'lte':
                  r = compare(x, y) <= 0;
                  break;
                case 'gt':
                  r = compare(x, y) > 0;
                  break;
                case 'gte':
                  r = compare(x, y) >= 0;
                  break;
              }
              return vk(r);
            }),
          );
        }
        return this.evalList(t.args, f, (args) => {
          const r = this.callBuiltin(def, fn.name, args, t.loc);
          return r === undefined ? false : vk(r);
        });
      }
      case 'user': {
        const node = fn.node;
        return this.evalList(t.args, f, (args) => {
          const r = this.callUser(node, args, t.loc);
          return r === undefined ? false : vk(r);
        });
      }
    }
  }

  /** Call a function with evaluated arguments (walk may produce several values). */
  protected callFn(fn: FnRef, args: Value[], loc: Location): Value | typeof UNDEF | MultiValues {
    switch (fn.kind) {
      case 'print':
        return true;
      case 'walk': {
        const out: Value[] = [];
        walkValue(args[0]!, [], (v) => {
          out.push(v);
          return false;
        });
        return new MultiValues(out);
      }
      case 'builtin':
        return this.callBuiltin(fn.def, fn.name, args, loc) ?? UNDEF;
      case 'user':
        return this.callUser(fn.node, args, loc) ?? UNDEF;
    }
  }

  callBuiltin(def: BuiltinDef, name: string, args: readonly Value[], loc: Location): Value | undefined {
    try {
      if (def.checkTypes !== false && args.length === def.args.length) checkArgs(def, args);
      this.name = name;
      return def.impl(args, this);
    } catch (e) {
      if (e instanceof Halt) throw e;
      if (e instanceof BuiltinError) {
        if (this.strict) this.fail(e.code, `${name}: ${e.message}`, loc);
        return undefined;
      }
      if (e instanceof RegoError) throw new Halt(e);
      if (this.strict)
        this.fail('eval_builtin_error', `${name}: ${e instanceof Error ? e.message : String(e)}`, loc);
      return undefined;
    }
  }

  protected callUser(node: RuleNode, args: Value[], loc: Location): Value | undefined {
    if (++this.depth > this.maxDepth) this.fail('eval_limit_error', 'maximum evaluation depth exceeded', loc);
    try {
      let result: Value | undefined;
      for (const r of node.funcs) {
        for (let cur: CRule | undefined = r; cur; cur = cur.else) {
          const rule = cur;
          const f: Frame = new Array<Value | undefined>(rule.nslots);
          let val: Value | undefined;
          const params = rule.args!;
          const step = (i: number): boolean => {
            if (i === params.length)
              return this.evalBody(rule.body, 0, f, () =>
                this.evalTerm(rule.value, f, (v) => {
                  if (val !== undefined && !equal(val, v))
                    this.fail(
                      'eval_conflict_error',
                      'functions must not produce multiple outputs for same inputs',
                      rule.loc,
                    );
                  val = v;
                  return false;
                }),
              );
            return this.unifyValue(params[i]!, args[i]!, f, () => step(i + 1));
          };
          step(0);
          if (val !== undefined) {
            if (result !== undefined && !equal(result, val))
              this.fail(
                'eval_conflict_error',
                'functions must not produce multiple outputs for same inputs',
                rule.loc,
              );
            result = val;
            this.record(rule);
            break;
          }
        }
      }
      if (result === undefined && node.defaultRule) {
        const d = node.defaultRule;
        const f: Frame = new Array<Value | undefined>(d.nslots);
        this.evalTerm(d.value, f, (v) => {
          result = v;
          return true;
        });
      }
      return result;
    } finally {
      this.depth--;
    }
  }

  protected evalPrint(t: CTerm & { k: 'call' }, f: Frame, vk: VK): boolean {
    const parts: string[] = [];
    for (const a of t.args) {
      const vals: Value[] = [];
      try {
        this.evalTerm(a, f, (v) => {
          vals.push(v);
          return false;
        });
      } catch (e) {
        if (!(e instanceof Halt)) throw e;
      }
      if (vals.length === 0) parts.push('<undefined>');
      else parts.push(vals.map((v) => (typeof v === 'string' ? v : toRegoText(v))).join(', '));
    }
    this.opts.printHook?.(parts.join(' '), t.loc);
    return vk(true);
  }
}
