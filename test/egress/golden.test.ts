import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildEgressPolicy,
  renderCorefile,
  renderErrorPages,
  renderNftables,
  renderSquidConf,
} from '../../src/egress/index.js';

const GOLDEN = join(import.meta.dirname, 'golden');

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const policy = buildEgressPolicy({
  allow: [
    { host: '*.github.com' },
    { host: 'api.github.com' },
    { host: 'registry.npmjs.org', ports: [443] },
    { host: 'pypi.org', methods: ['GET', 'HEAD'] },
    { host: 'uploads.example.com', methods: ['GET', 'CONNECT'], ports: [8443] },
    { host: 'git.internal', ports: [3000] },
  ],
  tcp: [{ host: 'db.internal', port: 5432 }],
  dnsHosts: { 'git.internal': '127.0.0.1', 'db.internal': '192.0.2.10' },
  hostAccess: [{ address: '127.0.0.1', port: 3000 }],
  upstreamProxy: { url: 'http://proxy.corp.example:3128', noProxy: ['git.internal'] },
  http: [
    {
      layer: 'org',
      at: 'org/egress.rego:7',
      rules: [{ host: '*.github.com', methods: ['GET', 'HEAD'], index: 0 }],
    },
    {
      layer: 'project',
      at: 'aibox/policy.yaml:4',
      rules: [
        { host: 'registry.npmjs.org', methods: ['GET', 'HEAD'], index: 0 },
        { host: 'api.github.com', methods: ['GET'], paths: ['/repos/**', '/user'], index: 1 },
        { host: 'api.github.com', methods: ['POST'], paths: ['/repos/*/*/issues', '/a%2Fb/**'], index: 2 },
      ],
    },
  ],
});

const tls = (dir: string) => ({
  caCert: `${dir}/trust/ca.pem`,
  caKey: `${dir}/tls/ca.key`,
  certDb: `${dir}/tls/certs`,
  certgen: '/usr/lib/squid/security_file_certgen',
  upstreamCaFiles: [] as string[],
});

describe('egress renderers (golden files)', () => {
  it('renders the nftables ruleset', () => {
    golden(
      'ruleset.nft',
      renderNftables({
        sandboxId: 'sbx_0123456789ab',
        hostAddress: '10.0.2.2',
        proxyPort: 31280,
        dnsPort: 31053,
        gateways: [
          { name: 'llm-proxy', address: '10.0.2.2', port: 31400 },
          { name: 'git-gateway', address: '10.0.2.2', port: 31418 },
        ],
        tcp: [{ name: 'db.internal', address: '192.0.2.10', port: 5432 }],
      }),
    );
  });

  it('renders squid.conf', () => {
    golden(
      'squid.conf',
      renderSquidConf({
        sandboxId: 'sbx_0123456789ab',
        policy,
        listen: { address: '127.0.0.1', port: 31280 },
        dnsServer: '127.53.0.1',
        dir: '/var/lib/aibox/egress/sbx_0123456789ab/squid',
        instanceToken: '0badcafe',
        hostNets: ['127.0.0.0/8', '0.0.0.0/8', '169.254.0.0/16', '::1', 'fe80::/10'],
        tls: {
          ...tls('/var/lib/aibox/egress/sbx_0123456789ab'),
          upstreamCaFiles: ['/etc/aibox/corp-ca.pem'],
        },
      }),
    );
  });

  it('renders squid.conf without an upstream proxy and with an empty allowlist', () => {
    golden(
      'squid-empty.conf',
      renderSquidConf({
        sandboxId: 'sbx_empty',
        policy: buildEgressPolicy({}),
        listen: { address: '127.0.0.1', port: 31281 },
        dnsServer: '127.53.0.2',
        dir: '/state/sbx_empty/squid',
        instanceToken: '00000000',
        hostNets: ['127.0.0.0/8'],
        tls: tls('/state/sbx_empty'),
      }),
    );
  });

  it('renders the 403 pages with reason and decision id', () => {
    const pages = renderErrorPages('0badcafe', policy);
    golden('ERR_AIBOX_DOMAIN', pages.ERR_AIBOX_DOMAIN!);
    golden('ERR_AIBOX_HTTP_1', pages.ERR_AIBOX_HTTP_1!);
    // A percent-encoded path in a rule must not become a Squid template code.
    expect(pages.ERR_AIBOX_HTTP_1).toContain('/a%%2Fb/**');
    for (const body of Object.values(pages)) {
      expect(body).toContain('decision: dec_0badcafe@Squid{%master_xaction}');
      expect(body).toMatch(/^reason: /m);
    }
  });

  it('renders the CoreDNS Corefile equivalent of the allowlist', () => {
    golden(
      'Corefile',
      renderCorefile({
        sandboxId: 'sbx_0123456789ab',
        policy,
        listen: { address: '127.0.0.1', port: 31053 },
        upstreams: ['192.0.2.53'],
      }),
    );
  });

  it('refuses to chain Squid to a SOCKS5 upstream it cannot speak', () => {
    expect(() =>
      renderSquidConf({
        sandboxId: 's',
        policy: buildEgressPolicy({ upstreamProxy: { url: 'socks5://proxy.corp.example:1080' } }),
        listen: { address: '127.0.0.1', port: 1 },
        dnsServer: '127.53.0.1',
        dir: '/d',
        instanceToken: 't',
        hostNets: [],
        tls: tls('/d'),
      }),
    ).toThrow(/SOCKS5/);
  });
});

