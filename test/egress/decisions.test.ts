import { describe, expect, it } from 'vitest';
import { checkRuleset, parseSquidLogLine } from '../../src/egress/index.js';

describe('proxy decision log lines', () => {
  it('turns a refused request into a deny decision with its reason', () => {
    const d = parseSquidLogLine(
      'aibox1 sbx_a dec_0badcafe53 1795337088.494 GET 403 TCP_DENIED 403:ERR_AIBOX_DOMAIN http://evil.test/',
    );
    expect(d).toEqual({
      id: 'dec_0badcafe53',
      sandboxId: 'sbx_a',
      time: 1795337088494,
      layer: 'proxy',
      verdict: 'deny',
      reason: 'EGRESS_DOMAIN_NOT_ALLOWED',
      target: 'http://evil.test/',
      kind: 'GET',
      detail: { status: 403, squid: 'TCP_DENIED', page: 'ERR_AIBOX_DOMAIN' },
    });
  });

  it('turns a served request into an allow decision and ignores other lines', () => {
    const d = parseSquidLogLine(
      'aibox1 sbx_a dec_0badcafe54 1795337088.5 CONNECT 200 TCP_TUNNEL - allowed.test:443',
    );
    expect(d).toMatchObject({
      verdict: 'allow',
      reason: 'EGRESS_ALLOWED',
      kind: 'CONNECT',
      target: 'allowed.test:443',
    });
    expect(
      parseSquidLogLine('1795337088.973 1 127.0.0.1 TCP_DENIED/403 408 GET http://x/ - HIER_NONE/-'),
    ).toBeUndefined();
  });
});

describe('proxy decision log lines with TLS (aibox2)', () => {
  it('reads an inspected request with its full URL, TLS mode and SNI', () => {
    const d = parseSquidLogLine(
      'aibox2 sbx_a dec_0badcafe60 1795337088.5 PUT 403 TCP_DENIED 403:ERR_AIBOX_HTTP_1 bump api.test https://api.test:8443/repos/x?y=1',
    );
    expect(d).toMatchObject({
      verdict: 'deny',
      reason: 'EGRESS_HTTP_NOT_ALLOWED',
      kind: 'PUT',
      target: 'https://api.test:8443/repos/x?y=1',
      detail: { status: 403, page: 'ERR_AIBOX_HTTP_1', tls: 'bump', sni: 'api.test' },
    });
  });

  it('counts a connection terminated for its SNI as a refusal, even though Squid logs status 200', () => {
    const d = parseSquidLogLine(
      'aibox2 sbx_a dec_0badcafe65 1795337088.5 CONNECT 200 NONE_NONE - terminate other.test a.test:443',
    );
    expect(d).toMatchObject({
      verdict: 'deny',
      reason: 'EGRESS_SNI_MISMATCH',
      detail: { sni: 'other.test' },
    });
  });

  it('reads a spliced tunnel and a refused Host/SNI mismatch', () => {
    expect(
      parseSquidLogLine(
        'aibox2 sbx_a dec_0badcafe66 1795337088.5 CONNECT 200 TCP_TUNNEL - splice b.test b.test:443',
      ),
    ).toMatchObject({ verdict: 'allow', reason: 'EGRESS_ALLOWED', detail: { tls: 'splice' } });
    expect(
      parseSquidLogLine(
        'aibox2 sbx_a dec_0badcafe67 1795337088.5 GET 403 TCP_DENIED 403:ERR_AIBOX_FRONTING bump a.test https://b.test/',
      ),
    ).toMatchObject({ verdict: 'deny', reason: 'EGRESS_SNI_MISMATCH' });
  });
});

describe('ruleset read-back check', () => {
  const input = {
    sandboxId: 's',
    hostAddress: '10.0.2.2',
    proxyPort: 3128,
    dnsPort: 5353,
    gateways: [],
    tcp: [],
  };
  const chain = (name: string, hook: string, policy: string) => ({ chain: { name, hook, policy } });
  const accept = (addr: string, proto: string, port: number) => ({
    rule: {
      chain: 'output',
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: addr } },
        { match: { op: '==', left: { payload: { protocol: proto, field: 'dport' } }, right: port } },
        { accept: null },
      ],
    },
  });
  const base = [
    chain('output', 'output', 'drop'),
    chain('input', 'input', 'drop'),
    chain('forward', 'forward', 'drop'),
    chain('dns_redirect', 'output', 'accept'),
    accept('10.0.2.2', 'tcp', 3128),
    accept('10.0.2.2', 'udp', 5353),
    accept('10.0.2.2', 'tcp', 5353),
    { rule: { chain: 'output', expr: [{ reject: {} }] } },
    { rule: { chain: 'output', expr: [{ reject: {} }] } },
    { rule: { chain: 'dns_redirect', expr: [{ dnat: {} }] } },
    { rule: { chain: 'dns_redirect', expr: [{ dnat: {} }] } },
  ];

  it('accepts the table it rendered', () => {
    expect(checkRuleset({ nftables: base }, input)).toEqual([]);
  });

  it('notices an extra accepted endpoint and an output chain that accepts by default', () => {
    const tampered = [...base, accept('10.0.2.2', 'tcp', 22)];
    tampered[0] = chain('output', 'output', 'accept');
    const problems = checkRuleset({ nftables: tampered }, input);
    expect(problems).toContain('chain output is output/accept');
    expect(problems).toContain('unexpected accept 10.0.2.2 tcp 22');
  });
});
