/** Type predicates (is_string, ...) and type_name. Predicates return false, never undefined, like OPA. */
import type { BuiltinRegistry } from './registry.js';
import type { TypeName } from '../value.js';
import { typeName } from '../value.js';

export function register(r: BuiltinRegistry): void {
  const names: TypeName[] = ['null', 'boolean', 'number', 'string', 'array', 'object', 'set'];
  for (const t of names) {
    r.register({ name: `is_${t}`, args: ['any'], result: 'boolean', impl: (a) => typeName(a[0]!) === t });
  }
  r.register({ name: 'type_name', args: ['any'], result: 'string', impl: (a) => typeName(a[0]!) });
}
