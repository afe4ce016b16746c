/**
 * json.verify_schema and json.match_schema: a JSON Schema (draft-07) validator for the keywords policies use
 * (type, properties, required, additionalProperties, items, enum, const, numeric and length bounds, pattern,
 * allOf/anyOf/oneOf/not), with gojsonschema's error wording, which OPA returns. Patterns run on RE2 (re2js).
 * $ref, formats and remote schemas are not supported (a schema using $ref is rejected, never half-checked).
 */
import { RE2JS } from 're2js';
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import {
  ObjectValue,
  compareNumbers,
  equal,
  isArray,
  isInteger,
  isNumber,
  isObject,
  parseJSON,
  toRegoText,
} from '../value.js';
import { runes } from './operands.js';

const TYPES = ['array', 'boolean', 'integer', 'number', 'null', 'object', 'string'];

class SchemaError extends Error {}

interface Failure {
  readonly field: string;
  readonly type: string;
  readonly desc: string;
}

function jsonTypeOf(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (isNumber(v)) return isInteger(v) ? 'integer' : 'number';
  if (isArray(v)) return 'array';
  return 'object';
}

/** Check the schema itself (gojsonschema's compile step). */
function checkSchema(s: Value): void {
  if (typeof s === 'boolean') return;
  if (!isObject(s)) throw new SchemaError('Invalid JSON schema: a schema must be an object or a boolean');
  if (s.getStr('$ref') !== undefined) throw new SchemaError('$ref is not supported');
  const t = s.getStr('type');
  if (t !== undefined) {
    const list = isArray(t) ? t : [t];
    for (const x of list) {
      if (typeof x !== 'string' || !TYPES.includes(x))
        throw new SchemaError(
          `has a primitive type that is NOT VALID -- given: /${typeof x === 'string' ? x : toRegoText(x)}/ Expected valid values are:[${TYPES.join(' ')}]`,
        );
    }
  }
  const props = s.getStr('properties');
  if (props !== undefined) {
    if (!isObject(props)) throw new SchemaError('properties must be an object');
    for (const [, sub] of props.entries()) checkSchema(sub);
  }
  for (const k of ['additionalProperties', 'items', 'not']) {
    const sub = s.getStr(k);
    if (sub !== undefined && !isArray(sub)) checkSchema(sub);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    const list = s.getStr(k);
    if (list !== undefined) {
      if (!isArray(list)) throw new SchemaError(`${k} must be an array`);
      list.forEach(checkSchema);
    }
  }
  const pattern = s.getStr('pattern');
  if (pattern !== undefined) {
    if (typeof pattern !== 'string') throw new SchemaError('pattern must be a string');
    try {
      RE2JS.compile(pattern);
    } catch (e) {
      throw new SchemaError((e as Error).message);
    }
  }
}

