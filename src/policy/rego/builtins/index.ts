/**
 * Every builtin family registers itself here. To add a family: write `builtins/<family>.ts` exporting
 * `register(registry: BuiltinRegistry)`, then add its import and one call in `registerAll` below (keep the list
 * sorted). Only files that exist are imported.
 */
import { BuiltinRegistry } from './registry.js';
import { register as registerOperators } from './operators.js';

export {
  BuiltinRegistry,
  BuiltinError,
  typeError,
  checkArgs,
  matchesType,
  expectString,
} from './registry.js';
export type { ArgType, BuiltinContext, BuiltinDef, BuiltinImpl, BuiltinErrorCode } from './registry.js';

/** Register every builtin family into `registry`. */
export function registerAll(registry: BuiltinRegistry): BuiltinRegistry {
  registerOperators(registry);
  return registry;
}

/** A fresh registry holding all builtins. */
export function defaultRegistry(): BuiltinRegistry {
  return registerAll(new BuiltinRegistry());
}
