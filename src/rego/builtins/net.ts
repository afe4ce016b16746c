/**
 * CIDR builtins (net.cidr_*), with Go's net.ParseIP / net.ParseCIDR syntax. Addresses are bigints with a bit width
 * of 32 or 128. net.lookup_ip_addr is deliberately absent: policy evaluation does no I/O.
 */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError, typeError } from './registry.js';
import type { Value } from '../value.js';
import { SetValue, isArray, isObject, isSet } from '../value.js';

export interface Addr {
  readonly bits: 32 | 128;
  readonly v: bigint;
}
export interface Cidr {
  readonly bits: 32 | 128;
  /** Network address (host bits cleared). */
  readonly net: bigint;
  readonly prefix: number;
  /** The address as written (host bits kept). */
  readonly ip: bigint;
}

/** Most addresses cidr_expand will list (2^16): larger ranges are refused instead of exhausting memory. */
const MAX_EXPAND = 1n << 16n;

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  if (s.length === 0 || s.includes('%')) return undefined;
  let head = s;
  let tail4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    tail4 = parseIPv4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return undefined;
  const parseGroups = (t: string): number[] | undefined => {
    if (t === '') return [];
    const gs = t.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    const g = parseGroups(head);
    if (!g || g.length !== 8) return undefined;
    groups = g;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

const V4_MAPPED = 0xffffn << 32n;

function isV4Mapped(v: bigint): boolean {
  return v >> 32n === 0xffffn;
}

/**
 * Parse an address. Like Go, an IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address: a policy that
 * denies 10.0.0.0/8 must not be sidestepped by writing the address in IPv6 form.
 */
export function parseIP(s: string): Addr | undefined {
  if (s.includes(':')) {
    const v = parseIPv6(s);
    if (v === undefined) return undefined;
    return isV4Mapped(v) ? { bits: 32, v: v & 0xffffffffn } : { bits: 128, v };
  }
  const v = parseIPv4(s);
  return v === undefined ? undefined : { bits: 32, v };
}

function mask(bits: number, prefix: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

export function parseCIDR(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  let prefix = Number(p);
  const v6 = s.slice(0, slash).includes(':');
  if (prefix > (v6 ? 128 : 32)) return undefined;
  // An IPv4-mapped network with a prefix inside the IPv4 part is that IPv4 network (Go does the same).
  if (v6 && ip.bits === 32) {
    if (prefix < 96)
      return { bits: 128, prefix, ip: ip.v | V4_MAPPED, net: (ip.v | V4_MAPPED) & mask(128, prefix) };
    prefix -= 96;
  }
  return { bits: ip.bits, prefix, ip: ip.v, net: ip.v & mask(ip.bits, prefix) };
}

function mustCIDR(s: string): Cidr {
  const c = parseCIDR(s);
  if (!c) throw new BuiltinError(`invalid CIDR address: ${s}`);
  return c;
}

/** A CIDR, or a single address as a full-length prefix. */
function cidrOrIP(s: string): Cidr {
  const c = parseCIDR(s);
  if (c) return c;
  const ip = parseIP(s);
  if (!ip) throw new BuiltinError(`invalid CIDR address: ${s}`);
  return { bits: ip.bits, prefix: ip.bits, ip: ip.v, net: ip.v };
}

function lastAddr(c: Cidr): bigint {
  return c.net | ((1n << BigInt(c.bits - c.prefix)) - 1n);
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.bits !== inner.bits) return false;
  return inner.prefix >= outer.prefix && (inner.net & mask(outer.bits, outer.prefix)) === outer.net;
}

export function formatIP(a: Addr): string {
  if (a.bits === 32) {
    const v = Number(a.v);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.v >> BigInt(i * 16)) & 0xffffn));
  // Go prints IPv4-mapped addresses in dotted form.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return '::ffff:' + formatIP({ bits: 32, v: a.v & 0xffffffffn });
  }
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

function formatCIDR(bits: 32 | 128, net: bigint, prefix: number): string {
  return `${formatIP({ bits, v: net })}/${prefix}`;
}

/** Go's IP.DefaultMask: the classful prefix of an IPv4 address. */
function defaultPrefix(v: bigint): number {
  const first = Number(v >> 24n);
  if (first < 0x80) return 8;
  if (first < 0xc0) return 16;
  return 24;
}

