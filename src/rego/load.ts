/**
 * Load policy and data from disk like `opa eval -d PATH`: `.rego` files become modules; `.json`, `.yaml`, `.yml`
 * files are data, merged at their directory path relative to the PATH given (a file passed directly is merged at the
 * root). Numbers keep their exact value. A directory with a bundle `.manifest` declaring `"rego_version": 0` (or 1)
 * marks its modules with that Rego version, like OPA bundles (the engine parses them accordingly).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import YAML from 'yaml';
import { RegoError } from './errors.js';
import { ObjectValue, fromJS, parseJSON, toRegoText } from './value.js';
import type { Value } from './value.js';
import type { RegoVersion } from './parser.js';

export interface LoadedModule {
  name: string;
  source: string;
  /** From the bundle's `.manifest` (`rego_version`); otherwise the engine's default applies. */
  regoVersion?: RegoVersion;
}

export interface LoadedPolicy {
  modules: LoadedModule[];
  data: ObjectValue;
}

export function loadPaths(paths: readonly string[]): LoadedPolicy {
  const out: LoadedPolicy = { modules: [], data: new ObjectValue() };
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) {
      const first = out.modules.length;
      walk(p, p, out);
      const version = manifestRegoVersion(p);
      if (version) for (const m of out.modules.slice(first)) m.regoVersion = version;
    } else loadFile(p, dirname(p), out, true);
  }
  return out;
}

/** `rego_version` of a bundle's `.manifest` at `dir`, if it declares one. */
function manifestRegoVersion(dir: string): RegoVersion | undefined {
  const file = join(dir, '.manifest');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return manifestRegoVersionOf(text, file);
}

/** `rego_version` (0 or 1) of a bundle `.manifest`'s text, if it declares one; `file` names it in errors. */
export function manifestRegoVersionOf(text: string, file: string): RegoVersion | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new RegoError('rego_parse_error', `${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const v = m !== null && typeof m === 'object' ? (m as Record<string, unknown>).rego_version : undefined;
  if (v === undefined) return undefined;
  if (v !== 0 && v !== 1)
    throw new RegoError('rego_parse_error', `${file}: rego_version must be 0 or 1, got ${JSON.stringify(v)}`);
  return v === 0 ? 'v0' : 'v1';
}

function walk(root: string, dir: string, out: LoadedPolicy): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(root, p, out);
    else loadFile(p, root, out, false);
  }
}

function loadFile(file: string, root: string, out: LoadedPolicy, direct: boolean): void {
  const name = basename(file);
  if (name.endsWith('.rego')) {
    out.modules.push({ name: file, source: readFileSync(file, 'utf8') });
    return;
  }
  let value: Value;
  if (name.endsWith('.json')) {
    try {
      value = parseJSON(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new RegoError('rego_parse_error', `${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else if (name.endsWith('.yaml') || name.endsWith('.yml')) {
    try {
      value = fromJS(YAML.parse(readFileSync(file, 'utf8'), { intAsBigInt: true }));
    } catch (e) {
      throw new RegoError('rego_parse_error', `${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else return;
  const rel = direct ? '' : relative(root, dirname(file));
  const path = rel === '' ? [] : rel.split(sep);
  mergeAt(out.data, path, value, file);
}

function mergeAt(data: ObjectValue, path: readonly string[], value: Value, file: string): void {
  let cur = data;
  for (const seg of path) {
    const next = cur.getStr(seg);
    if (next === undefined) {
      const o = new ObjectValue();
      cur.set(seg, o);
      cur = o;
    } else if (next instanceof ObjectValue) cur = next;
    else
      throw new RegoError(
        'rego_compile_error',
        `${file}: merge error: data.${path.join('.')} is not an object`,
      );
  }
  if (!(value instanceof ObjectValue)) {
    if (path.length === 0)
      throw new RegoError('rego_compile_error', `${file}: root data document must be an object`);
    const parent = path.slice(0, -1).reduce<ObjectValue>((o, s) => o.getStr(s) as ObjectValue, data);
    parent.set(path[path.length - 1]!, value);
    return;
  }
  mergeObjects(cur, value, file);
}

function mergeObjects(into: ObjectValue, from: ObjectValue, file: string): void {
  for (const [k, v] of from.entries()) {
    const cur = into.get(k);
    if (cur instanceof ObjectValue && v instanceof ObjectValue) mergeObjects(cur, v, file);
    else if (cur !== undefined)
      throw new RegoError('rego_compile_error', `${file}: merge error: key ${toRegoText(k)} defined twice`);
    else into.set(k, v);
  }
}
