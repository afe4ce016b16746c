/**
 * The whole chain, end to end: an org Rego rule change in the policy repo changes what a RUNNING gVisor sandbox can
 * reach, without restarting it (policy watcher -> recompile -> effective egress -> egress layer re-renders Squid and
 * DNS). The origin listens on the host's loopback only; `allowed.test` and `other.test` resolve to it through the
 * daemon's static DNS records.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';

const run = requireHost(sandboxHostSupport(), 'policy-egress');

describe.skipIf(!run)('an org Rego change reaches a running sandbox', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let repo: string;
  const name = 'poleg';

  const orgEgress = (domains: string[]) =>
    [
      'package aibox.org.egress',
      '',
      'import rego.v1',
      '',
      `allow_domains := {${domains.map((d) => JSON.stringify(d)).join(', ')}}`,
      '',
      `allow_ports := {${origin.port}}`,
      '',
    ].join('\n');

  const curl = (host: string) =>
    daemon.exec(name, ['curl', '-sS', '-i', '--max-time', '5', `http://${host}:${origin.port}/`]);

  const REFUSED = /403|NXDOMAIN|Could not resolve|EGRESS_/;
  const untilReach = async (host: string, reachable: boolean) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const r = await curl(host);
      const ok = r.stdout.includes('origin loopback');
      // Unreachable means refused by the policy, not a connection dropped while Squid reloads its configuration.
      if (ok === reachable && (reachable || REFUSED.test(r.stdout))) return r;
      if (Date.now() > end)
        throw new Error(`${host} still ${ok ? 'reachable' : 'unreachable'}: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-policy-egress-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test', 'other.test']));
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    daemon = await startTestDaemon({
      name: 'poleg',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: { 'allowed.test': '127.0.0.1', 'other.test': '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port: origin.port }],
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: await makeProject('poleg'), name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('reaches both org-allowed names at first', async () => {
    await untilReach('allowed.test', true);
    await untilReach('other.test', true);
  });

  it('loses other.test when the org rule drops it, and gets it back when the rule returns, without a restart', async () => {
    const before = await daemon.api<{ id: string; createdAt: string; containerId: string }>(
      'GET',
      `/v1/sandboxes/${name}`,
    );
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test']));
    const denied = await untilReach('other.test', false);
    expect(denied.stdout).toMatch(REFUSED);
    await untilReach('allowed.test', true);
    const explained = await daemon.api<{
      outcome: string;
      layers: { layer: string; rules: { at?: string }[] }[];
    }>('POST', '/v1/policy/decide', {
      door: 'egress',
      sandbox: name,
      request: { host: 'other.test', port: origin.port },
    });
    expect(explained.body.outcome).toBe('deny');
    expect(explained.body.layers[0]!.rules[0]!.at).toBe('org/egress.rego:5');

    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test', 'other.test']));
    await untilReach('other.test', true);
    const after = await daemon.api<{ id: string; containerId: string }>('GET', `/v1/sandboxes/${name}`);
    expect(after.body.containerId).toBe(before.body.containerId);
  });
});