/** Merge CIDRs into the smallest list of blocks covering the same addresses (IPv4 first, then IPv6). */
function mergeCIDRs(items: readonly string[]): string[] {
  const byFamily: Record<32 | 128, [bigint, bigint][]> = { 32: [], 128: [] };
  for (const s of items) {
    let c = parseCIDR(s);
    if (!c) {
      const ip = parseIP(s);
      if (!ip) throw new BuiltinError(`invalid IP address: ${s}`);
      if (ip.bits === 128) throw new BuiltinError('IPv6 invalid: needs prefix length');
      const prefix = defaultPrefix(ip.v);
      c = { bits: 32, prefix, ip: ip.v, net: ip.v & mask(32, prefix) };
    }
    byFamily[c.bits].push([c.net, lastAddr(c)]);
  }
  const out: string[] = [];
  for (const bits of [32, 128] as const) {
    const ranges = byFamily[bits].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const [lo, hi] of ranges) {
      const last = merged[merged.length - 1];
      if (last && lo <= last[1] + 1n) {
        if (hi > last[1]) last[1] = hi;
      } else merged.push([lo, hi]);
    }
    for (const [lo0, hi] of merged) {
      let lo = lo0;
      while (lo <= hi) {
        // Largest aligned block starting at lo that fits in [lo, hi].
        let size = BigInt(bits);
        while (size > 0n) {
          const block = 1n << size;
          if ((lo & (block - 1n)) === 0n && lo + block - 1n <= hi) break;
          size--;
        }
        out.push(formatCIDR(bits, lo, bits - Number(size)));
        lo += 1n << size;
      }
    }
  }
  return out;
}

/** Entries of a cidr_contains_matches operand: [key, address text]. */
function matchEntries(v: Value, pos: number): [Value, string][] {
  const elem = (x: Value): string => {
    if (typeof x === 'string') return x;
    if (isArray(x) && x.length > 0 && typeof x[0] === 'string') return x[0];
    throw new BuiltinError(`operand ${pos}: element must be string or non-empty array`);
  };
  if (typeof v === 'string') return [[v, v]];
  if (isArray(v)) return v.map((x, i) => [i, elem(x)]);
  if (isSet(v)) return v.values().map((x) => [x, elem(x)]);
  if (isObject(v)) return v.entries().map(([k, x]) => [k, elem(x)]);
  throw typeError(pos, v, ['string', 'array', 'set', 'object']);
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'net.cidr_contains',
    aliases: ['net.cidr_overlap'],
    args: ['string', 'string'],
    result: 'boolean',
    impl: (a) => contains(mustCIDR(a[0] as string), cidrOrIP(a[1] as string)),
  });
  r.register({
    name: 'net.cidr_intersects',
    args: ['string', 'string'],
    result: 'boolean',
    impl: (a) => {
      const x = mustCIDR(a[0] as string);
      const y = mustCIDR(a[1] as string);
      return contains(x, y) || contains(y, x);
    },
  });
  r.register({
    name: 'net.cidr_is_valid',
    args: ['string'],
    result: 'boolean',
    impl: (a) => parseCIDR(a[0] as string) !== undefined,
  });
  r.register({
    name: 'net.cidr_expand',
    args: ['string'],
    result: 'set',
    impl: (a) => {
      const c = mustCIDR(a[0] as string);
      const count = 1n << BigInt(c.bits - c.prefix);
      if (count > MAX_EXPAND)
        throw new BuiltinError(`CIDR ${a[0] as string} has too many addresses to expand`);
      const out = new SetValue();
      for (let i = 0n; i < count; i++) out.add(formatIP({ bits: c.bits, v: c.net + i }));
      return out;
    },
  });
  r.register({
    name: 'net.cidr_merge',
    args: [['array', 'set']],
    result: 'set',
    impl: (a) => {
      const v = a[0]!;
      const items = isSet(v) ? v.values() : (v as readonly Value[]);
      const strs = items.map((x) => {
        if (typeof x !== 'string') throw typeError(1, x, 'string');
        return x;
      });
      return SetValue.of(mergeCIDRs(strs));
    },
  });
  r.register({
    name: 'net.cidr_contains_matches',
    args: [
      ['string', 'array', 'set', 'object'],
      ['string', 'array', 'set', 'object'],
    ],
    result: 'set',
    impl: (a) => {
      const cidrs = matchEntries(a[0]!, 1).map(([k, s]) => [k, mustCIDR(s)] as const);
      const addrs = matchEntries(a[1]!, 2).map(([k, s]) => [k, cidrOrIP(s)] as const);
      const out = new SetValue();
      for (const [ck, c] of cidrs) for (const [ak, x] of addrs) if (contains(c, x)) out.add([ck, ak]);
      return out;
    },
  });
}
