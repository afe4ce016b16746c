/**
 * Crypto builtins backed by node:crypto: hashes, HMACs (with a constant-time crypto.hmac.equal), X.509 certificate
 * and CSR parsing, chain verification (with Go's VerifyOptions: DNSName, CurrentTime, KeyUsages), and private-key
 * parsing (as JWKs).
 *
 * Parsed certificates are objects with the field names of Go's x509.Certificate that policies use (Subject,
 * Issuer, SerialNumber, NotBefore, NotAfter, DNSNames, EmailAddresses, IPAddresses, URIStrings, Raw, ...); Go's
 * internal fields (raw TBS bytes, parsed extensions) are not reproduced.
 */
import { X509Certificate, createHash, createHmac, createPrivateKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { BuiltinContext, BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import { ObjectValue, SetValue, fromBigInt, fromJS, isNumber, toBigInt } from '../value.js';
import { base64StdDecode } from './encoding.js';

// ---------------------------------------------------------------------------------------------------------------
// A minimal DER reader (enough for Names, CSRs and splitting certificate chains)

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly header: number;
  readonly len: number;
}

function readTlv(b: Uint8Array, at: number): Tlv {
  if (at + 2 > b.length) throw new BuiltinError('asn1: structure error: truncated');
  const tag = b[at]!;
  let len = b[at + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > b.length)
      throw new BuiltinError('asn1: structure error: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[at + 2 + i]!;
    header += n;
  }
  if (at + header + len > b.length) throw new BuiltinError('asn1: structure error: data truncated');
  return { tag, start: at, header, len };
}

function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = t.start + t.header;
  const end = at + t.len;
  while (at < end) {
    const c = readTlv(b, at);
    out.push(c);
    at = c.start + c.header + c.len;
  }
  return out;
}

function oidText(b: Uint8Array, t: Tlv): string {
  const body = b.subarray(t.start + t.header, t.start + t.header + t.len);
  const parts: number[] = [];
  let v = 0;
  for (const x of body) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const NAME_FIELDS: Record<string, string> = {
  '2.5.4.6': 'Country',
  '2.5.4.10': 'Organization',
  '2.5.4.11': 'OrganizationalUnit',
  '2.5.4.7': 'Locality',
  '2.5.4.8': 'Province',
  '2.5.4.9': 'StreetAddress',
  '2.5.4.17': 'PostalCode',
};

/** A pkix.Name as Go marshals it. */
function parseName(b: Uint8Array, name: Tlv): ObjectValue {
  const multi: Record<string, string[]> = {};
  let cn = '';
  let serial = '';
  const names: ObjectValue[] = [];
  for (const rdn of children(b, name)) {
    for (const atv of children(b, rdn)) {
      const [oidT, valT] = children(b, atv);
      if (!oidT || !valT) continue;
      const oid = oidText(b, oidT);
      const raw = b.subarray(valT.start + valT.header, valT.start + valT.header + valT.len);
      const text =
        valT.tag === 0x1e ? Buffer.from(raw).swap16().toString('utf16le') : Buffer.from(raw).toString('utf8');
      const type = oid.split('.').map(Number);
      names.push(ObjectValue.fromRecord({ Type: type, Value: text }));
      if (oid === '2.5.4.3') cn = text;
      else if (oid === '2.5.4.5') serial = text;
      else if (NAME_FIELDS[oid]) (multi[NAME_FIELDS[oid]] ??= []).push(text);
    }
  }
  const o = new ObjectValue();
  for (const f of Object.values(NAME_FIELDS)) o.set(f, multi[f] ?? null);
  o.set('SerialNumber', serial);
  o.set('CommonName', cn);
  o.set('Names', names);
  o.set('ExtraNames', null);
  return o;
}

/** Split concatenated DER structures (a certificate chain in one blob). */
function splitDer(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < b.length) {
    let t: Tlv;
    try {
      t = readTlv(b, at);
    } catch {
      throw new BuiltinError('x509: malformed certificate');
    }
    if (t.tag !== 0x30) throw new BuiltinError('x509: malformed certificate');
    out.push(b.subarray(at, at + t.header + t.len));
    at += t.header + t.len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// PEM

interface PemBlock {
  readonly type: string;
  readonly der: Buffer;
}

function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ type: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

/** PEM text, base64 of PEM, or base64 of DER (OPA's getX509CertsFromString). */
function certificateDers(input: string): Uint8Array[] {
  if (input.startsWith('-----BEGIN'))
    return pemBlocks(input)
      .filter((p) => p.type === 'CERTIFICATE')
      .map((p) => p.der);
  const raw = base64StdDecode(input);
  if (raw.subarray(0, 10).toString() === '-----BEGIN') {
    return pemBlocks(raw.toString('utf8'))
      .filter((p) => p.type === 'CERTIFICATE')
      .map((p) => p.der);
  }
  return splitDer(raw);
}

function parseCert(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new BuiltinError('x509: malformed certificate');
  }
}

/** subjectAltName text ("DNS:a, URI:b, IP Address:c") into its kinds. */
function altNames(cert: X509Certificate): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const text = cert.subjectAltName;
  if (!text) return out;
  for (const part of text.split(/,\s*/)) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    (out[part.slice(0, i)] ??= []).push(part.slice(i + 1).replace(/^"|"$/g, ''));
  }
  return out;
}

