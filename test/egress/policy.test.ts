import { describe, expect, it } from 'vitest';
import { buildEgressPolicy, checkHostPattern, egressErrors, HostAllowlist } from '../../src/egress/index.js';

describe('egress policy', () => {
  it.each([
    ['*', 'bare wildcard'],
    ['*.com', 'whole top-level domain'],
    ['1.2.3.4', 'IP literals'],
    ['[::1]', 'IP literals'],
    ['*.github.io', 'anyone can create a subdomain'],
    ['foo.*.example.com', 'leftmost label'],
    ['localhost', 'localhost'],
    ['evil_host.com', 'invalid label'],
    ['example.123', 'numeric'],
  ])('refuses %s with a reason', (host, reason) => {
    const checked = checkHostPattern(host);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.reason).toContain(reason);
  });

  it('normalises and accepts names and wildcards', () => {
    expect(checkHostPattern('API.Example.com.')).toEqual({ ok: true, value: 'api.example.com' });
    expect(checkHostPattern('*.example.com')).toEqual({ ok: true, value: '*.example.com' });
  });

  it('names the refused entry in a stable error code', () => {
    try {
      buildEgressPolicy({ allow: [{ host: 'ok.example.com' }, { host: '*.com' }] });
      expect.unreachable();
    } catch (err) {
      expect(egressErrors.is(err, 'EGRESS_POLICY_INVALID')).toBe(true);
      expect((err as Error).message).toContain('allow.1.host');
      expect((err as Error).message).toContain('*.com');
    }
  });

  it('refuses an upstream proxy URL carrying credentials, without echoing them', () => {
    try {
      buildEgressPolicy({ upstreamProxy: { url: 'http://user:s3cr3t-pw@proxy.corp.example:3128' } });
      expect.unreachable();
    } catch (err) {
      expect(egressErrors.is(err, 'EGRESS_POLICY_INVALID')).toBe(true);
      expect(JSON.stringify((err as { toJSON(): unknown }).toJSON())).not.toContain('s3cr3t-pw');
    }
  });

  it('matches a wildcard on the domain and its subdomains, an exact name only on itself', () => {
    const list = new HostAllowlist(['*.example.com', 'api.other.org']);
    expect(list.allows('example.com')).toBe(true);
    expect(list.allows('a.b.example.com.')).toBe(true);
    expect(list.allows('badexample.com')).toBe(false);
    expect(list.allows('api.other.org')).toBe(true);
    expect(list.allows('x.api.other.org')).toBe(false);
  });
});

describe('one meaning of host wildcards', () => {
  it('policy decisions (policy explain) and the egress matcher (DNS, self-test) agree on every name', async () => {
    const { domainMatches } = await import('../../src/policy/index.js');
    const patterns = ['*.example.com', 'example.com', 'api.example.com', '*.a.b.example.org'];
    const hosts = [
      'example.com',
      'EXAMPLE.com.',
      'api.example.com',
      'x.api.example.com',
      'badexample.com',
      'example.com.evil.net',
      'a.b.example.org',
      'c.a.b.example.org',
      'b.example.org',
    ];
    for (const p of patterns) {
      const egress = new HostAllowlist([p]);
      for (const h of hosts) expect(egress.allows(h), `${p} vs ${h}`).toBe(domainMatches(p, h));
    }
    // The meaning both use: a wildcard covers the domain itself and every name below it (as Squid's
    // `.example.com` and a DNS zone do).
    expect(domainMatches('*.example.com', 'example.com')).toBe(true);
    expect(domainMatches('*.example.com', 'badexample.com')).toBe(false);
  });
});
