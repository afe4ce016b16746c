/**
 * Encoding builtins: json.*, yaml.*, base64*, base64url*, hex.*, urlquery.*.
 *
 * Go strings may hold any bytes; Rego values here are JS strings. Decoded bytes become a string the way Go's
 * `[]rune(string(b))` sees them: valid UTF-8 decodes, and each byte of an invalid sequence becomes U+FFFD.
 */
import YAML from 'yaml';
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import { operandError } from './operands.js';
import type { Value } from '../value.js';
import {
  ObjectValue,
  fromJS,
  isArray,
  isObject,
  isSet,
  parseJSON,
  toJSONText,
  toRegoText,
} from '../value.js';

/** Bytes -> string with Go's per-byte replacement of invalid UTF-8. */
export function goBytesToString(b: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      // Fast path for ASCII runs.
      let j = i + 1;
      while (j < n && b[j]! < 0x80) j++;
      out += String.fromCharCode(...b.subarray(i, j));
      i = j;
      continue;
    }
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    }
    let ok = need > 0;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const cc = b[i + k];
        if (cc === undefined || (cc & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (!ok) {
      out += '\ufffd';
      i += 1;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

const bytesOf = (s: string): Buffer => Buffer.from(s, 'utf8');

// ---------------------------------------------------------------------------------------------------------------
// JSON

/** Go's encoding/json escaping: HTML-safe (<, >, & escaped) and U+2028/U+2029 escaped. */
function goJSONEscape(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Go's json.Marshal of a value: compact, sorted keys, HTML-safe escaping. */
export function marshal(v: Value): string {
  return goJSONEscape(toJSONText(v));
}

/** json.MarshalIndent-like output: every line after a newline starts with prefix + indent * depth. */
function marshalIndent(v: Value, prefix: string, indent: string): string {
  const rec = (x: Value, depth: number): string => {
    if (isArray(x) || isSet(x)) {
      const items = isSet(x) ? x.values() : x;
      if (items.length === 0) return '[]';
      const inner = '\n' + prefix + indent.repeat(depth + 1);
      return (
        '[' +
        items.map((e) => inner + rec(e, depth + 1)).join(',') +
        '\n' +
        prefix +
        indent.repeat(depth) +
        ']'
      );
    }
    if (isObject(x)) {
      const es = x.entries();
      if (es.length === 0) return '{}';
      const inner = '\n' + prefix + indent.repeat(depth + 1);
      const key = (k: Value): string =>
        goJSONEscape(JSON.stringify(typeof k === 'string' ? k : toRegoText(k)));
      return (
        '{' +
        es.map(([k, e]) => inner + key(k) + ': ' + rec(e, depth + 1)).join(',') +
        '\n' +
        prefix +
        indent.repeat(depth) +
        '}'
      );
    }
    return goJSONEscape(toJSONText(x));
  };
  return prefix + rec(v, 0);
}

function unmarshalJSON(s: string): Value {
  try {
    return parseJSON(s);
  } catch (e) {
    throw new BuiltinError((e as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// YAML (YAML 1.2 core schema via the `yaml` package; numbers kept exact)

function yamlParse(s: string): Value {
  const docs = YAML.parseAllDocuments(s, { intAsBigInt: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length === 0) return null;
  const doc = list[0]!;
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const line = err.linePos?.[0]?.line ?? 1;
    const what = /flow (sequence|collection|map)/i.test(err.message)
      ? "did not find expected ',' or ']'"
      : err.message;
    throw new BuiltinError(`yaml: line ${line}: ${what.split('\n')[0]}`);
  }
  return fromJS(stringKeys(doc.toJS({ maxAliasCount: 100, mapAsMap: true }) as unknown));
}

/** YAML mapping keys become JSON keys, as sigs.k8s.io/yaml does: scalars as text, collections refused. */
function stringKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stringKeys);
  if (x instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of x as Map<unknown, unknown>) {
      if (k !== null && typeof k === 'object') throw new BuiltinError('yaml: invalid map key: a collection');
      o[typeof k === 'bigint' ? k.toString() : String(k)] = stringKeys(v);
    }
    return o;
  }
  return x;
}

function toPlain(v: Value): unknown {
  if (isArray(v)) return v.map(toPlain);
  if (isSet(v)) return v.values().map(toPlain);
  if (isObject(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries()) o[typeof k === 'string' ? k : toRegoText(k)] = toPlain(x);
    return o;
  }
  if (v !== null && typeof v === 'object') return Number(v.toString());
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// base64 / hex / url

const B64_STD = /^[A-Za-z0-9+/]*={0,2}$/;
const B64_URL = /^[A-Za-z0-9\-_]*={0,2}$/;

/** Strict (Go StdEncoding-like) base64 decoding: correct padding, no stray characters. */
function b64decode(s: string, url: boolean, padded: boolean): Buffer {
  const alphabet = url ? B64_URL : B64_STD;
  const clean = s.replace(/[\r\n]/g, '');
  const bad = (i: number): never => {
    throw new BuiltinError(`illegal base64 data at input byte ${i}`);
  };
  if (!alphabet.test(clean)) {
    const re = url ? /[^A-Za-z0-9\-_=]/ : /[^A-Za-z0-9+/=]/;
    const m = re.exec(clean);
    bad(m ? m.index : clean.indexOf('='));
  }
  if (padded && clean.length % 4 !== 0) bad(clean.length - (clean.length % 4));
  if (!padded && clean.includes('=')) bad(clean.indexOf('='));
  const body = clean.replace(/=+$/, '');
  if (body.length % 4 === 1) bad(body.length - 1);
  return Buffer.from(body, url ? 'base64url' : 'base64');
}

/**
 * OPA's base64url.decode: unpadded input gets its padding restored (RFC 7515 appendix C), then it is decoded
 * strictly.
 */
export function base64UrlDecode(s0: string): Buffer {
  let s = s0;
  if (!s.endsWith('=')) {
    const rem = s.length % 4;
    if (rem === 1) throw new BuiltinError(`illegal base64url string: ${s}`);
    if (rem > 0) s += '='.repeat(4 - rem);
  }
  return b64decode(s, true, true);
}

/** Strict standard base64 (padding required). */
export function base64StdDecode(s: string): Buffer {
  return b64decode(s, false, true);
}

const URL_SAFE = /[A-Za-z0-9\-_.~]/;

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const byte of bytesOf(s)) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && URL_SAFE.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.QueryUnescape. */
function queryUnescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h))
        throw new BuiltinError(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === '+') bytes.push(0x20);
    else for (const b of bytesOf(c)) bytes.push(b);
  }
  return goBytesToString(Uint8Array.from(bytes));
}

export function register(r: BuiltinRegistry): void {
  r.register({ name: 'json.marshal', args: ['any'], result: 'string', impl: (a) => marshal(a[0]!) });
  r.register({
    name: 'json.marshal_with_options',
    args: ['any', 'object'],
    result: 'string',
    impl: (a) => {
      const opts = a[1] as ObjectValue;
      let prefix = '';
      let indent = '\t';
      let pretty: boolean | undefined;
      let sawFormat = false;
      for (const [k, v] of opts.entries()) {
        if (k === 'pretty') {
          if (typeof v !== 'boolean') throw new BuiltinError('pretty must be a boolean');
          pretty = v;
        } else if (k === 'prefix' || k === 'indent') {
          if (typeof v !== 'string') throw new BuiltinError(`${k} must be a string`);
          if (k === 'prefix') prefix = v;
          else indent = v;
          sawFormat = true;
        } else throw operandError(2, `object contained unknown key ${toRegoText(k)}`);
      }
      // Indentation is on when asked for, or when prefix/indent are given without "pretty": false.
      const on = pretty ?? sawFormat;
      return on ? marshalIndent(a[0]!, prefix, indent) : marshal(a[0]!);
    },
  });
  r.register({ name: 'json.unmarshal', args: ['string'], impl: (a) => unmarshalJSON(a[0] as string) });
  r.register({
    name: 'json.is_valid',
    args: ['any'],
    result: 'boolean',
    checkTypes: false,
    impl: (a) => {
      if (typeof a[0] !== 'string') return false;
      try {
        parseJSON(a[0]);
        return true;
      } catch {
        return false;
      }
    },
  });

  r.register({
    name: 'yaml.marshal',
    args: ['any'],
    result: 'string',
    impl: (a) => YAML.stringify(toPlain(a[0]!), { lineWidth: 0 }),
  });
  r.register({ name: 'yaml.unmarshal', args: ['string'], impl: (a) => yamlParse(a[0] as string) });
  r.register({
    name: 'yaml.is_valid',
    args: ['any'],
    result: 'boolean',
    checkTypes: false,
    impl: (a) => {
      if (typeof a[0] !== 'string') return false;
      try {
        yamlParse(a[0]);
        return true;
      } catch {
        return false;
      }
    },
  });

  r.register({
    name: 'base64.encode',
    args: ['string'],
    result: 'string',
    impl: (a) => bytesOf(a[0] as string).toString('base64'),
  });
  r.register({
    name: 'base64.decode',
    args: ['string'],
    result: 'string',
    impl: (a) => goBytesToString(b64decode(a[0] as string, false, true)),
  });
  r.register({
    name: 'base64.is_valid',
    args: ['string'],
    result: 'boolean',
    impl: (a) => {
      try {
        b64decode(a[0] as string, false, true);
        return true;
      } catch {
        return false;
      }
    },
  });
  r.register({
    name: 'base64url.encode',
    args: ['string'],
    result: 'string',
    impl: (a) => {
      const s = bytesOf(a[0] as string).toString('base64url');
      return s + '='.repeat((4 - (s.length % 4)) % 4);
    },
  });
  r.register({
    name: 'base64url.encode_no_pad',
    args: ['string'],
    result: 'string',
    impl: (a) => bytesOf(a[0] as string).toString('base64url'),
  });
  r.register({
    name: 'base64url.decode',
    args: ['string'],
    result: 'string',
    impl: (a) => goBytesToString(base64UrlDecode(a[0] as string)),
  });

  r.register({
    name: 'hex.encode',
    args: ['string'],
    result: 'string',
    impl: (a) => bytesOf(a[0] as string).toString('hex'),
  });
  r.register({
    name: 'hex.decode',
    args: ['string'],
    result: 'string',
    impl: (a) => {
      const s = a[0] as string;
      const m = /[^0-9a-fA-F]/u.exec(s);
      if (m) {
        const cp = m[0].codePointAt(0)!;
        const hex = cp.toString(16).toUpperCase().padStart(4, '0');
        throw new BuiltinError(`encoding/hex: invalid byte: U+${hex} '${m[0]}'`);
      }
      if (s.length % 2 === 1) throw new BuiltinError('encoding/hex: odd length hex string');
      return goBytesToString(Buffer.from(s, 'hex'));
    },
  });

  r.register({
    name: 'urlquery.encode',
    args: ['string'],
    result: 'string',
    impl: (a) => queryEscape(a[0] as string),
  });
  r.register({
    name: 'urlquery.decode',
    args: ['string'],
    result: 'string',
    impl: (a) => queryUnescape(a[0] as string),
  });
  r.register({
    name: 'urlquery.encode_object',
    args: ['object'],
    result: 'string',
    impl: (a) => {
      const parts: string[] = [];
      for (const [k, v] of (a[0] as ObjectValue).entries()) {
        if (typeof k !== 'string') throw typeError(1, k, 'string');
        const vals: Value[] =
          typeof v === 'string' ? [v] : isArray(v) ? [...v] : isSet(v) ? [...v.values()] : [v];
        for (const x of vals) {
          if (typeof x !== 'string') throw typeError(1, x, 'string');
          parts.push(queryEscape(k) + '=' + queryEscape(x));
        }
      }
      return parts.join('&');
    },
  });
  r.register({
    name: 'urlquery.decode_object',
    args: ['string'],
    result: 'object',
    impl: (a) => {
      const out = new Map<string, string[]>();
      for (const part of (a[0] as string).split(/&/)) {
        if (part === '') continue;
        if (part.includes(';')) throw new BuiltinError('invalid semicolon separator in query');
        const eq = part.indexOf('=');
        const k = queryUnescape(eq < 0 ? part : part.slice(0, eq));
        const v = eq < 0 ? '' : queryUnescape(part.slice(eq + 1));
        const list = out.get(k) ?? [];
        list.push(v);
        out.set(k, list);
      }
      return ObjectValue.fromEntries([...out].map(([k, v]) => [k, v] as const));
    },
  });
}