function goTime(text: string): string {
  return new Date(text).toISOString().replace('.000Z', 'Z');
}

function certObject(cert: X509Certificate): ObjectValue {
  const der = new Uint8Array(cert.raw);
  const top = readTlv(der, 0);
  const [tbs] = children(der, top);
  const fields = children(der, tbs!);
  // TBSCertificate: [0] version?, serial, sigAlg, issuer, validity, subject, ...
  const off = fields[0]!.tag === 0xa0 ? 1 : 0;
  const alt = altNames(cert);
  const o = new ObjectValue();
  o.set('Raw', Buffer.from(der).toString('base64'));
  o.set('Version', off ? der[fields[0]!.start + fields[0]!.header + 2]! + 1 : 1);
  o.set('SerialNumber', fromBigInt(BigInt('0x' + cert.serialNumber)));
  o.set('Issuer', parseName(der, fields[off + 2]!));
  o.set('Subject', parseName(der, fields[off + 4]!));
  o.set('NotBefore', goTime(cert.validFrom));
  o.set('NotAfter', goTime(cert.validTo));
  o.set('IsCA', cert.ca);
  o.set('DNSNames', alt.DNS ?? null);
  o.set('EmailAddresses', alt.email ?? null);
  o.set('IPAddresses', alt['IP Address'] ?? null);
  o.set('URIStrings', alt.URI ?? null);
  o.set('PublicKeyAlgorithm', publicKeyAlgorithm(cert.publicKey));
  return o;
}

/** Go's x509.PublicKeyAlgorithm enumeration. */
const KEY_ALGORITHMS: Record<string, number> = { rsa: 1, dsa: 2, ec: 3, ed25519: 4 };

function publicKeyAlgorithm(k: KeyObject): number {
  return KEY_ALGORITHMS[k.asymmetricKeyType ?? ''] ?? 0;
}

/** OPA's KeyUsages option names -> extended key usage OIDs (Go's x509.ExtKeyUsage). */
const EXT_KEY_USAGES: Record<string, string> = {
  KeyUsageAny: '2.5.29.37.0',
  KeyUsageServerAuth: '1.3.6.1.5.5.7.3.1',
  KeyUsageClientAuth: '1.3.6.1.5.5.7.3.2',
  KeyUsageCodeSigning: '1.3.6.1.5.5.7.3.3',
  KeyUsageEmailProtection: '1.3.6.1.5.5.7.3.4',
  KeyUsageIPSECEndSystem: '1.3.6.1.5.5.7.3.5',
  KeyUsageIPSECTunnel: '1.3.6.1.5.5.7.3.6',
  KeyUsageIPSECUser: '1.3.6.1.5.5.7.3.7',
  KeyUsageTimeStamping: '1.3.6.1.5.5.7.3.8',
  KeyUsageOCSPSigning: '1.3.6.1.5.5.7.3.9',
  KeyUsageMicrosoftServerGatedCrypto: '1.3.6.1.4.1.311.10.3.3',
  KeyUsageNetscapeServerGatedCrypto: '2.16.840.1.113730.4.1',
  KeyUsageMicrosoftCommercialCodeSigning: '1.3.6.1.4.1.311.2.1.22',
  KeyUsageMicrosoftKernelCodeSigning: '1.3.6.1.4.1.311.61.1.1',
};

