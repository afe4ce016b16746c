/**
 * opa.runtime: what the embedding program says about its runtime. OPA answers `{}` when no runtime was given (opa
 * test, opa eval without a config) and otherwise the runtime object with service credentials and private keys
 * removed from `config`. The engine never reads the process environment here: policy must not see secrets, so the
 * default is `{}` and an embedder that wants more registers `opaRuntime(value)` in its own registry.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import { ObjectValue, fromJS } from '../value.js';
import type { Value } from '../value.js';

function without(v: Value, keys: readonly string[]): Value {
  if (!(v instanceof ObjectValue)) throw new BuiltinError('type assertion error');
  const o = new ObjectValue();
  for (const [k, x] of v.entries()) if (!(typeof k === 'string' && keys.includes(k))) o.set(k, x);
  return o;
}

/** OPA's activeConfig: drop services[*].credentials and keys[*].key / keys[*].private_key. */
function purgeConfig(config: ObjectValue): ObjectValue {
  const out = new ObjectValue();
  for (const [k, v] of config.entries()) {
    if (k === 'services') {
      if (Array.isArray(v))
        out.set(
          k,
          (v as readonly Value[]).map((s) => without(s, ['credentials'])),
        );
      else if (v instanceof ObjectValue) {
        const s = new ObjectValue();
        for (const [n, x] of v.entries()) s.set(n, without(x, ['credentials']));
        out.set(k, s);
      } else throw new BuiltinError('illegal service config type');
    } else if (k === 'keys') {
      if (!(v instanceof ObjectValue)) throw new BuiltinError('illegal keys config type');
      const s = new ObjectValue();
      for (const [n, x] of v.entries()) s.set(n, without(x, ['key', 'private_key']));
      out.set(k, s);
    } else out.set(k, v);
  }
  return out;
}

/** The runtime object as policy sees it (config purged of secrets, like OPA). */
export function runtimeValue(runtime: unknown): Value {
  const v = runtime instanceof ObjectValue ? runtime : fromJS(runtime ?? {});
  if (!(v instanceof ObjectValue)) throw new TypeError('opa.runtime: the runtime must be an object');
  const config = v.getStr('config');
  if (!(config instanceof ObjectValue)) return v;
  const o = new ObjectValue();
  for (const [k, x] of v.entries()) o.set(k, k === 'config' ? purgeConfig(config) : x);
  return o;
}

/** Register opa.runtime answering `runtime` (default `{}`); replaces an earlier registration. */
export function opaRuntime(r: BuiltinRegistry, runtime: unknown = {}): void {
  const value = runtimeValue(runtime);
  r.override({ name: 'opa.runtime', args: [], result: 'object', nondeterministic: true, impl: () => value });
}

export function register(r: BuiltinRegistry): void {
  opaRuntime(r);
}
