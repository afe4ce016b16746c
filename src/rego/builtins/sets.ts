/** Set builtins: intersection and union over a set of sets. */
import type { BuiltinRegistry } from './registry.js';
import { SetValue, isSet } from '../value.js';
import { elementError } from './operands.js';

function members(s: SetValue): SetValue[] {
  const out: SetValue[] = [];
  for (const x of s.values()) {
    if (!isSet(x)) throw elementError(1, s, x, 'set');
    out.push(x);
  }
  return out;
}

export function register(r: BuiltinRegistry): void {
  // Deprecated in OPA (use `a - b`), still accepted there.
  r.register({
    name: 'set_diff',
    args: ['set', 'set'],
    result: 'set',
    impl: (a) => {
      const out = new SetValue();
      for (const v of (a[0] as SetValue).values()) if (!(a[1] as SetValue).has(v)) out.add(v);
      return out;
    },
  });
  r.register({
    name: 'intersection',
    args: ['set'],
    result: 'set',
    impl: (a) => {
      const sets = members(a[0] as SetValue);
      if (sets.length === 0) return SetValue.EMPTY;
      sets.sort((x, y) => x.size - y.size);
      const out = new SetValue();
      for (const v of sets[0]!.values()) if (sets.every((s) => s.has(v))) out.add(v);
      return out;
    },
  });
  r.register({
    name: 'union',
    args: ['set'],
    result: 'set',
    impl: (a) => {
      const out = new SetValue();
      for (const s of members(a[0] as SetValue)) for (const v of s.values()) out.add(v);
      return out;
    },
  });
}