/** Go's x509.VerifyOptions, the subset OPA passes through. */
interface VerifyOptions {
  nowMs: number;
  /** The leaf must be valid for this host name (SAN DNS names, wildcards; IP SANs when it is an address). */
  dnsName?: string;
  /** Extended key usage OIDs; empty means server auth, like Go. */
  keyUsages: string[];
}

/** Go's chain check of extended key usages: every certificate that restricts them must allow one requested. */
function usagesAllowed(chain: readonly X509Certificate[], wanted: readonly string[]): boolean {
  const want = wanted.length ? wanted : [EXT_KEY_USAGES.KeyUsageServerAuth!];
  if (want.includes(EXT_KEY_USAGES.KeyUsageAny!)) return true;
  let usages: string[] | undefined;
  for (const c of chain) {
    const eku = c.keyUsage as string[] | undefined;
    if (!eku || eku.length === 0 || eku.includes(EXT_KEY_USAGES.KeyUsageAny!)) continue;
    usages = usages ? usages.filter((u) => eku.includes(u)) : eku;
  }
  return usages === undefined || want.some((w) => usages.includes(w));
}

function hostAllowed(leaf: X509Certificate, name: string): boolean {
  const host = name.replace(/^\[|\]$/g, '');
  if (isIP(host)) return leaf.checkIP(host) !== undefined;
  // Go never falls back to the subject CN and accepts only whole-label leftmost wildcards.
  return (
    leaf.checkHost(host, { subject: 'never', partialWildcards: false, multiLabelWildcards: false }) !==
    undefined
  );
}

/** Verify a chain given root first and leaf last; returns the chain leaf-first when valid. */
function verifyChain(certs: X509Certificate[], opts: VerifyOptions): X509Certificate[] | undefined {
  if (certs.length < 2) return undefined;
  for (const c of certs) {
    if (Date.parse(c.validFrom) > opts.nowMs || Date.parse(c.validTo) < opts.nowMs) return undefined;
  }
  const root = certs[0]!;
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) return undefined;
  for (let i = 1; i < certs.length; i++) {
    const issuer = certs[i - 1]!;
    const c = certs[i]!;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return undefined;
    if (!issuer.ca) return undefined;
  }
  const chain = [...certs].reverse();
  if (opts.dnsName !== undefined && opts.dnsName !== '' && !hostAllowed(chain[0]!, opts.dnsName))
    return undefined;
  if (!usagesAllowed(chain, opts.keyUsages)) return undefined;
  return chain;
}

