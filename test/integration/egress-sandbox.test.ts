/**
 * Egress from inside real gVisor sandboxes run by a real aiboxd (rootless Podman, slirp4netns: the host's loopback
 * is 10.0.2.2 inside). Test servers listen on the host's loopback only: an origin (HTTP), and dnsmasq standing for
 * "another DNS server". The policy repo is the shipped one with an org egress baseline that allows the test names.
 */
import { cp, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/egress/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startDnsmasq, startOrigin, type Dnsmasq, type Origin } from '../egress/support/servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = requireHost(sandboxHostSupport(), 'egress-sandbox');

describe.skipIf(!run)('egress seen from inside a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let otherDns: Dnsmasq;
  let policyRepo: string;
  let projectA: string;
  let projectB: string;

  const inA = (cmd: string[]) => daemon.exec('egress-a', cmd);
  const inB = (cmd: string[]) => daemon.exec('egress-b', cmd);
  const curl = (
    box: (c: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>,
    args: string[],
  ) => box(['curl', '-sS', '--max-time', '5', ...args]);
  const projectPolicy = (hosts: string[]) =>
    `network:\n  allow:\n${hosts.map((h) => `    - ${h}\n`).join('')}`;

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    otherDns = await startDnsmasq(['127.0.0.1'], await freePort('127.0.0.1'), {
      'allowed.test': '127.0.0.1',
    });
    // The shipped policy repo, with an org egress baseline that lists the test names and the origin's port.
    policyRepo = await mkdtemp(path.join(tmpdir(), 'aibox-egress-policies-'));
    await cp(path.join(ROOT, 'policies'), policyRepo, { recursive: true });
    await rm(path.join(policyRepo, 'org', 'egress_test.rego'), { force: true });
    for (const team of ['frontend', 'platform'])
      await rm(path.join(policyRepo, 'teams', team, 'egress.rego'), { force: true });
    await writeFile(
      path.join(policyRepo, 'org', 'egress.rego'),
      [
        'package aibox.org.egress',
        'import rego.v1',
        'allow_domains := {"allowed.test", "other.test"}',
        `allow_ports := {${origin.port}}`,
        '',
      ].join('\n'),
    );
    daemon = await startTestDaemon({
      name: 'egress',
      config: {
        policy: { repo: policyRepo },
        egress: {
          dns: { hosts: { 'allowed.test': '127.0.0.1', 'other.test': '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port: origin.port }],
        },
      },
    });
    projectA = await makeProject('egress-a');
    projectB = await makeProject('egress-b');
    await mkdir(path.join(projectA, 'aibox'), { recursive: true });
    await mkdir(path.join(projectB, 'aibox'), { recursive: true });
    await writeFile(path.join(projectA, 'aibox', 'policy.yaml'), projectPolicy(['allowed.test']));
    await writeFile(path.join(projectB, 'aibox', 'policy.yaml'), projectPolicy(['other.test']));
    for (const [name, p] of [
      ['egress-a', projectA],
      ['egress-b', projectB],
    ] as const) {
      const created = await daemon.api('POST', '/v1/sandboxes', { path: p, name });
      if (created.status !== 201) throw new Error(`sandbox ${name}: ${JSON.stringify(created.body)}`);
    }
  });

  afterAll(async () => {
    await daemon?.stop();
    await otherDns?.stop();
    await origin?.close();
    for (const d of [policyRepo, projectA, projectB]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('runs under gVisor with the proxy in its environment', async () => {
    const dmesg = await inA(['dmesg']);
    expect(dmesg.stdout).toContain('gVisor');
    const env = await inA(['printenv', 'HTTP_PROXY']);
    expect(env.stdout.trim()).toMatch(/^http:\/\/10\.0\.2\.2:[0-9]+$/);
  });

  it('resolves an allowed name and gets NXDOMAIN for an unlisted one', async () => {
    const ok = await inA(['dig', '+short', '+time=2', '+tries=1', 'allowed.test']);
    expect(ok.stdout.trim()).toBe('127.0.0.1');
    const nx = await inA(['dig', '+time=2', '+tries=1', 'evil.test', 'TXT']);
    expect(nx.stdout).toContain('status: NXDOMAIN');
  });

  it('reaches an allowed host through the proxy and gets a 403 with a decision id for an unlisted one', async () => {
    const ok = await curl(inA, [`http://allowed.test:${origin.port}/`]);
    expect(ok.stdout).toContain('origin loopback');
    const denied = await curl(inA, ['-i', 'http://evil.test/']);
    expect(denied.stdout).toMatch(/^HTTP\/1\.1 403/);
    expect(denied.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
    const id = /decision: (dec_[0-9a-f]+)/.exec(denied.stdout)?.[1];
    expect(id).toBeDefined();
    let found = await daemon.api('GET', `/v1/egress/decisions/${id}`);
    for (let i = 0; i < 20 && found.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = await daemon.api('GET', `/v1/egress/decisions/${id}`);
    }
    expect(found.body).toMatchObject({
      id,
      verdict: 'deny',
      reason: 'EGRESS_DOMAIN_NOT_ALLOWED',
      layer: 'proxy',
    });
  });

  it('refuses CONNECT to an IP literal and to port 22', async () => {
    // NO_PROXY lists loopback and the host address (gateways are reached directly): force the proxy for the probe.
    // A refused CONNECT on the TLS-inspecting port is answered 200, then the 403 page inside TLS (docs/egress.md).
    const ip = await curl(inA, [
      '--noproxy',
      '',
      '-k',
      '-w',
      '\n%{http_connect} %{http_code}',
      `https://127.0.0.1:${origin.port}/`,
    ]);
    expect(ip.stdout).toContain('EGRESS_IP_LITERAL');
    expect(ip.stdout.trim().endsWith('200 403')).toBe(true);
    const ssh = await curl(inA, ['-k', '-w', '\n%{http_connect} %{http_code}', 'https://allowed.test:22/']);
    expect(ssh.stdout).toMatch(/request refused \(EGRESS_(PORT_OR_METHOD_NOT_ALLOWED|HOST_DESTINATION)\)/);
    expect(ssh.stdout.trim().endsWith('200 403')).toBe(true);
  });

  it('lets nothing out past the proxy: direct TCP, another DNS server, IPv6, unset proxy variables', async () => {
    const direct = await curl(inA, ['--noproxy', '*', `http://10.0.2.2:${origin.port}/`]);
    expect(direct.exitCode).not.toBe(0);
    const unset = await inA([
      'env',
      '-u',
      'HTTP_PROXY',
      '-u',
      'http_proxy',
      'curl',
      '-sS',
      '--max-time',
      '5',
      `http://allowed.test:${origin.port}/`,
    ]);
    expect(unset.stdout).not.toContain('origin');
    const dns = await inA([
      'dig',
      '+time=2',
      '+tries=1',
      '@10.0.2.2',
      '-p',
      String(otherDns.port),
      'allowed.test',
    ]);
    expect(dns.stdout).not.toContain('status: NOERROR');
    const dnsTcp = await inA([
      'dig',
      '+tcp',
      '+time=2',
      '+tries=1',
      '@10.0.2.2',
      '-p',
      String(otherDns.port),
      'allowed.test',
    ]);
    expect(dnsTcp.stdout).not.toContain('status: NOERROR');
    const v6 = await curl(inA, ['--noproxy', '*', '-g', `http://[fd00::2]:${origin.port}/`]);
    expect(v6.exitCode).not.toBe(0);
  });

  it('keeps each sandbox to its own allowlist', async () => {
    const bOwn = await curl(inB, [`http://other.test:${origin.port}/`]);
    expect(bOwn.stdout).toContain('origin loopback');
    const bOther = await curl(inB, ['-i', `http://allowed.test:${origin.port}/`]);
    expect(bOther.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
    const aOther = await curl(inA, ['-i', `http://other.test:${origin.port}/`]);
    expect(aOther.stdout).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
  });

  it('passes its self-test (the probes behind aibox doctor --sandbox)', async () => {
    const r = await daemon.api<{ ok: boolean; checks: { name: string; ok: boolean; detail: string }[] }>(
      'POST',
      '/v1/sandboxes/egress-a/egress/selftest',
      {},
    );
    expect(r.status).toBe(200);
    expect(r.body.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.body.ok).toBe(true);
  });

  it('applies an edit of aibox/policy.yaml to the running sandbox', async () => {
    await writeFile(
      path.join(projectB, 'aibox', 'policy.yaml'),
      projectPolicy(['other.test', 'allowed.test']),
    );
    let body = '';
    for (let i = 0; i < 50 && !body.includes('origin loopback'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      body = (await curl(inB, [`http://allowed.test:${origin.port}/`])).stdout;
    }
    expect(body).toContain('origin loopback');
  });

  it('keeps enforcing across a daemon crash and re-adopts the sandbox', async () => {
    await daemon.crash();
    await daemon.restart();
    const nx = await inA(['dig', '+time=2', '+tries=1', 'evil.test']);
    expect(nx.stdout).toContain('status: NXDOMAIN');
    const ok = await curl(inA, [`http://allowed.test:${origin.port}/`]);
    expect(ok.stdout).toContain('origin loopback');
    const direct = await curl(inA, ['--noproxy', '*', `http://10.0.2.2:${origin.port}/`]);
    expect(direct.exitCode).not.toBe(0);
  });
});
