/**
 * Learn mode from real traffic: `aibox egress learn` on a running gVisor sandbox whose project file narrows egress to
 * allowed.test, GET only. During the run the sandbox's egress is its org ceiling: the agent's very first request to
 * wanted.test succeeds (the org allows it; only the project narrowed it away), and so does a POST to allowed.test
 * (the project's method rule lifted); forbidden.test (not in the org) and a POST to wanted.test (the org's own method
 * rule) stay refused. The CLI prints the proposed aibox/policy.yaml diff with wanted.test and a POST rule for the
 * path used, without forbidden.test; once the run is over both are refused again at once. Refused when the org policy does not allow learning. Origin on the host's
 * loopback only.
 */
import { chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';

const run = requireHost(sandboxHostSupport(), 'egress-learn');

describe.skipIf(!run)('aibox egress learn on a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let repo: string;
  let project: string;
  const name = 'learner';

  const orgEgress = (learning: boolean) =>
    [
      'package aibox.org.egress',
      '',
      'import rego.v1',
      '',
      'allow_domains := {"allowed.test", "wanted.test"}',
      '',
      `allow_ports := {${origin.port}}`,
      '',
      'allow_http := [{"host": "wanted.test", "methods": ["GET"]}]',
      '',
      ...(learning ? ['allow_learning := true', ''] : []),
    ].join('\n');
  const get = async (host: string, p = '/') =>
    (await daemon.exec(name, ['curl', '-sS', '-i', '--max-time', '5', `http://${host}:${origin.port}${p}`]))
      .stdout;
  const post = async (host: string, p: string) =>
    (
      await daemon.exec(name, [
        'curl',
        '-sS',
        '-i',
        '--max-time',
        '5',
        '-X',
        'POST',
        '--data',
        'x',
        `http://${host}:${origin.port}${p}`,
      ])
    ).stdout;

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-learn-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(true));
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    const names = ['allowed.test', 'wanted.test', 'forbidden.test'];
    daemon = await startTestDaemon({
      name: 'learn',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: Object.fromEntries(names.map((n) => [n, '127.0.0.1'])) },
          hostAccess: [{ address: '127.0.0.1', port: origin.port }],
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('learn');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(
      path.join(project, 'aibox/policy.yaml'),
      'network:\n  allow:\n    - allowed.test\n  http:\n    - {host: allowed.test, methods: [GET]}\n',
    );
    const { uid, gid } = await stat(project);
    for (const p of ['aibox', 'aibox/policy.yaml']) await chown(path.join(project, p), uid, gid);
    // The default profile allows learning (profiles/default.yaml egressLearning: true).
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('turns the traffic of a learn run into a proposed aibox/policy.yaml diff', async () => {
    expect(await get('wanted.test')).not.toContain('origin loopback');
    expect(await post('allowed.test', '/submit')).toMatch(/HTTP\/1\.1 403/);
    const cli = daemon.cli(['egress', 'learn', name, '--for', '20s', '--json']);
    const end = Date.now() + 10_000;
    while ((await daemon.api('GET', `/v1/sandboxes/${name}/egress/learn`)).status !== 200) {
      if (Date.now() > end) throw new Error('the learn run did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await get('allowed.test', '/a')).toContain('origin loopback');
    // Permissive but logged: the first request to a host only the project refused goes through, no retry.
    expect(await get('wanted.test', '/pkg/x')).toContain('origin loopback');
    expect(await post('allowed.test', '/submit')).toContain('origin loopback');
    // Never beyond the ceiling: a host the org does not list, a method the org's own rule does not allow.
    expect(await get('forbidden.test')).not.toContain('origin loopback');
    const orgRule = await post('wanted.test', '/up');
    expect(orgRule).toMatch(/HTTP\/1\.1 403/);
    expect(orgRule).toContain('layer org');

    const done = await cli;
    expect(done.exitCode, done.stderr).toBe(0);
    const report = JSON.parse(done.stdout);
    expect(report.state).toBe('done');
    const byHost = Object.fromEntries(report.hosts.map((h: { host: string }) => [h.host, h]));
    expect(byHost['allowed.test']).toMatchObject({ allowedBefore: true, ports: [origin.port] });
    expect(byHost['wanted.test']).toMatchObject({ allowedBefore: false, methods: ['GET', 'POST'] });
    expect(byHost['wanted.test'].paths).toContain('/pkg/x');
    expect(byHost['forbidden.test'].forbiddenBy).toMatch(/^org/);
    expect(report.diff).toContain('+    - wanted.test\n');
    expect(report.diff).not.toContain('forbidden.test');
    expect(report.proposed).toBe(
      [
        'network:',
        '  allow:',
        '    - allowed.test',
        '    - wanted.test',
        '  http:',
        '    - {host: allowed.test, methods: [GET]}',
        '    - {host: allowed.test, methods: [POST], paths: [/submit]}',
        '',
      ].join('\n'),
    );

    // The run is over (its report is written only after the policy is back): refused again at once.
    expect(await get('wanted.test')).not.toContain('origin loopback');
    expect(await post('allowed.test', '/submit')).toMatch(/HTTP\/1\.1 403/);
    expect(await get('allowed.test')).toContain('origin loopback');
  }, 90_000);

  it('is refused when the org policy does not allow learning', async () => {
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(false));
    let answer: { status: number; body: any } = { status: 0, body: {} };
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      answer = await daemon.api('POST', `/v1/sandboxes/${name}/egress/learn`, { seconds: 5 });
      if (answer.status === 403) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect([answer.status, answer.body.error?.code]).toEqual([403, 'LEARN_NOT_ALLOWED']);
  });
});
