import { describe, expect, it } from 'vitest';
import { evalError, evalJS, evalRego, text } from './helpers.js';

describe('net builtins', () => {
  it('formats IPv6 addresses per RFC 5952', () => {
    expect(evalJS('net.cidr_expand("2001:db8::/127")')).toEqual(['2001:db8::', '2001:db8::1']);
    expect(evalJS('net.cidr_merge(["2001:db8:0:0:1:0:0:0/127", "2001:db8::1:0:0:1/128"])')).toEqual([
      '2001:db8:0:0:1::/127',
    ]); // longest zero run compressed
  });

  it('refuses to expand ranges larger than 65536 addresses', () => {
    expect(evalError('net.cidr_expand("10.0.0.0/8")')).toMatch(/too many addresses/);
  });

  it('treats an IPv4-mapped IPv6 address as the IPv4 address, so it cannot sidestep an IPv4 rule', () => {
    expect(evalJS('net.cidr_contains("10.0.0.0/8", "::ffff:10.1.2.3")')).toBe(true);
    expect(evalJS('net.cidr_contains("::ffff:10.0.0.0/104", "10.1.2.3")')).toBe(true);
  });

  it('does not match an IPv4 address against an IPv6 network', () => {
    expect(evalJS('net.cidr_contains("::/0", "10.0.0.1")')).toBe(false);
  });
});

describe('number builtins', () => {
  it('rounds halves away from zero and keeps big integers exact', () => {
    expect(evalJS('[round(2.5), round(-2.5), round(2.4)]')).toEqual([3, -3, 2]);
    expect(text(evalRego('abs(-9223372036854775809)'))).toBe('9223372036854775809');
  });

  it('refuses ranges longer than ten million numbers', () => {
    expect(evalError('numbers.range(0, 100000000)')).toMatch(/too large/);
  });

  it('gives the same rand.intn for the same key within one evaluation', () => {
    expect(evalJS('count({rand.intn("k", 1000) | numbers.range(1, 50)[_]})')).toBe(1);
  });

  it('works on exact big integers in bits builtins', () => {
    expect(text(evalRego('bits.lsh(1, 70)'))).toBe('1180591620717411303424');
    expect(evalError('bits.lsh(1, 100000)')).toMatch(/operand 2 must be at most/);
  });
});
