/**
 * Object builtins (object.get/keys/remove/filter/union/union_n/subset) and the JSON-path ones (json.filter,
 * json.remove, json.patch), with OPA's semantics for paths through arrays and sets.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { Value } from '../value.js';
import {
  ObjectValue,
  SetValue,
  equal,
  isArray,
  isInteger,
  isNumber,
  isObject,
  isSet,
  toFloat,
  typeName,
} from '../value.js';
import { elementError, operandError } from './operands.js';

/** Keys named by an array, set or object operand (object.remove / object.filter). */
function keysParam(v: Value): SetValue {
  if (isArray(v)) return SetValue.of(v);
  if (isSet(v)) return v;
  if (isObject(v)) return SetValue.of(v.keys());
  throw typeError(2, v, ['object', 'set', 'array']);
}

function mergeWithOverwrite(a: ObjectValue, b: ObjectValue): ObjectValue {
  const out = a.clone();
  for (const [k, v] of b.entries()) {
    const old = out.get(k);
    out.set(k, old !== undefined && isObject(old) && isObject(v) ? mergeWithOverwrite(old, v) : v);
  }
  return out;
}

/** Walk a path through objects (by key), arrays (by integer index) and sets (by member). */
function find(v: Value, path: readonly Value[]): Value | undefined {
  let cur: Value = v;
  for (const seg of path) {
    if (isObject(cur)) {
      const next = cur.get(seg);
      if (next === undefined) return undefined;
      cur = next;
    } else if (isArray(cur)) {
      if (!isNumber(seg) || !isInteger(seg)) return undefined;
      const i = toFloat(seg);
      if (i < 0 || i >= cur.length) return undefined;
      cur = cur[i]!;
    } else if (isSet(cur)) {
      if (!cur.has(seg)) return undefined;
      cur = seg;
    } else return undefined;
  }
  return cur;
}

function arrayContainsRun(sup: readonly Value[], sub: readonly Value[]): boolean {
  if (sub.length === 0) return true;
  outer: for (let i = 0; i + sub.length <= sup.length; i++) {
    for (let j = 0; j < sub.length; j++) if (!equal(sup[i + j]!, sub[j]!)) continue outer;
    return true;
  }
  return false;
}

function setSubset(sup: SetValue, sub: SetValue): boolean {
  for (const x of sub.values()) if (!sup.has(x)) return false;
  return true;
}

