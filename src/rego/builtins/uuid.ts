/**
 * uuid.parse (RFC 4122 fields, like Go's google/uuid) and uuid.rfc4122 (a random v4 UUID that stays the same for
 * the same key within one query evaluation, like OPA).
 */
import type { BuiltinRegistry } from './registry.js';
import { ObjectValue, fromBigInt } from '../value.js';

const VARIANTS = ['Reserved', 'RFC4122', 'Microsoft', 'Future'];
const DOMAINS: Record<number, string> = { 0: 'Person', 1: 'Group', 2: 'Org' };
/** 100-ns intervals between 1582-10-15 and 1970-01-01. */
const GREGORIAN_OFFSET = 0x01b21dd213814000n;

function parseBytes(s: string): Uint8Array | undefined {
  let hex: string;
  if (s.length === 36) hex = dashed(s);
  else if (s.length === 38 && s.startsWith('{') && s.endsWith('}')) hex = dashed(s.slice(1, -1));
  else if (s.length === 45 && s.toLowerCase().startsWith('urn:uuid:')) hex = dashed(s.slice(9));
  else if (s.length === 32) hex = s;
  else return undefined;
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function dashed(s: string): string {
  if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return 'x';
  return s.replaceAll('-', '');
}

function variantOf(b: Uint8Array): string {
  const v = b[8]!;
  if ((v & 0xc0) === 0x80) return VARIANTS[1]!;
  if ((v & 0xe0) === 0xc0) return VARIANTS[2]!;
  if ((v & 0xe0) === 0xe0) return VARIANTS[3]!;
  return VARIANTS[0]!;
}

function describe(b: Uint8Array): ObjectValue {
  const o = new ObjectValue();
  const version = b[6]! >> 4;
  o.set('version', version);
  o.set('variant', variantOf(b));
  if (version === 1 || version === 2) {
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    const t =
      BigInt(dv.getUint32(0)) | (BigInt(dv.getUint16(4)) << 32n) | (BigInt(dv.getUint16(6) & 0x0fff) << 48n);
    o.set('time', fromBigInt((t - GREGORIAN_OFFSET) * 100n));
    o.set('clocksequence', dv.getUint16(8) & 0x3fff);
    const node = [...b.slice(10, 16)].map((x) => x.toString(16).padStart(2, '0')).join('-');
    o.set('nodeid', node);
    const first = b[10]!;
    o.set('macvariables', `${first & 0x02 ? 'local' : 'global'}:${first & 0x01 ? 'multicast' : 'unicast'}`);
    if (version === 2) {
      o.set('domain', DOMAINS[b[9]!] ?? `Domain${b[9]!}`);
      o.set('id', dv.getUint32(0));
    }
  }
  return o;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'uuid.parse',
    args: ['string'],
    result: 'object',
    impl: (a) => {
      const b = parseBytes(a[0] as string);
      return b === undefined ? undefined : describe(b);
    },
  });
  r.register({
    name: 'uuid.rfc4122',
    args: ['string'],
    result: 'string',
    nondeterministic: true,
    impl: (a, ctx) => {
      const key = 'uuid.rfc4122\u0000' + (a[0] as string);
      const hit = ctx.cache.get(key);
      if (typeof hit === 'string') return hit;
      const b = new Uint8Array(16);
      for (let i = 0; i < 16; i++) b[i] = Math.floor(ctx.random() * 256);
      b[6] = (b[6]! & 0x0f) | 0x40;
      b[8] = (b[8]! & 0x3f) | 0x80;
      const h = Buffer.from(b).toString('hex');
      const s = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      ctx.cache.set(key, s);
      return s;
    },
  });
}
