/**
 * Every builtin family registers itself here. To add a family: write `builtins/<family>.ts` exporting
 * `register(registry: BuiltinRegistry)`, then add its import and one call in `registerAll` below (keep the list
 * sorted). Only files that exist are imported.
 */
import { BuiltinRegistry } from './registry.js';
import { register as registerOperators } from './operators.js';
import { register as registerAggregates } from './aggregates.js';
import { register as registerArrays } from './arrays.js';
import { register as registerBits } from './bits.js';
import { register as registerCasts } from './casts.js';
import { register as registerCrypto } from './crypto.js';
import { register as registerEncoding } from './encoding.js';
import { register as registerGlob } from './glob.js';
import { register as registerGraph } from './graph.js';
import { register as registerGraphql } from './graphql.js';
import { register as registerJsonschema } from './jsonschema.js';
import { register as registerJwt } from './jwt.js';
import { register as registerNet } from './net.js';
import { register as registerNumbers } from './numbers.js';
import { register as registerObjects } from './objects.js';
import { register as registerProviders } from './providers.js';
import { register as registerRegex } from './regex.js';
import { register as registerRegoMeta } from './rego-meta.js';
import { register as registerRuntime } from './runtime.js';
import { register as registerSemver } from './semver.js';
import { register as registerSets } from './sets.js';
import { register as registerStrings } from './strings.js';
import { register as registerTime } from './time.js';
import { register as registerTypes } from './types.js';
import { register as registerUnits } from './units.js';
import { register as registerUuid } from './uuid.js';

export {
  BuiltinRegistry,
  BuiltinError,
  typeError,
  checkArgs,
  matchesType,
  expectString,
} from './registry.js';
export { opaRuntime } from './runtime.js';
export type { ArgType, BuiltinContext, BuiltinDef, BuiltinImpl, BuiltinErrorCode } from './registry.js';

/** Register every builtin family into `registry`. */
export function registerAll(registry: BuiltinRegistry): BuiltinRegistry {
  registerOperators(registry);
  registerAggregates(registry);
  registerArrays(registry);
  registerBits(registry);
  registerCasts(registry);
  registerCrypto(registry);
  registerEncoding(registry);
  registerGlob(registry);
  registerGraph(registry);
  registerGraphql(registry);
  registerJsonschema(registry);
  registerJwt(registry);
  registerNet(registry);
  registerNumbers(registry);
  registerObjects(registry);
  registerProviders(registry);
  registerRegex(registry);
  registerRegoMeta(registry);
  registerRuntime(registry);
  registerSemver(registry);
  registerSets(registry);
  registerStrings(registry);
  registerTime(registry);
  registerTypes(registry);
  registerUnits(registry);
  registerUuid(registry);
  return registry;
}

/** A fresh registry holding all builtins. */
export function defaultRegistry(): BuiltinRegistry {
  return registerAll(new BuiltinRegistry());
}
