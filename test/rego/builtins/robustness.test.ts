import { describe, expect, it } from 'vitest';
import { BuiltinError, defaultRegistry, values as V } from '../../../src/rego/index.js';
import { checkArgs } from '../../../src/rego/builtins/index.js';
import type { BuiltinContext, Value } from '../../../src/rego/index.js';

/** Awkward operands: wrong types, empty values, huge numbers, syntax fragments of the builtins' mini-languages. */
const SAMPLES: Value[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e300,
  V.fromJS(2n ** 70n),
  '',
  'a',
  '*.x{a,b}[',
  '10.0.0.0/8',
  '::ffff:1.2.3.4',
  '2006-01-02',
  '{{.a}}',
  '%d %s %',
  '[',
  'eyJ.a.b',
  '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
  V.fromJS([]),
  V.fromJS(['a', 1]),
  V.fromJS({}),
  V.fromJS({ a: 'b', c: [1] }),
  V.SetValue.of(['x', 1]),
  V.SetValue.of([]),
];

// Operators belong to the language core.
const CORE = new Set(['plus', 'minus', 'mul', 'div', 'rem', 'internal.member_2', 'internal.member_3']);

describe('every builtin family', () => {
  it('fails only with builtin errors (never an internal error) on awkward operands', () => {
    const registry = defaultRegistry();
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const ctx: BuiltinContext = {
      name: '',
      strict: true,
      nowNs: 1_700_000_000_000_000_000n,
      cache: new Map(),
      sharedCache: new Map(),
      random: rnd,
    };
    const failures: string[] = [];
    for (const name of registry.names()) {
      if (CORE.has(name)) continue;
      const def = registry.get(name)!;
      const n = def.args.length;
      const calls: Value[][] =
        n === 0
          ? [[]]
          : Array.from({ length: 150 }, () =>
              Array.from({ length: n }, () => SAMPLES[Math.floor(rnd() * SAMPLES.length)]!),
            );
      for (const args of calls) {
        try {
          // As the engine does: declared operand types are checked before the implementation runs.
          if (def.checkTypes !== false) checkArgs(def, args);
          def.impl(args, { ...ctx, name });
        } catch (e) {
          if (!(e instanceof BuiltinError))
            failures.push(`${name}(${args.map((a) => V.toRegoText(a)).join(', ')}): ${String(e)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
