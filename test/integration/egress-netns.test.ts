/**
 * Egress enforcement against real nftables, Squid and dig/curl, before any sandbox exists: each "sandbox" is a
 * network namespace the test creates, joined to the host by its own veth pair. Test servers listen on loopback and
 * on the host end of those pairs; nothing else is ever addressed.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EgressConfig,
  EgressManager,
  buildEgressPolicy,
  freePort,
  type EgressDecision,
} from '../../src/egress/index.js';
import type { EgressPolicyInput } from '../../src/egress/index.js';
import { createNetns, netnsSkipReason, type TestNetns } from '../egress/support/netns.js';
import { startDnsmasq, startOrigin, type Dnsmasq, type Origin } from '../egress/support/servers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skip = await netnsSkipReason(['openssl']);
if (skip) console.warn(`egress-netns: skipped: ${skip}`);

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

describe.skipIf(skip !== undefined)('egress enforced in a test network namespace', () => {
  let a: TestNetns;
  let b: TestNetns;
  let origin: Origin;
  let tlsOrigin: Origin;
  let vethOriginA: Origin;
  let v6OriginA: Origin;
  let upstream: Dnsmasq;
  let stateDir: string;
  let manager: EgressManager;
  const decisions: EgressDecision[] = [];
  let policyA: EgressPolicyInput;

  const curl = (ns: TestNetns, args: string[]) => ns.exec('curl', ['-sS', '--max-time', '5', ...args]);
  const proxyOf = (id: string) => manager.endpoints(id).proxy;

  beforeAll(async () => {
    a = await createNetns(61);
    b = await createNetns(62);
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-egress-'));
    origin = await startOrigin('loopback', '127.0.0.1');
    tlsOrigin = await startOrigin('tls', '127.0.0.1', true);
    vethOriginA = await startOrigin('veth', a.host4);
    v6OriginA = await startOrigin('v6', a.host6);
    const dnsPort = await freePort('127.0.0.1');
    upstream = await startDnsmasq(['127.0.0.1', a.host4], dnsPort, { 'fwd.test': '127.0.0.1' });
    manager = new EgressManager({
      config: EgressConfig.parse({}),
      stateDir,
      logger: silent,
      clock: { now: () => Date.now() },
      sink: (d) => decisions.push(d),
      upstreamDns: [{ address: '127.0.0.1', port: dnsPort }],
    });
    const hostAccess = [
      { address: '127.0.0.1', port: origin.port },
      { address: '127.0.0.1', port: tlsOrigin.port },
    ];
    policyA = {
      allow: [
        { host: 'allowed.test', ports: [origin.port, tlsOrigin.port] },
        { host: '*.fwd.test', ports: [origin.port] },
        { host: 'loop.test', ports: [origin.port, 1] },
        { host: 'direct.test', ports: [vethOriginA.port] },
      ],
      dnsHosts: {
        'allowed.test': '127.0.0.1',
        'loop.test': '127.0.0.1',
        'direct.test': a.host4,
        'b.test': '127.0.0.1',
      },
      hostAccess,
    };
    await manager.prepare('sbx_a', buildEgressPolicy(policyA), {
      listenAddress: a.host4,
      sandboxHostAddress: a.host4,
    });
    await manager.prepare(
      'sbx_b',
      buildEgressPolicy({
        allow: [{ host: 'b.test', ports: [origin.port] }],
        dnsHosts: policyA.dnsHosts,
        hostAccess,
      }),
      { listenAddress: b.host4, sandboxHostAddress: b.host4 },
    );
  });

  afterAll(async () => {
    await manager?.release('sbx_a', a ? { name: a.name } : undefined);
    await manager?.release('sbx_b', b ? { name: b.name } : undefined);
    await manager?.close();
    await upstream?.stop();
    for (const o of [origin, tlsOrigin, vethOriginA, v6OriginA]) await o?.close();
    await a?.destroy();
    await b?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('reaches the host directly before the ruleset is applied (the bypass tests below can fail)', async () => {
    const direct = await curl(a, ['--noproxy', '*', `http://${a.host4}:${vethOriginA.port}/`]);
    expect(direct.stdout).toContain('origin veth');
    const v6 = await curl(a, ['--noproxy', '*', '-g', `http://[${a.host6}]:${v6OriginA.port}/`]);
    expect(v6.stdout).toContain('origin v6');
    expect((await a.exec('ping', ['-c', '1', '-W', '1', a.host4])).exitCode).toBe(0);
    const otherDns = await a.exec('dig', [
      '+time=1',
      '+tries=1',
      `@${a.host4}`,
      '-p',
      String(upstream.port),
      'fwd.test',
    ]);
    expect(otherDns.stdout).toContain('status: NOERROR');
  });

  it('applies the ruleset atomically and reads it back', async () => {
    await manager.attach('sbx_a', { name: a.name });
    await manager.attach('sbx_b', { name: b.name });
    const listed = await execa('ip', ['netns', 'exec', a.name, 'nft', 'list', 'tables']);
    expect(listed.stdout).toContain('table inet aibox_sbx_a');
    await expect(manager.verify('sbx_a')).resolves.toEqual({ deniedPackets: expect.any(Number) });
  });

  it('resolves an allowed name and answers NXDOMAIN for an unlisted one, whatever DNS server is asked', async () => {
    const ok = await a.exec('dig', ['+short', '+time=2', '+tries=1', `@${a.host4}`, 'allowed.test']);
    expect(ok.stdout.trim()).toBe('127.0.0.1');
    const fwd = await a.exec('dig', ['+short', '+time=2', '+tries=1', `@${a.host4}`, 'x.fwd.test']);
    expect(fwd.stdout.trim()).toBe('127.0.0.1');
    const evil = await a.exec('dig', ['+time=2', '+tries=1', `@${a.host4}`, 'evil.test', 'TXT']);
    expect(evil.stdout).toContain('status: NXDOMAIN');
    const tunnel = await a.exec('dig', [
      '+tcp',
      '+time=2',
      '+tries=1',
      `@${a.host4}`,
      'aGVsbG8.evil.test',
      'TXT',
    ]);
    expect(tunnel.stdout).toContain('status: NXDOMAIN');
    expect(decisions.some((d) => d.layer === 'dns' && d.target === 'evil.test' && d.verdict === 'deny')).toBe(
      true,
    );
  });

  it('blocks UDP and TCP to any other DNS server port', async () => {
    const other = await a.exec('dig', [
      '+time=1',
      '+tries=1',
      `@${a.host4}`,
      '-p',
      String(upstream.port),
      'fwd.test',
    ]);
    expect(other.stdout).not.toContain('status: NOERROR');
    const otherTcp = await a.exec('dig', [
      '+tcp',
      '+time=1',
      '+tries=1',
      `@${a.host4}`,
      '-p',
      String(upstream.port),
      'fwd.test',
    ]);
    expect(otherTcp.stdout).not.toContain('status: NOERROR');
  });

  it('lets an allowed request through the proxy, without Via or X-Forwarded-For', async () => {
    const r = await curl(a, ['-x', proxyOf('sbx_a'), `http://allowed.test:${origin.port}/`]);
    expect(r.stdout).toContain('origin loopback');
    expect(r.stdout.toLowerCase()).not.toContain('x-forwarded-for');
    expect(r.stdout.toLowerCase()).not.toContain('"via"');
    const tls = await curl(a, ['-k', '-x', proxyOf('sbx_a'), `https://allowed.test:${tlsOrigin.port}/`]);
    expect(tls.stdout).toContain('origin tls');
  });

  it('refuses an unlisted host with a 403 whose body names the reason and a decision id found in the log', async () => {
    const r = await curl(a, ['-i', '-x', proxyOf('sbx_a'), 'http://evil.test/']);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 403/);
    expect(r.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
    const id = /decision: (dec_[0-9a-f]+)/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    await manager.flushDecisions('sbx_a');
    expect(decisions.some((d) => d.id === id && d.layer === 'proxy' && d.verdict === 'deny')).toBe(true);
    expect(decisions.find((d) => d.id === id)?.reason).toBe('EGRESS_DOMAIN_NOT_ALLOWED');
  });

  it('refuses CONNECT to an IP literal and to a port that is not allowed', async () => {
    // A refused CONNECT on the TLS-inspecting port is answered 200, then the 403 page inside TLS (docs/egress.md).
    const ip = await curl(a, [
      '-k',
      '-w',
      '\n%{http_connect} %{http_code}',
      '-x',
      proxyOf('sbx_a'),
      `https://127.0.0.1:${tlsOrigin.port}/`,
    ]);
    expect(ip.stdout).toContain('EGRESS_IP_LITERAL');
    expect(ip.stdout.trim().endsWith('200 403')).toBe(true);
    const port22 = await curl(a, [
      '-k',
      '-w',
      '\n%{http_connect} %{http_code}',
      '-x',
      proxyOf('sbx_a'),
      'https://allowed.test:22/',
    ]);
    expect(port22.stdout).toMatch(/request refused \(EGRESS_/);
    expect(port22.stdout.trim().endsWith('200 403')).toBe(true);
    const plainIp = await curl(a, ['-i', '-x', proxyOf('sbx_a'), `http://127.0.0.1:${origin.port}/`]);
    expect(plainIp.stdout).toContain('EGRESS_IP_LITERAL');
  });

  it('never lets a Host header other than the checked target reach a server', async () => {
    // Squid 5 rewrites the Host of an absolute-form request to the target it checked (RFC 9112 §3.2.2).
    const r = await curl(a, [
      '-i',
      '-x',
      proxyOf('sbx_a'),
      '-H',
      'Host: evil.test',
      `http://allowed.test:${origin.port}/`,
    ]);
    expect(r.stdout).not.toContain('evil.test');
    expect(r.stdout).toContain(`"host":"allowed.test:${origin.port}"`);
    const unlisted = await curl(a, [
      '-i',
      '-x',
      proxyOf('sbx_a'),
      '-H',
      `Host: allowed.test:${origin.port}`,
      'http://evil.test/',
    ]);
    expect(unlisted.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
  });

  it("refuses an allowed name that resolves to the host on a port the host exemptions don't list", async () => {
    const r = await curl(a, ['-i', '-x', proxyOf('sbx_a'), 'http://loop.test:1/']);
    expect(r.stdout).toContain('EGRESS_HOST_DESTINATION');
  });

  it("refuses the proxy's own manager pages", async () => {
    const r = await curl(a, ['-i', '--noproxy', '*', `${proxyOf('sbx_a')}/squid-internal-mgr/menu`]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 403/);
  });

  it('lets nothing out with the proxy variables unset: direct TCP, IPv6 and ICMP are refused', async () => {
    const direct = await curl(a, ['--noproxy', '*', `http://${a.host4}:${vethOriginA.port}/`]);
    expect(direct.exitCode).not.toBe(0);
    expect(direct.stdout).not.toContain('origin');
    const byName = await curl(a, ['--noproxy', '*', `http://direct.test:${vethOriginA.port}/`]);
    expect(byName.exitCode).not.toBe(0);
    const v6 = await curl(a, ['--noproxy', '*', '-g', `http://[${a.host6}]:${v6OriginA.port}/`]);
    expect(v6.exitCode).not.toBe(0);
    const ping = await a.exec('ping', ['-c', '1', '-W', '1', a.host4]);
    expect(ping.exitCode).not.toBe(0);
    const udp = await a.exec('sh', ['-c', `echo x | nc -u -w1 ${a.host4} 9`]);
    expect(udp.exitCode === 0 && udp.stdout !== '').toBe(false);
    expect((await manager.verify('sbx_a')).deniedPackets).toBeGreaterThan(0);
  });

  it('keeps two sandboxes to their own allowlists', async () => {
    const bOwn = await curl(b, ['-x', proxyOf('sbx_b'), `http://b.test:${origin.port}/`]);
    expect(bOwn.stdout).toContain('origin loopback');
    const bOther = await curl(b, ['-i', '-x', proxyOf('sbx_b'), `http://allowed.test:${origin.port}/`]);
    expect(bOther.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
    const aOther = await curl(a, ['-i', '-x', proxyOf('sbx_a'), `http://b.test:${origin.port}/`]);
    expect(aOther.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
    const bDns = await b.exec('dig', ['+time=2', '+tries=1', `@${b.host4}`, 'allowed.test']);
    expect(bDns.stdout).toContain('status: NXDOMAIN');
    // b cannot use a's proxy either: only its own endpoints are open in its namespace.
    const cross = await curl(b, ['-x', proxyOf('sbx_a'), `http://allowed.test:${origin.port}/`]);
    expect(cross.exitCode).not.toBe(0);
  });

  it('applies a policy change to a running sandbox without restarting it', async () => {
    const before = await curl(b, ['-i', '-x', proxyOf('sbx_b'), `http://allowed.test:${origin.port}/`]);
    expect(before.stdout).toContain('403');
    const started = Date.now();
    await manager.update(
      'sbx_b',
      buildEgressPolicy({
        allow: [
          { host: 'b.test', ports: [origin.port] },
          { host: 'allowed.test', ports: [origin.port] },
        ],
        dnsHosts: policyA.dnsHosts,
        hostAccess: policyA.hostAccess,
      }),
    );
    const after = await curl(b, ['-x', proxyOf('sbx_b'), `http://allowed.test:${origin.port}/`]);
    expect(after.stdout).toContain('origin loopback');
    const dns = await b.exec('dig', ['+short', '+time=2', '+tries=1', `@${b.host4}`, 'allowed.test']);
    expect(dns.stdout.trim()).toBe('127.0.0.1');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('fails closed, naming the layer, when a layer cannot be set up', async () => {
    const broken = (over: Record<string, string>) =>
      new EgressManager({
        config: EgressConfig.parse(over),
        stateDir,
        logger: silent,
        clock: { now: () => Date.now() },
        sink: () => {},
        upstreamDns: [],
      });
    const opts = { listenAddress: a.host4, sandboxHostAddress: a.host4 };
    await expect(
      broken({ squid: '/bin/false' }).prepare('sbx_nosquid', buildEgressPolicy({}), opts),
    ).rejects.toMatchObject({
      code: 'EGRESS_SQUID',
    });
    const noNft = broken({ nft: '/bin/false' });
    await noNft.prepare('sbx_nonft', buildEgressPolicy({}), opts);
    await expect(noNft.attach('sbx_nonft', { name: a.name })).rejects.toMatchObject({
      code: 'EGRESS_NFTABLES',
    });
    await expect(noNft.attach('sbx_nonft', { name: 'aibox-test-gone' })).rejects.toMatchObject({
      code: 'EGRESS_NETNS',
    });
    // The host's own namespace is never a sandbox's: a default-drop ruleset there would isolate nothing.
    await expect(noNft.attach('sbx_nonft', { pid: process.pid })).rejects.toMatchObject({
      code: 'EGRESS_NETNS',
    });
    await noNft.release('sbx_nonft');
    await noNft.close();
    // sandbox a still has its own, untouched ruleset
    await expect(manager.verify('sbx_a')).resolves.toBeDefined();
  });

  it('removes its table, proxy and resolver on release', async () => {
    const proxy = proxyOf('sbx_b');
    await manager.release('sbx_b', { name: b.name });
    const tables = await execa('ip', ['netns', 'exec', b.name, 'nft', 'list', 'tables']);
    expect(tables.stdout).not.toContain('aibox_');
    const gone = await execa('curl', ['-sS', '--max-time', '2', '-x', proxy, 'http://b.test/'], {
      reject: false,
    });
    expect(gone.exitCode).not.toBe(0);
  });
});
