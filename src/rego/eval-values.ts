/** Value navigation used by the evaluator: children, entry iteration, walk, copy-on-write path updates. */
import { ObjectValue, SetValue, typeName } from './value.js';
import type { Value } from './value.js';

export function isCollection(v: Value): boolean {
  return Array.isArray(v) || v instanceof ObjectValue || v instanceof SetValue;
}

export function getChild(v: Value, key: Value): Value | undefined {
  if (v instanceof ObjectValue) return v.get(key);
  if (Array.isArray(v)) {
    if (typeof key !== 'number' || !Number.isInteger(key)) return undefined;
    return (v as readonly Value[])[key];
  }
  if (v instanceof SetValue) return v.has(key) ? key : undefined;
  return undefined;
}

/** Call cb(key, value) for each entry; stop and return true when cb returns true. */
export function forEachEntry(v: Value, cb: (key: Value, val: Value) => boolean): boolean {
  if (Array.isArray(v)) {
    const arr = v as readonly Value[];
    for (let i = 0; i < arr.length; i++) if (cb(i, arr[i]!)) return true;
    return false;
  }
  if (v instanceof ObjectValue) {
    for (const [key, val] of v.entries()) if (cb(key, val)) return true;
    return false;
  }
  if (v instanceof SetValue) {
    for (const x of v.values()) if (cb(x, x)) return true;
    return false;
  }
  return false;
}

export function walkValue(v: Value, path: Value[], vk: (v: Value) => boolean): boolean {
  if (vk([path.slice(), v])) return true;
  return forEachEntry(v, (key, child) => {
    path.push(key);
    try {
      return walkValue(child, path, vk);
    } finally {
      path.pop();
    }
  });
}

/** Copy-on-write set of a path inside a value (objects created as needed). */
export function setPath(root: Value | undefined, path: readonly string[], v: Value): Value {
  if (path.length === 0) return v;
  const [h, ...rest] = path as [string, ...string[]];
  const obj = root instanceof ObjectValue ? root.clone() : new ObjectValue();
  obj.set(h, setPath(obj.getStr(h), rest, v));
  return obj;
}

export function describeType(v: Value): string {
  return typeName(v);
}