/** OPA's extractVerifyOpts: known keys with the right types, or a builtin error. */
function verifyOptions(o: ObjectValue, ctx: BuiltinContext): VerifyOptions {
  const out: VerifyOptions = { nowMs: nowMs(ctx), keyUsages: [] };
  for (const [k, v] of o.entries()) {
    if (typeof k !== 'string') continue;
    switch (k) {
      case 'DNSName':
        if (typeof v !== 'string') throw new BuiltinError("'DNSName' should be a string");
        out.dnsName = v.replace(/^"+|"+$/g, '');
        break;
      case 'CurrentTime': {
        if (!isNumber(v)) throw new BuiltinError("'CurrentTime' should be a number");
        const ns = toBigInt(v);
        if (ns === undefined || ns > 2n ** 63n - 1n || ns < -(2n ** 63n))
          throw new BuiltinError("'CurrentTime' should be a valid int64 number");
        out.nowMs = Number(ns / 1_000_000n);
        break;
      }
      case 'MaxConstraintComparisons': {
        // Name constraints are not checked here; the option is validated like OPA does.
        if (!isNumber(v)) throw new BuiltinError("'MaxConstraintComparisons' should be a number");
        if (toBigInt(v) === undefined)
          throw new BuiltinError("'MaxConstraintComparisons' should be a valid number");
        break;
      }
      case 'KeyUsages': {
        const items = Array.isArray(v)
          ? (v as readonly Value[])
          : v instanceof SetValue
            ? v.values()
            : undefined;
        if (!items) throw new BuiltinError("'KeyUsages' should be an Array or Set");
        const invalid: string[] = [];
        for (const u of items) {
          if (typeof u !== 'string') continue;
          const oid = EXT_KEY_USAGES[u.replace(/^"+|"+$/g, '')];
          if (oid) out.keyUsages.push(oid);
          else invalid.push(u);
        }
        if (invalid.length)
          throw new BuiltinError(`invalid entries for 'KeyUsages' found: [${invalid.join(' ')}]`);
        break;
      }
      default:
        throw new BuiltinError('invalid key option');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// CSRs and keys

function csrObject(der: Uint8Array): ObjectValue {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30) throw new BuiltinError('asn1: structure error');
  const [info] = children(der, top);
  if (!info || info.tag !== 0x30) throw new BuiltinError('asn1: structure error');
  const fields = children(der, info);
  if (fields.length < 3 || fields[1]!.tag !== 0x30) throw new BuiltinError('asn1: structure error');
  const o = new ObjectValue();
  o.set('Raw', Buffer.from(der).toString('base64'));
  o.set('Version', 0);
  o.set('Subject', parseName(der, fields[1]!));
  return o;
}

function csrDer(input: string): Uint8Array {
  let text = input;
  if (!input.startsWith('-----BEGIN')) {
    const raw = base64StdDecode(input);
    if (raw.subarray(0, 10).toString() !== '-----BEGIN') return raw;
    text = raw.toString('utf8');
  }
  const block = pemBlocks(text).find(
    (b) => b.type === 'CERTIFICATE REQUEST' || b.type === 'NEW CERTIFICATE REQUEST',
  );
  if (!block) throw new BuiltinError('invalid PEM-encoded certificate signing request');
  return block.der;
}

function keyToJWK(k: KeyObject): Value {
  return fromJS(k.export({ format: 'jwk' }));
}

function pemText(input: string): string {
  if (input.startsWith('-----BEGIN')) return input;
  const raw = base64StdDecode(input);
  return raw.toString('utf8');
}

function privateKeys(text: string): Value[] {
  const out: Value[] = [];
  for (const b of pemBlocks(text)) {
    if (!/PRIVATE KEY$/.test(b.type)) continue;
    try {
      const pem = `-----BEGIN ${b.type}-----\n${b.der.toString('base64')}\n-----END ${b.type}-----\n`;
      out.push(keyToJWK(createPrivateKey(pem)));
    } catch {
      // OPA skips blocks it cannot parse.
    }
  }
  return out;
}

function nowMs(ctx: BuiltinContext): number {
  return Number(ctx.nowNs / 1_000_000n);
}

export function register(r: BuiltinRegistry): void {
  for (const [name, alg] of [
    ['crypto.md5', 'md5'],
    ['crypto.sha1', 'sha1'],
    ['crypto.sha256', 'sha256'],
  ] as const) {
    r.register({
      name,
      args: ['string'],
      result: 'string',
      impl: (a) =>
        createHash(alg)
          .update(a[0] as string, 'utf8')
          .digest('hex'),
    });
  }
  for (const alg of ['md5', 'sha1', 'sha256', 'sha512'] as const) {
    r.register({
      name: `crypto.hmac.${alg}`,
      args: ['string', 'string'],
      result: 'string',
      impl: (a) =>
        createHmac(alg, Buffer.from(a[1] as string, 'utf8'))
          .update(a[0] as string, 'utf8')
          .digest('hex'),
    });
  }
  r.register({
    name: 'crypto.hmac.equal',
    args: ['string', 'string'],
    result: 'boolean',
    impl: (a) => {
      const x = Buffer.from(a[0] as string, 'utf8');
      const y = Buffer.from(a[1] as string, 'utf8');
      return x.length === y.length && timingSafeEqual(x, y);
    },
  });

  r.register({
    name: 'crypto.x509.parse_certificates',
    args: ['string'],
    result: 'array',
    impl: (a) => certificateDers(a[0] as string).map((d) => certObject(parseCert(d))),
  });
  r.register({
    name: 'crypto.x509.parse_and_verify_certificates',
    args: ['string'],
    result: 'array',
    impl: (a, ctx) => {
      let certs: X509Certificate[];
      try {
        certs = certificateDers(a[0] as string).map(parseCert);
      } catch {
        return [false, []];
      }
      const chain = verifyChain(certs, { nowMs: nowMs(ctx), keyUsages: [] });
      return chain ? [true, chain.map(certObject)] : [false, []];
    },
  });
  r.register({
    name: 'crypto.x509.parse_and_verify_certificates_with_options',
    args: ['string', 'object'],
    result: 'array',
    impl: (a, ctx) => {
      // Like OPA: unparsable certificates answer [false, []] before the options are looked at.
      let certs: X509Certificate[];
      try {
        certs = certificateDers(a[0] as string).map(parseCert);
      } catch {
        return [false, []];
      }
      const chain = verifyChain(certs, verifyOptions(a[1] as ObjectValue, ctx));
      return chain ? [true, chain.map(certObject)] : [false, []];
    },
  });
  r.register({
    name: 'crypto.x509.parse_certificate_request',
    args: ['string'],
    result: 'object',
    impl: (a) => csrObject(csrDer(a[0] as string)),
  });
  r.register({
    name: 'crypto.x509.parse_keypair',
    args: ['string', 'string'],
    result: 'object',
    impl: (a) => {
      const certs = pemBlocks(pemText(a[0] as string)).filter((b) => b.type === 'CERTIFICATE');
      if (certs.length === 0) throw new BuiltinError('tls: failed to find any PEM data in certificate input');
      const keys = privateKeys(pemText(a[1] as string));
      if (keys.length === 0) throw new BuiltinError('tls: failed to find any PEM data in key input');
      const leaf = parseCert(certs[0]!.der);
      const o = new ObjectValue();
      o.set(
        'Certificate',
        certs.map((c) => c.der.toString('base64')),
      );
      o.set('PrivateKey', keys[0]!);
      o.set('Leaf', certObject(leaf));
      return o;
    },
  });
  r.register({
    name: 'crypto.x509.parse_rsa_private_key',
    args: ['string'],
    result: 'object',
    impl: (a) => {
      const block = pemBlocks(pemText(a[0] as string))[0];
      if (!block) throw new BuiltinError('failed to parse PEM block containing the key');
      const pem = `-----BEGIN ${block.type}-----\n${block.der.toString('base64')}\n-----END ${block.type}-----\n`;
      let key: KeyObject;
      try {
        key = createPrivateKey(pem);
      } catch (e) {
        throw new BuiltinError(`failed to parse RSA private key: ${(e as Error).message}`);
      }
      if (key.asymmetricKeyType !== 'rsa') throw new BuiltinError('not an RSA private key');
      return keyToJWK(key);
    },
  });
  r.register({
    name: 'crypto.parse_private_keys',
    args: ['string'],
    result: 'array',
    impl: (a) => {
      const s = a[0] as string;
      if (s === '') return null;
      let text = s;
      if (!s.startsWith('-----BEGIN')) {
        try {
          text = base64StdDecode(s).toString('utf8');
        } catch {
          return [];
        }
      }
      return privateKeys(text);
    },
  });
}