function objectSubset(sup: ObjectValue, sub: ObjectValue): boolean {
  for (const [k, sv] of sub.entries()) {
    const pv = sup.get(k);
    if (pv === undefined) return false;
    if (isObject(sv)) {
      if (!isObject(pv) || !objectSubset(pv, sv)) return false;
    } else if (isSet(sv)) {
      if (!isSet(pv) || !setSubset(pv, sv)) return false;
    } else if (isArray(sv)) {
      if (!isArray(pv) || !arrayContainsRun(pv, sv)) return false;
    } else if (!equal(pv, sv)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON paths: "/a/b/0" strings (with ~1 and ~0 escapes) or arrays of segments.

function parsePath(p: Value): Value[] {
  if (typeof p === 'string') {
    if (p === '') return [];
    return p
      .replace(/^\/+/, '')
      .split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  if (isArray(p)) return [...p];
  throw operandError(
    2,
    `must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`,
  );
}

function jsonPaths(v: Value): Value[][] {
  if (isArray(v)) return v.map(parsePath);
  if (isSet(v)) return v.values().map(parsePath);
  throw typeError(2, v, ['set', 'array']);
}

/** A tree of path segments whose leaves are null (OPA's pathsToObject). */
function pathsToTree(paths: readonly Value[][]): ObjectValue {
  const root = new ObjectValue();
  for (const path of paths) {
    if (path.length === 0) continue;
    let node = root;
    let done = false;
    for (let i = 0; i < path.length - 1 && !done; i++) {
      const child = node.get(path[i]!);
      if (child === undefined) {
        const o = new ObjectValue();
        node.set(path[i]!, o);
        node = o;
      } else if (child === null) done = true;
      else node = child as ObjectValue;
    }
    if (!done) node.set(path[path.length - 1]!, null);
  }
  return root;
}

function filterValue(v: Value, filter: Value): Value {
  if (filter === null) return v;
  const f = filter as ObjectValue;
  if (isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const sub = f.get(String(i));
      if (sub !== undefined) out.push(filterValue(x, sub));
    });
    return out;
  }
  if (isSet(v)) {
    const out = new SetValue();
    for (const x of v.values()) {
      const sub = f.get(x);
      if (sub !== undefined) out.add(filterValue(x, sub));
    }
    return out;
  }
  if (isObject(v)) {
    const out = new ObjectValue();
    for (const [k, x] of v.entries()) {
      const sub = f.get(k);
      if (sub !== undefined) out.set(k, filterValue(x, sub));
    }
    return out;
  }
  return v;
}

/** Remove the leaves of `tree` from `v`; undefined means "removed". */
function removeValue(v: Value, tree: Value | undefined): Value | undefined {
  if (tree === undefined) return v;
  if (tree === null) return undefined;
  if (!isObject(tree)) return v;
  if (isObject(v)) {
    const out = new ObjectValue();
    for (const [k, x] of v.entries()) {
      const r = removeValue(x, tree.get(k));
      if (r !== undefined) out.set(k, r);
    }
    return out;
  }
  if (isSet(v)) {
    const out = new SetValue();
    for (const x of v.values()) {
      const r = removeValue(x, tree.get(x));
      if (r !== undefined) out.add(r);
    }
    return out;
  }
  if (isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const r = removeValue(x, tree.get(String(i)));
      if (r !== undefined) out.push(r);
    });
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902) over Rego values; sets are addressed by member.

class PatchError extends Error {}

function arrayIndex(seg: Value, len: number, forInsert: boolean): number {
  if (forInsert && seg === '-') return len;
  let i: number;
  if (typeof seg === 'string' && /^(0|[1-9]\d*)$/.test(seg)) i = Number(seg);
  else if (isNumber(seg) && isInteger(seg)) i = toFloat(seg);
  else throw new PatchError('bad array index');
  if (i < 0 || i > len || (!forInsert && i === len)) throw new PatchError('array index out of range');
  return i;
}

/** Apply `f` to the parent container of the path's last segment, rebuilding the spine immutably. */
function updateAt(root: Value, path: readonly Value[], f: (parent: Value, seg: Value) => Value): Value {
  if (path.length === 0) throw new PatchError('empty path');
  const rec = (cur: Value, i: number): Value => {
    const seg = path[i]!;
    if (i === path.length - 1) return f(cur, seg);
    if (isObject(cur)) {
      const child = cur.get(seg);
      if (child === undefined) throw new PatchError('path not found');
      const o = cur.clone();
      o.set(seg, rec(child, i + 1));
      return o;
    }
    if (isArray(cur)) {
      const idx = arrayIndex(seg, cur.length, false);
      const a = [...cur];
      a[idx] = rec(cur[idx]!, i + 1);
      return a;
    }
    if (isSet(cur)) {
      if (!cur.has(seg)) throw new PatchError('path not found');
      const s = cur.clone();
      s.delete(seg);
      s.add(rec(seg, i + 1));
      return s;
    }
    throw new PatchError('path not found');
  };
  return rec(root, 0);
}

function patchAdd(root: Value, path: readonly Value[], value: Value): Value {
  if (path.length === 0) return value;
  return updateAt(root, path, (parent, seg) => {
    if (isObject(parent)) {
      const o = parent.clone();
      o.set(seg, value);
      return o;
    }
    if (isArray(parent)) {
      const a = [...parent];
      a.splice(arrayIndex(seg, parent.length, true), 0, value);
      return a;
    }
    if (isSet(parent)) {
      // A set member is addressed by itself: the path's last segment must be the value added.
      if (!equal(seg, value)) throw new PatchError('set key and value differ');
      const s = parent.clone();
      s.add(value);
      return s;
    }
    throw new PatchError('cannot add to a scalar');
  });
}

function patchRemove(root: Value, path: readonly Value[]): Value {
  return updateAt(root, path, (parent, seg) => {
    if (isObject(parent)) {
      if (parent.get(seg) === undefined) throw new PatchError('path not found');
      const o = parent.clone();
      o.delete(seg);
      return o;
    }
    if (isArray(parent)) {
      const a = [...parent];
      a.splice(arrayIndex(seg, parent.length, false), 1);
      return a;
    }
    if (isSet(parent)) {
      if (!parent.has(seg)) throw new PatchError('path not found');
      const s = parent.clone();
      s.delete(seg);
      return s;
    }
    throw new PatchError('cannot remove from a scalar');
  });
}

function patchGet(root: Value, path: readonly Value[]): Value {
  let cur = root;
  for (const seg of path) {
    if (isObject(cur)) {
      const n = cur.get(seg);
      if (n === undefined) throw new PatchError('path not found');
      cur = n;
    } else if (isArray(cur)) cur = cur[arrayIndex(seg, cur.length, false)]!;
    else if (isSet(cur)) {
      if (!cur.has(seg)) throw new PatchError('path not found');
      cur = seg;
    } else throw new PatchError('path not found');
  }
  return cur;
}

function applyPatch(target: Value, ops: readonly Value[]): Value {
  let doc = target;
  for (const op of ops) {
    if (!isObject(op)) throw new PatchError('not an object');
    const name = op.getStr('op');
    const pathV = op.getStr('path');
    if (typeof name !== 'string' || pathV === undefined) throw new PatchError('bad op');
    const path = parsePath(pathV);
    const need = (k: string): Value => {
      const v = op.getStr(k);
      if (v === undefined) throw new PatchError(`missing '${k}' attribute`);
      return v;
    };
    switch (name) {
      case 'add':
        doc = patchAdd(doc, path, need('value'));
        break;
      case 'remove':
        doc = patchRemove(doc, path);
        break;
      case 'replace': {
        const value = need('value');
        doc = path.length === 0 ? value : patchAdd(patchRemove(doc, path), path, value);
        break;
      }
      case 'move': {
        const from = parsePath(need('from'));
        const chunk = patchGet(doc, from);
        doc = patchAdd(patchRemove(doc, from), path, chunk);
        break;
      }
      case 'copy': {
        const chunk = patchGet(doc, parsePath(need('from')));
        doc = patchAdd(doc, path, chunk);
        break;
      }
      case 'test':
        if (!equal(patchGet(doc, path), need('value'))) throw new PatchError('test failed');
        break;
      default:
        throw new PatchError(`unrecognized op '${name}'`);
    }
  }
  return doc;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'object.get',
    args: ['object', 'any', 'any'],
    impl: (a) => {
      const o = a[0] as ObjectValue;
      const key = a[1]!;
      if (!isArray(key)) return o.get(key) ?? a[2]!;
      if (key.length === 0) return o;
      return find(o, key) ?? a[2]!;
    },
  });
  r.register({
    name: 'object.keys',
    args: ['object'],
    result: 'set',
    impl: (a) => SetValue.of((a[0] as ObjectValue).keys()),
  });
  r.register({
    name: 'object.remove',
    args: ['object', 'any'],
    result: 'object',
    impl: (a) => {
      const o = a[0] as ObjectValue;
      const drop = keysParam(a[1]!);
      const out = new ObjectValue();
      for (const [k, v] of o.entries()) if (!drop.has(k)) out.set(k, v);
      return out;
    },
  });
  r.register({
    name: 'object.filter',
    args: ['object', 'any'],
    result: 'object',
    impl: (a) => {
      const o = a[0] as ObjectValue;
      const keep = keysParam(a[1]!);
      const out = new ObjectValue();
      for (const k of keep.values()) {
        const v = o.get(k);
        if (v !== undefined) out.set(k, v);
      }
      return out;
    },
  });
  r.register({
    name: 'object.union',
    args: ['object', 'object'],
    result: 'object',
    impl: (a) => mergeWithOverwrite(a[0] as ObjectValue, a[1] as ObjectValue),
  });
  r.register({
    name: 'object.union_n',
    args: ['array'],
    result: 'object',
    impl: (a) => {
      const arr = a[0] as readonly Value[];
      let acc = new ObjectValue();
      for (const x of arr) {
        if (!isObject(x)) throw elementError(1, arr, x, 'object');
        acc = mergeWithOverwrite(acc, x);
      }
      return acc;
    },
  });
  r.register({
    name: 'object.subset',
    args: [
      ['object', 'array', 'set'],
      ['object', 'array', 'set'],
    ],
    result: 'boolean',
    checkTypes: false,
    impl: (a) => {
      const [sup, sub] = a as [Value, Value];
      if (isObject(sup)) {
        if (!isObject(sub)) throw typeError(2, sub, 'object');
        return objectSubset(sup, sub);
      }
      if (isSet(sup)) {
        if (!isSet(sub)) throw typeError(2, sub, 'set');
        return setSubset(sup, sub);
      }
      if (isArray(sup)) {
        if (isArray(sub)) return arrayContainsRun(sup, sub);
        if (isSet(sub)) return sub.values().every((x) => sup.some((y) => equal(x, y)));
        throw typeError(2, sub, ['array', 'set']);
      }
      throw typeError(1, sup, ['object', 'array', 'set']);
    },
  });

  r.register({
    name: 'json.filter',
    args: ['object', 'any'],
    result: 'any',
    impl: (a) => filterValue(a[0]!, pathsToTree(jsonPaths(a[1]!))),
  });
  r.register({
    name: 'json.remove',
    args: ['object', 'any'],
    result: 'any',
    impl: (a) => removeValue(a[0]!, pathsToTree(jsonPaths(a[1]!))),
  });
  r.register({
    name: 'json.patch',
    args: ['any', 'array'],
    result: 'any',
    impl: (a) => {
      try {
        return applyPatch(a[0]!, a[1] as readonly Value[]);
      } catch (e) {
        // OPA: a patch that cannot be applied makes the call undefined.
        if (e instanceof PatchError || e instanceof BuiltinError) return undefined;
        throw e;
      }
    },
  });
}