function validateValue(v: Value, s: Value, field: string, out: Failure[]): void {
  if (s === true) return;
  if (s === false) {
    out.push({ field, type: 'false', desc: 'False always fails validation' });
    return;
  }
  const schema = s as ObjectValue;
  // Absent keywords read as null (never a valid keyword value), which keeps the checks below simple.
  const get = (k: string): Value => schema.getStr(k) ?? null;
  const t = get('type');
  if (t !== null) {
    const allowed = (isArray(t) ? t : [t]) as string[];
    const actual = jsonTypeOf(v);
    const ok = allowed.some((x) => x === actual || (x === 'number' && actual === 'integer'));
    if (!ok) {
      out.push({
        field,
        type: 'invalid_type',
        desc: `Invalid type. Expected: ${allowed.join(', ')}, given: ${actual}`,
      });
      return;
    }
  }
  const en = get('enum');
  if (isArray(en) && !en.some((x) => equal(x, v)))
    out.push({
      field,
      type: 'enum',
      desc: `${field} must be one of the following: ${en.map((x) => toRegoText(x)).join(', ')}`,
    });
  const cn = get('const');
  if (schema.getStr('const') !== undefined && !equal(cn, v))
    out.push({ field, type: 'const', desc: `${field} does not match: ${toRegoText(cn)}` });
  if (isNumber(v)) {
    const bound = (k: string, bad: (c: number) => boolean, text: string): void => {
      const b = get(k);
      if (isNumber(b) && bad(compareNumbers(v, b)))
        out.push({
          field,
          type: k === 'minimum' || k === 'exclusiveMinimum' ? 'number_gte' : 'number_lte',
          desc: `Must be ${text} ${toRegoText(b)}`,
        });
    };
    bound('minimum', (c) => c < 0, 'greater than or equal to');
    bound('maximum', (c) => c > 0, 'less than or equal to');
    bound('exclusiveMinimum', (c) => c <= 0, 'greater than');
    bound('exclusiveMaximum', (c) => c >= 0, 'less than');
  }
  if (typeof v === 'string') {
    const n = runes(v).length;
    const minL = get('minLength');
    const maxL = get('maxLength');
    if (isNumber(minL) && n < Number(minL))
      out.push({
        field,
        type: 'string_gte',
        desc: `String length must be greater than or equal to ${toRegoText(minL)}`,
      });
    if (isNumber(maxL) && n > Number(maxL))
      out.push({
        field,
        type: 'string_lte',
        desc: `String length must be less than or equal to ${toRegoText(maxL)}`,
      });
    const pattern = get('pattern');
    if (typeof pattern === 'string' && !RE2JS.compile(pattern).test(v))
      out.push({ field, type: 'pattern', desc: `Does not match pattern '${pattern}'` });
  }
  if (isArray(v)) {
    const items = get('items');
    if (items !== null) {
      if (isArray(items))
        items.forEach((sub, i) => i < v.length && validateValue(v[i]!, sub, `${field}.${i}`, out));
      else v.forEach((x, i) => validateValue(x, items, `${field}.${i}`, out));
    }
    const minI = get('minItems');
    const maxI = get('maxItems');
    if (isNumber(minI) && v.length < Number(minI))
      out.push({
        field,
        type: 'array_min_items',
        desc: `Array must have at least ${toRegoText(minI)} items`,
      });
    if (isNumber(maxI) && v.length > Number(maxI))
      out.push({ field, type: 'array_max_items', desc: `Array must have at most ${toRegoText(maxI)} items` });
  }
  if (isObject(v)) {
    const child = (k: string): string => (field === '(root)' ? k : `${field}.${k}`);
    const req = get('required');
    if (isArray(req))
      for (const k of req)
        if (typeof k === 'string' && v.getStr(k) === undefined)
          out.push({ field, type: 'required', desc: `${k} is required` });
    const props = get('properties');
    const known = new Set<string>();
    if (isObject(props)) {
      for (const [k, sub] of props.entries()) {
        known.add(k as string);
        const x = v.get(k);
        if (x !== undefined) validateValue(x, sub, child(k as string), out);
      }
    }
    const extra = get('additionalProperties');
    if (extra !== null) {
      for (const [k, x] of v.entries()) {
        if (typeof k !== 'string' || known.has(k)) continue;
        if (extra === false)
          out.push({
            field,
            type: 'additional_property_not_allowed',
            desc: `Additional property ${k} is not allowed`,
          });
        else validateValue(x, extra, child(k), out);
      }
    }
  }
  const allOf = get('allOf');
  if (isArray(allOf)) for (const sub of allOf) validateValue(v, sub, field, out);
  const anyOf = get('anyOf');
  if (isArray(anyOf) && !anyOf.some((sub) => errorsFor(v, sub, field).length === 0))
    out.push({ field, type: 'number_any_of', desc: 'Must validate at least one schema (anyOf)' });
  const oneOf = get('oneOf');
  if (isArray(oneOf) && oneOf.filter((sub) => errorsFor(v, sub, field).length === 0).length !== 1)
    out.push({ field, type: 'number_one_of', desc: 'Must validate one and only one schema (oneOf)' });
  const not = get('not');
  if (not !== null && errorsFor(v, not, field).length === 0)
    out.push({ field, type: 'number_not', desc: 'Must not validate the schema (not)' });
}

function errorsFor(v: Value, s: Value, field: string): Failure[] {
  const out: Failure[] = [];
  validateValue(v, s, field, out);
  return out;
}

/** A schema or document given as a value or as JSON text. */
function asValue(v: Value, what: string): Value {
  if (typeof v !== 'string') return v;
  try {
    return parseJSON(v);
  } catch (e) {
    throw new BuiltinError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function compiled(schemaArg: Value): Value {
  const schema = asValue(schemaArg, 'schema');
  checkSchema(schema);
  return schema;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'json.verify_schema',
    args: [['string', 'object']],
    result: 'array',
    impl: (a) => {
      try {
        compiled(a[0]!);
        return [true, null];
      } catch (e) {
        if (e instanceof SchemaError || e instanceof BuiltinError) return [false, `jsonschema: ${e.message}`];
        throw e;
      }
    },
  });
  r.register({
    name: 'json.match_schema',
    args: [
      ['string', 'object', 'array', 'number', 'boolean', 'null'],
      ['string', 'object', 'boolean'],
    ],
    result: 'array',
    impl: (a) => {
      let schema: Value;
      try {
        schema = compiled(a[1]!);
      } catch (e) {
        if (e instanceof SchemaError) throw new BuiltinError(e.message);
        throw e;
      }
      const doc = asValue(a[0]!, 'document');
      const errors = errorsFor(doc, schema, '(root)').map((f) =>
        ObjectValue.fromRecord({
          error: `${f.field}: ${f.desc}`,
          type: f.type,
          field: f.field,
          desc: f.desc,
        }),
      );
      return [errors.length === 0, errors];
    },
  });
}
