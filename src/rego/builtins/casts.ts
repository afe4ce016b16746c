/** to_number and the deprecated cast_* builtins. */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { TypeName } from '../value.js';
import { SetValue, isArray, isNumber, isSet, parseNumber, typeName } from '../value.js';

/** Go's strconv.ParseFloat syntax for decimal input (hex floats and underscores are not accepted here). */
const FLOAT_SYNTAX = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'to_number',
    args: [['null', 'boolean', 'number', 'string']],
    result: 'number',
    impl: (a) => {
      const v = a[0]!;
      if (v === null || v === false) return 0;
      if (v === true) return 1;
      if (isNumber(v)) return v;
      const s = v as string;
      const word = s.replace(/^[+-]+/, '').toLowerCase();
      if (word === 'inf' || word === 'infinity' || word === 'nan')
        throw typeError(1, v, 'valid number string' as TypeName);
      if (!FLOAT_SYNTAX.test(s))
        throw new BuiltinError(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
      const n = parseNumber(s.startsWith('+') ? s.slice(1) : s);
      if (n === undefined)
        throw new BuiltinError(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
      if (!Number.isFinite(Number(s)))
        throw new BuiltinError(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: value out of range`);
      return n;
    },
  });
  r.register({
    name: 'cast_array',
    args: [['array', 'set']],
    result: 'array',
    impl: (a) => (isSet(a[0]!) ? [...a[0].values()] : a[0]!),
  });
  r.register({
    name: 'cast_set',
    args: [['array', 'set']],
    result: 'set',
    impl: (a) => (isArray(a[0]!) ? SetValue.of(a[0]) : a[0]!),
  });
  for (const t of ['string', 'boolean', 'null', 'object'] as const) {
    r.register({
      name: `cast_${t}`,
      args: [t],
      result: t,
      impl: (a) => {
        if (typeName(a[0]!) !== t) throw typeError(1, a[0]!, t);
        return a[0]!;
      },
    });
  }
}