describe('squid.conf: internal destinations (DNS rebinding)', () => {
  const render = (p = policy) =>
    renderSquidConf({
      sandboxId: 'sbx_x',
      policy: p,
      listen: { address: '127.0.0.1', port: 1 },
      dnsServer: '127.53.0.1',
      dir: '/d',
      instanceToken: '00000000',
      hostNets: ['127.0.0.0/8'],
      tls: tls('/d'),
    });
  /** The ACL names whose `dst` list holds `net`. */
  const aclsHolding = (conf: string, net: string) =>
    conf
      .split('\n')
      .filter((l) => l.startsWith('acl ') && l.split(' ')[2] === 'dst' && l.split(' ').includes(net))
      .map((l) => l.split(' ')[1]!);

  it.each(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'])(
    'refuses %s before any allow line',
    (net) => {
      const conf = render();
      const acls = aclsHolding(conf, net);
      expect(acls.length).toBeGreaterThan(0);
      const lines = conf.split('\n');
      const deny = lines.findIndex(
        (l) => l.startsWith('http_access deny ') && acls.some((a) => l.split(' ')[2] === a),
      );
      const firstAllow = lines.findIndex((l) => l.startsWith('http_access allow '));
      expect(deny).toBeGreaterThan(-1);
      expect(deny).toBeLessThan(firstAllow);
      expect(lines[deny]).toMatch(/aibox_why_internal_destination$/);
    },
  );

  it('lets an operator-pinned internal name through (daemon config dns.hosts), nothing else', () => {
    const pinned = buildEgressPolicy({
      allow: [{ host: 'git.corp' }],
      dnsHosts: { 'git.corp': '10.1.2.3' },
    });
    const conf = render(pinned);
    const deny = conf.split('\n').find((l) => l.endsWith('aibox_why_internal_destination'))!;
    expect(deny).toContain('!aibox_pinned_ok');
    expect(conf).toMatch(/^acl aibox_pinned dst 10\.1\.2\.3$/m);
    // The pinned name, at its pinned address: another allowed name resolving there (rebinding) is not let through.
    expect(conf).toMatch(/^acl aibox_pinned_name dstdomain -n git\.corp$/m);
    expect(conf).toMatch(/^acl aibox_pinned_ok all-of aibox_pinned_name aibox_pinned$/m);
  });
});
