/**
 * JWT builtins (io.jwt.*) with node:crypto: decode, verify_{HS,RS,PS,ES}{256,384,512} and verify_eddsa,
 * decode_verify (signature plus iss/aud/exp/nbf/alg constraints), encode_sign and encode_sign_raw. Keys come as
 * PEM certificates, PEM public keys, or JWK / JWK sets, as in OPA.
 */
import {
  X509Certificate,
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  timingSafeEqual,
} from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { BuiltinContext, BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import { ObjectValue, isArray, isNumber, parseJSON, toFloat, toJSONText } from '../value.js';
import { base64UrlDecode, goBytesToString, marshal } from './encoding.js';

const ALGORITHMS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
]);

interface Token {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
}

interface VerificationKey {
  readonly key: KeyObject;
  readonly alg: string;
  readonly kid: string;
}

function splitToken(v: Value): Token {
  if (typeof v !== 'string') throw new BuiltinError(`operand 1 must be string`, 'eval_type_error');
  if (!v.includes('.')) throw new BuiltinError('encoded JWT had no period separators');
  const parts = v.split('.');
  if (parts.length !== 3) throw new BuiltinError(`encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

function decodePart(part: string, what: string): string {
  try {
    return goBytesToString(base64UrlDecode(part));
  } catch (e) {
    throw new BuiltinError(`JWT ${what} had invalid encoding: ${(e as Error).message}`);
  }
}

function jsonObject(text: string): ObjectValue {
  let v: Value;
  try {
    v = parseJSON(text);
  } catch (e) {
    throw new BuiltinError(`invalid JSON: ${(e as Error).message}`);
  }
  if (!(v instanceof ObjectValue)) throw new BuiltinError('decoded JSON type was not an Object');
  return v;
}

function decodeHeader(t: Token): ObjectValue {
  const text = decodePart(t.header, 'header');
  let h: ObjectValue;
  try {
    h = jsonObject(text);
  } catch (e) {
    throw new BuiltinError(`bad JWT header: ${(e as Error).message}`);
  }
  if (h.getStr('enc') !== undefined) throw new BuiltinError('JWT is a JWE object, which is not supported');
  return h;
}

function signatureBytes(t: Token): Buffer {
  try {
    return base64UrlDecode(t.signature);
  } catch (e) {
    throw new BuiltinError(`JWT signature had invalid encoding: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys

function jwkKeys(text: string): VerificationKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new BuiltinError(`failed to parse a JWK key (set): ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object')
    throw new BuiltinError('failed to parse a JWK key (set)');
  const list = Array.isArray((parsed as { keys?: unknown }).keys)
    ? ((parsed as { keys: unknown[] }).keys as Record<string, unknown>[])
    : [parsed as Record<string, unknown>];
  const out: VerificationKey[] = [];
  for (const jwk of list) {
    const alg = typeof jwk.alg === 'string' ? jwk.alg : '';
    if (alg !== '' && !ALGORITHMS.has(alg)) continue;
    let key: KeyObject;
    try {
      key =
        jwk.kty === 'oct'
          ? createSecretKey(base64UrlDecode(String(jwk.k)))
          : createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (e) {
      throw new BuiltinError(`failed to parse a JWK key (set): ${(e as Error).message}`);
    }
    out.push({ key, alg, kid: typeof jwk.kid === 'string' ? jwk.kid : '' });
  }
  return out;
}

/** Keys from a PEM certificate, a PEM public key, or a JWK (set) (OPA's getKeysFromCertOrJWK). */
function keysFrom(text: string): VerificationKey[] {
  const m = /^\s*-----BEGIN ([A-Z0-9 ]+)-----\r?\n?([\s\S]*?)-----END \1-----\r?\n?([\s\S]*)$/.exec(text);
  if (m) {
    if (m[3]!.trim() !== '') throw new BuiltinError('extra data after a PEM certificate block');
    const pem = text.trim();
    if (m[1] === 'CERTIFICATE') {
      try {
        return [{ key: new X509Certificate(pem).publicKey, alg: '', kid: '' }];
      } catch (e) {
        throw new BuiltinError(`failed to parse a PEM certificate: ${(e as Error).message}`);
      }
    }
    if (m[1] === 'PUBLIC KEY') {
      try {
        return [{ key: createPublicKey(pem), alg: '', kid: '' }];
      } catch (e) {
        throw new BuiltinError(`failed to parse a PEM public key: ${(e as Error).message}`);
      }
    }
    throw new BuiltinError('failed to extract a Key from the PEM certificate');
  }
  return jwkKeys(text);
}

const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Verify `data` against `sig` with `alg`; false on any mismatch (wrong key type included). */
function verifyWith(alg: string, key: KeyObject | Buffer, data: Buffer, sig: Buffer): boolean {
  try {
    const family = alg.slice(0, 2);
    const hash = HASHES[alg.slice(2)];
    if (family === 'HS') {
      const secret = Buffer.isBuffer(key) ? key : key.type === 'secret' ? key.export() : undefined;
      if (!secret || !hash) return false;
      const mac = createHmac(hash, secret).update(data).digest();
      return mac.length === sig.length && timingSafeEqual(mac, sig);
    }
    if (Buffer.isBuffer(key) || key.type === 'secret') return false;
    if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, data, key, sig);
    if (!hash) return false;
    if (family === 'RS' || family === 'PS') {
      if (key.asymmetricKeyType !== 'rsa') return false;
      return cryptoVerify(
        hash,
        data,
        family === 'RS'
          ? { key, padding: constants.RSA_PKCS1_PADDING }
          : { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        sig,
      );
    }
    if (family === 'ES') {
      if (key.asymmetricKeyType !== 'ec') return false;
      return cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    }
    return false;
  } catch {
    return false;
  }
}

function signingInput(t: Token): Buffer {
  return Buffer.from(t.header + '.' + t.payload, 'utf8');
}

/** io.jwt.verify_<alg> with certificate/JWK keys (OPA's builtinJWTVerify). */
function verifyAsymmetric(alg: string, jwt: Value, keyText: string): boolean {
  const t = splitToken(jwt);
  const keys = keysFrom(keyText);
  const sig = signatureBytes(t);
  const header = decodeHeader(t);
  const kid = header.getStr('kid');
  const data = signingInput(t);
  if (typeof kid === 'string' && kid !== '') {
    const k = keys.find((x) => x.kid === kid);
    if (k) return verifyWith(alg, k.key, data, sig);
  }
  const headerAlg = header.getStr('alg');
  for (const k of keys) {
    if (k.alg !== '' && k.alg !== headerAlg) continue;
    if (verifyWith(alg, k.key, data, sig)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// decode_verify

interface Constraints {
  keys?: VerificationKey[];
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  /** Nanoseconds. */
  time: number;
}

function parseConstraints(o: ObjectValue, ctx: BuiltinContext): Constraints {
  const c: Constraints = { secret: '', alg: '', iss: '', aud: '', time: -1 };
  const str = (name: string, v: Value): string => {
    if (typeof v !== 'string') throw new BuiltinError(`${name} constraint: must be a string`);
    return v;
  };
  for (const [key, v] of o.entries()) {
    const k = typeof key === 'string' ? key : toJSONText(key);
    switch (k) {
      case 'cert':
        c.keys = keysFrom(str('cert', v));
        break;
      case 'secret':
        c.secret = str('secret', v);
        break;
      case 'alg':
        c.alg = str('alg', v);
        break;
      case 'iss':
        c.iss = str('iss', v);
        break;
      case 'aud':
        c.aud = str('aud', v);
        break;
      case 'time':
        if (!isNumber(v)) throw new BuiltinError('token time constraint: must be a number');
        if (toFloat(v) < 0) throw new BuiltinError('token time constraint: must not be negative');
        c.time = toFloat(v);
        break;
      default:
        throw new BuiltinError(
          `unknown token validation constraint: ${typeof k === 'string' ? k : toJSONText(k)}`,
        );
    }
  }
  if (c.time === -1) c.time = Number(ctx.nowNs);
  const n = (c.keys ? 1 : 0) + (c.secret !== '' ? 1 : 0);
  if (n > 1) throw new BuiltinError('duplicate key constraints');
  if (n < 1) throw new BuiltinError('no key constraint');
  return c;
}

function headerValid(h: ObjectValue): { ok: boolean; alg: string; kid: string; cty: string } {
  let alg = '';
  let kid = '';
  let cty = '';
  let crit: Set<string> | undefined;
  const unknown: string[] = [];
  for (const [k, v] of h.entries()) {
    const name = k as string;
    if (name === 'alg' || name === 'kid' || name === 'typ' || name === 'cty') {
      if (typeof v !== 'string') throw new BuiltinError(`${name}: must be a string`);
      if (name === 'alg') alg = v;
      if (name === 'kid') kid = v;
      if (name === 'cty') cty = v;
    } else if (name === 'crit') {
      if (!isArray(v)) throw new BuiltinError('crit: must be a list');
      crit = new Set(v.filter((x): x is string => typeof x === 'string'));
      if (crit.size === 0) throw new BuiltinError('crit: must be a nonempty list');
    } else unknown.push(name);
  }
  const ok = alg !== '' && !unknown.some((u) => crit?.has(u));
  return { ok, alg, kid, cty };
}

function constraintVerify(c: Constraints, kid: string, alg: string, t: Token, sig: Buffer): boolean {
  const data = signingInput(t);
  if (c.keys) {
    if (kid !== '') {
      const k = c.keys.find((x) => x.kid === kid);
      if (k) return verifyWith(alg, k.key, data, sig);
    }
    return c.keys.some((k) => (k.alg === '' || k.alg === alg) && verifyWith(alg, k.key, data, sig));
  }
  return verifyWith(alg, Buffer.from(c.secret, 'utf8'), data, sig);
}

function decodeVerify(jwt: Value, constraints: ObjectValue, ctx: BuiltinContext): Value {
  const unverified: Value = [false, new ObjectValue(), new ObjectValue()];
  const c = parseConstraints(constraints, ctx);
  let token = splitToken(jwt);
  let header: ObjectValue;
  let payloadText: string;
  for (;;) {
    header = decodeHeader(token);
    const h = headerValid(header);
    if (!h.ok) return unverified;
    if (c.alg !== '' && c.alg !== h.alg) return unverified;
    const sig = signatureBytes(token);
    if (!constraintVerify(c, h.kid, h.alg, token, sig)) return unverified;
    payloadText = decodePart(token.payload, 'payload');
    if (h.cty.toUpperCase() === 'JWT') {
      token = splitToken(payloadText);
      continue;
    }
    break;
  }
  const payload = jsonObject(payloadText);
  if (c.iss !== '') {
    const iss = payload.getStr('iss');
    if (iss !== c.iss) return unverified;
  }
  const aud = payload.getStr('aud');
  if (aud !== undefined) {
    const ok =
      typeof aud === 'string'
        ? aud === c.aud
        : isArray(aud)
          ? aud.some((x) => typeof x === 'string' && x === c.aud)
          : false;
    if (!ok) return unverified;
  } else if (c.aud !== '') return unverified;
  const nowSec = c.time / 1e9;
  const exp = payload.getStr('exp');
  if (exp !== undefined) {
    if (!isNumber(exp)) throw new BuiltinError('exp value must be a number');
    if (nowSec >= toFloat(exp)) return unverified;
  }
  const nbf = payload.getStr('nbf');
  if (nbf !== undefined) {
    if (!isNumber(nbf)) throw new BuiltinError('nbf value must be a number');
    if (nowSec < toFloat(nbf)) return unverified;
  }
  return [true, header, payload];
}

// ---------------------------------------------------------------------------------------------------------------
// Signing

/** The string value of a header field in raw header JSON, with jwsbb's error wording. */
function headerString(headerJSON: string, name: string): string {
  if (headerJSON.trim() === '')
    throw new BuiltinError(
      `missing or invalid '${name}' header: cannot parse JSON: cannot parse empty string`,
    );
  let v: unknown;
  try {
    v = JSON.parse(headerJSON);
  } catch {
    // jwsbb scans the text for the key; unparseable text without it reports "not found".
    if (!headerJSON.includes(`"${name}"`))
      throw new BuiltinError(`missing or invalid '${name}' header: jwsbb: header "${name}" not found`);
    throw new BuiltinError(`missing or invalid '${name}' header: cannot parse JSON`);
  }
  const x = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[name] : undefined;
  if (typeof x !== 'string')
    throw new BuiltinError(`missing or invalid '${name}' header: jwsbb: header "${name}" not found`);
  return x;
}

function signingKey(jwkText: string): KeyObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwkText);
  } catch (e) {
    throw new BuiltinError(`failed to parse JWK: ${(e as Error).message}`);
  }
  const list = Array.isArray((parsed as { keys?: unknown })?.keys)
    ? ((parsed as { keys: unknown[] }).keys as Record<string, unknown>[])
    : [parsed as Record<string, unknown>];
  const jwk = list[0];
  if (!jwk) throw new BuiltinError('no keys found in JWK set');
  try {
    if (jwk.kty === 'oct') return createSecretKey(base64UrlDecode(String(jwk.k)));
    return jwk.d !== undefined
      ? createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
      : createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (e) {
    throw new BuiltinError(`failed to parse JWK: ${(e as Error).message}`);
  }
}

function isJSON(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function encodeSign(headerJSON: string, payload: string, jwkText: string): string {
  const key = signingKey(jwkText);
  const alg = headerString(headerJSON, 'alg');
  if (!ALGORITHMS.has(alg)) throw new BuiltinError(`unknown JWS algorithm: ${alg}`);
  let typ: string | undefined;
  try {
    typ = headerString(headerJSON, 'typ');
  } catch {
    typ = undefined;
  }
  if ((typ === undefined || typ === 'JWT') && !isJSON(payload))
    throw new BuiltinError('type is JWT but payload is not JSON');
  const input =
    Buffer.from(headerJSON, 'utf8').toString('base64url') +
    '.' +
    Buffer.from(payload, 'utf8').toString('base64url');
  const data = Buffer.from(input, 'utf8');
  const family = alg.slice(0, 2);
  const hash = HASHES[alg.slice(2)];
  let sig: Buffer;
  try {
    if (family === 'HS') {
      if (key.type !== 'secret') throw new Error('HMAC signing needs a symmetric ("oct") key');
      sig = createHmac(hash!, key.export()).update(data).digest();
    } else if (alg === 'EdDSA') sig = cryptoSign(null, data, key);
    else if (family === 'RS') sig = cryptoSign(hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
    else if (family === 'PS')
      sig = cryptoSign(hash, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    else sig = cryptoSign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  } catch (e) {
    throw new BuiltinError(`failed to sign: ${(e as Error).message}`);
  }
  return input + '.' + sig.toString('base64url');
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'io.jwt.decode',
    args: ['string'],
    result: 'array',
    impl: (a) => {
      let t = splitToken(a[0]!);
      for (;;) {
        const header = decodeHeader(t);
        let p = decodePart(t.payload, 'payload');
        const cty = header.getStr('cty');
        if (cty === 'JWT') {
          // A nested token may be quoted (jwt.io does that).
          p = p.replace(/^["']+|["']+$/g, '');
          t = splitToken(p);
          continue;
        }
        const payload = jsonObject(p);
        return [header, payload, signatureBytes(t).toString('hex')];
      }
    },
  });
  for (const alg of [
    'RS256',
    'RS384',
    'RS512',
    'PS256',
    'PS384',
    'PS512',
    'ES256',
    'ES384',
    'ES512',
    'EdDSA',
  ]) {
    r.register({
      name: `io.jwt.verify_${alg.toLowerCase()}`,
      args: ['string', 'string'],
      result: 'boolean',
      impl: (a) => verifyAsymmetric(alg, a[0]!, a[1] as string),
    });
  }
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    r.register({
      name: `io.jwt.verify_${alg.toLowerCase()}`,
      args: ['string', 'string'],
      result: 'boolean',
      impl: (a) => {
        const t = splitToken(a[0]!);
        return verifyWith(alg, Buffer.from(a[1] as string, 'utf8'), signingInput(t), signatureBytes(t));
      },
    });
  }
  r.register({
    name: 'io.jwt.decode_verify',
    args: ['string', 'object'],
    result: 'array',
    impl: (a, ctx) => decodeVerify(a[0]!, a[1] as ObjectValue, ctx),
  });
  r.register({
    name: 'io.jwt.encode_sign_raw',
    args: ['string', 'string', 'string'],
    result: 'string',
    impl: (a) => encodeSign(a[0] as string, a[1] as string, a[2] as string),
  });
  r.register({
    name: 'io.jwt.encode_sign',
    args: ['object', 'object', 'object'],
    result: 'string',
    impl: (a) => encodeSign(marshal(a[0]!), marshal(a[1]!), marshal(a[2]!)),
  });
}
